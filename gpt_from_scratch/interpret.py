"""Notebook 10: what attention learned, tested by intervention instead of read off attention maps.

An attention map shows where a head looks, not whether the model needs what it finds there. Here a
head is switched off -- its slice of the attention output zeroed before `out_proj` mixes the heads --
and the model is measured again: the loss where the next token names the story's object a second time
("... took the ball"), the loss everywhere else, and whether the model still copies an object that was
swapped in at its first mention. The attention weights are the control: how much a head looks at the
first mention from the positions that do *not* need the object.
"""

from contextlib import contextmanager

import torch

from .checks import check_gpt_model, check_head, check_stories_and_tokenizer
from .stories import WORDS


@contextmanager
def ablate_head(model, layer, head):
    """Inside the `with` block, head `head` of block `layer` adds nothing to the model's output."""
    check_head(model, layer, head)
    att = model.trf_blocks[layer].att
    start, end = head * att.head_dim, (head + 1) * att.head_dim

    def zero_head(module, inputs):
        context = inputs[0].clone()    # (batch, seq, d_out): the heads' outputs side by side
        context[..., start:end] = 0    # this head's head_dim columns
        return (context,)              # out_proj runs on this instead of its input

    handle = att.out_proj.register_forward_pre_hook(zero_head)
    try:
        yield model
    finally:
        handle.remove()  # the model is intact again, even after an error


def object_token_ids(tokenizer):
    """The object words that are one token with their leading space (' ball'): a dict id -> word."""
    ids = {}
    for word in WORDS["obj"]:
        pieces = tokenizer.encode(" " + word)
        if len(pieces) == 1:  # ' kite', ' teddy', ... are two tokens: such stories are left out
            ids[pieces[0]] = word
    return ids


def object_positions(ids, object_ids):
    """(first, targets): the position of a story's first object token, and every position whose next
    token is that object again -- where the model must recall which object the story is about."""
    first = next((i for i, t in enumerate(ids) if t in object_ids), None)
    if first is None:
        return None, []
    return first, [i - 1 for i in range(first + 1, len(ids)) if ids[i] == ids[first]]


def object_stories(stories, tokenizer, context_length=256):
    """For each story whose object is one token: (ids, first, targets), ids ending with <|endoftext|>."""
    check_stories_and_tokenizer(stories, tokenizer)
    object_ids = object_token_ids(tokenizer)
    rows = []
    for story in stories:
        ids = (tokenizer.encode(story) + [tokenizer.eot_id])[:context_length + 1]
        first, targets = object_positions(ids, object_ids)
        if targets:
            rows.append((ids, first, targets))
    if not rows:
        raise ValueError("no story mentions a one-token object twice; use stories of make_stories(...)")
    return rows


def padded_batch(rows, pad_id):
    """inputs, targets (-100 where padded) and the object-target mask, each (n_stories, longest - 1)."""
    length = max(len(ids) for ids, _, _ in rows) - 1
    inputs = torch.full((len(rows), length), pad_id)
    targets = torch.full((len(rows), length), -100)  # cross_entropy skips -100
    is_object = torch.zeros((len(rows), length), dtype=torch.bool)
    for r, (ids, _, positions) in enumerate(rows):
        inputs[r, :len(ids) - 1] = torch.tensor(ids[:-1])
        targets[r, :len(ids) - 1] = torch.tensor(ids[1:])
        is_object[r, positions] = True
    return inputs, targets, is_object


@torch.no_grad()
def object_losses(model, inputs, targets, is_object):
    """(loss at the object targets, loss at every other position): mean cross-entropy, in nats."""
    check_gpt_model(model)
    device = model.tok_emb.weight.device
    logits = model(inputs.to(device)).cpu()                      # (batch, seq, vocab)
    losses = torch.nn.functional.cross_entropy(
        logits.flatten(0, 1), targets.flatten(), reduction="none").view(targets.shape)  # 0 where padded
    other = (targets != -100) & ~is_object
    return losses[is_object].mean().item(), losses[other].mean().item()


def head_ablation_table(model, inputs, targets, is_object):
    """Rows (layer, head, object loss, other loss): first the intact model (None, None), then each head zeroed."""
    rows = [(None, None, *object_losses(model, inputs, targets, is_object))]
    for layer, block in enumerate(model.trf_blocks):
        for head in range(block.att.num_heads):
            with ablate_head(model, layer, head):
                rows.append((layer, head, *object_losses(model, inputs, targets, is_object)))
    return rows


@torch.no_grad()
def substitution_test(model, rows, object_ids, pad_id):
    """Swap each story's first object for another one-token object; at the object's next mention, the
    share of stories where the model's top prediction is the new object, and the share for the old one."""
    check_gpt_model(model)
    others = sorted(object_ids)
    prompts, new, old = [], [], []
    for r, (ids, first, targets) in enumerate(rows):
        choices = [i for i in others if i != ids[first]]
        new.append(choices[r % len(choices)])  # every object in turn: no random draw to seed
        old.append(ids[first])
        prompts.append(ids[:first] + [new[-1]] + ids[first + 1:targets[0] + 1])  # up to the next mention
    batch = torch.full((len(prompts), max(map(len, prompts))), pad_id)
    for r, prompt in enumerate(prompts):
        batch[r, :len(prompt)] = torch.tensor(prompt)
    logits = model(batch.to(model.tok_emb.weight.device)).cpu()                   # (stories, seq, vocab)
    top = logits[torch.arange(len(prompts)), [len(p) - 1 for p in prompts]].argmax(-1)  # at each prompt's end
    return (top == torch.tensor(new)).float().mean().item(), (top == torch.tensor(old)).float().mean().item()


@torch.no_grad()
def attention_to_first_mention(model, rows, pad_id):
    """Mean attention weight, per (layer, head), on the object's first mention: from the object-target
    positions, and (the control) from every other position after it. Two (n_layers, n_heads) tensors."""
    check_gpt_model(model)
    inputs, _, is_object = padded_batch(rows, pad_id)
    firsts = torch.tensor([first for _, first, _ in rows]).view(-1, 1, 1, 1)
    columns = []  # per block: the weights on each story's first mention, (batch, n_heads, seq)

    def keep_first_column(att, args):
        weights = att.attention_weights(args[0])                 # (batch, n_heads, seq, seq)
        index = firsts.to(weights.device).expand(*weights.shape[:3], 1)
        columns.append(weights.gather(-1, index).squeeze(-1).cpu())

    hooks = [block.att.register_forward_pre_hook(keep_first_column) for block in model.trf_blocks]
    try:
        model(inputs.to(model.tok_emb.weight.device))
    finally:
        for hook in hooks:
            hook.remove()
    on_first = torch.stack(columns, 1)  # (batch, n_layers, n_heads, seq)
    to_object, control = [], []
    for r, (ids, first, _) in enumerate(rows):
        after = torch.zeros(inputs.shape[1], dtype=torch.bool)
        after[first + 1:len(ids) - 1] = True  # the positions that can see the first mention
        to_object.append(on_first[r][:, :, is_object[r]])
        control.append(on_first[r][:, :, after & ~is_object[r]])
    return torch.cat(to_object, -1).mean(-1), torch.cat(control, -1).mean(-1)
