"""Notebook 10: training a GPTModel -- the tokenizer, the data loader, the loss and the training loop.

The objective is next-token prediction: at every position of a window of tokens the model predicts
the token that follows, and the loss is the cross-entropy of those predictions, averaged over every
position of every window of the batch. The targets are the inputs shifted one position to the left.
"""

import math
import re

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm  # a progress bar: a widget in Jupyter, text in a terminal

from .checks import (
    as_token_id_list,
    book_arguments,
    check_batch,
    check_checkpoint_args,
    check_checkpoint_fits,
    check_dataloader_args,
    check_finite_loss,
    check_gpt2_ids,
    check_loss_loader_args,
    check_text,
    check_training_args,
    check_window_args,
    read_checkpoint,
)
from .tokenizer import END_OF_TEXT, END_OF_TEXT_ID, get_tokenizer


class StoryTokenizer:
    """GPT-2's tokenizer with the vocabulary cut down to the token ids a corpus uses.

    Text is split into GPT-2 tokens as usual; each GPT-2 id is then renumbered 0, 1, 2, ... in the
    order of `gpt2_ids`. A smaller vocabulary means a smaller embedding and output head (notebook 08).
    """

    def __init__(self, gpt2_ids):
        check_gpt2_ids(gpt2_ids)  # ints in [0, 50257): no floats (262.7) or bools taken as ids
        self.gpt2_ids = sorted(set(int(i) for i in gpt2_ids) | {END_OF_TEXT_ID})
        self.to_local = {g: i for i, g in enumerate(self.gpt2_ids)}
        self.n_vocab = len(self.gpt2_ids)
        self.eot_id = self.to_local[END_OF_TEXT_ID]  # ends every story
        self.gpt2 = get_tokenizer()

    @classmethod
    def from_texts(cls, texts):
        """The tokenizer for exactly the GPT-2 tokens that occur in `texts` (plus <|endoftext|>)."""
        used = set()
        for ids in get_tokenizer().encode_ordinary_batch(list(texts)):
            used.update(ids)
        return cls(used)

    def encode(self, text, allowed_special=frozenset({END_OF_TEXT})):
        """Text -> list of ids of this vocabulary; a ValueError names any word it does not know.

        GPT-2's tokens carry the space before a word (' Tom'), and inside a story every word but the
        first has one. A text the vocabulary cannot spell as typed is therefore read once more without
        spaces around it, then with one leading space ("Tom was very" as " Tom was very"); only if that
        fails too is it refused.
        """
        check_text(text)
        for candidate in (text, text.strip(), " " + text.strip()):
            gpt2_ids = self.gpt2.encode(candidate, allowed_special=allowed_special)
            if all(i in self.to_local for i in gpt2_ids):
                return [self.to_local[i] for i in gpt2_ids]
        raise ValueError(self.unknown_message(text))

    def decode(self, ids):
        """Ids of this vocabulary (a list, or a 1-D integer tensor) -> text."""
        ids = as_token_id_list(ids, "ids", self.n_vocab)
        return self.gpt2.decode([self.gpt2_ids[i] for i in ids])

    def known_words(self):
        """Every word this vocabulary holds as one token (with or without its leading space), sorted."""
        pieces = (self.gpt2.decode([g]) for g in self.gpt2_ids if g != END_OF_TEXT_ID)
        return sorted({p.strip() for p in pieces if p.strip().isalpha() and (p.startswith(" ") or p[0].isupper())})

    def unknown_message(self, text):
        """What in `text` this vocabulary cannot read, each word named once, and which words it knows."""
        words = list(dict.fromkeys(re.findall(r"[A-Za-z']+|[^\sA-Za-z']+", text.strip())))
        unknown = [w for w in words if not any(
            all(i in self.to_local for i in self.gpt2.encode(form, allowed_special="all")) for form in (" " + w, w))]
        shown = ", ".join(repr(w) for w in unknown[:8]) + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else "")
        what = f"{shown} {'is' if len(unknown) == 1 else 'are'} not" if unknown else f"{text!r} cannot be spelled"
        starts = [self.gpt2.decode([g]) for g in self.gpt2_ids]  # no leading space: a story or a quote opens with it
        openings = list(dict.fromkeys([p for p in starts if p.isalpha() and p[0].isupper()]
                                      + [w for w in self.known_words() if w[0].isupper()]))[:12]
        return (f"{what} in this tokenizer's {self.n_vocab}-token vocabulary, made of the words of the training "
                f"stories only. A text can start with e.g. {', '.join(openings)}; "
                f"tokenizer.known_words() lists all {len(self.known_words())} words it knows")


def encode_stories(stories, tokenizer):
    """One long list of token ids: the stories in order, each followed by <|endoftext|>."""
    ids = []
    for story in stories:
        ids.extend(tokenizer.encode(story))
        ids.append(tokenizer.eot_id)
    return ids


class GPTDataset(Dataset):
    """Windows of `max_length` tokens, one every `stride` tokens; each target is its input shifted by one.

    `starts`, if given, replaces the regular grid: one window begins at each of these positions
    (for example at the first token of every story), if a whole window fits there.
    """

    def __init__(self, token_ids, max_length, stride, starts=None):
        check_window_args(token_ids, max_length, stride, starts)  # int ids: 452.7 is refused, not cut to 452
        token_ids = torch.as_tensor(token_ids, dtype=torch.long)
        if token_ids.dim() != 1 or len(token_ids) < max_length + 1:
            raise ValueError(f"need at least max_length + 1 = {max_length + 1} tokens to make one window, "
                             f"got {len(token_ids)}; use more text or a shorter max_length")
        last = len(token_ids) - max_length - 1  # the last position where a whole window (+1 target) fits
        self.token_ids = token_ids
        self.max_length = max_length
        self.starts = range(0, last + 1, stride) if starts is None else [s for s in starts if 0 <= s <= last]

    def __len__(self):
        return len(self.starts)

    def __getitem__(self, i):
        start = self.starts[i]
        window = self.token_ids[start:start + self.max_length + 1]
        return window[:-1], window[1:]  # input, target: the next token at every position


def story_starts(token_ids, eot_id):
    """The position of the first token of every story: 0, and each position right after <|endoftext|>."""
    return [0] + [i + 1 for i, t in enumerate(token_ids) if t == eot_id]


def create_dataloader(token_ids, batch_size, max_length, stride, shuffle=True, drop_last=True, seed=123,
                      starts=None):
    """A DataLoader of (input, target) batches, each (batch_size, max_length); shuffled reproducibly."""
    check_dataloader_args(batch_size, shuffle, drop_last, seed)
    dataset = GPTDataset(token_ids, max_length, stride, starts)
    if drop_last and len(dataset) < batch_size:
        raise ValueError(f"only {len(dataset)} windows, fewer than batch_size={batch_size}; "
                         "use a smaller batch_size or drop_last=False")
    generator = torch.Generator().manual_seed(seed)  # the same order of windows on every run
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator)


def calc_loss_batch(input_batch, target_batch, model, device):
    """Mean cross-entropy of the model's next-token predictions over every position of the batch."""
    check_batch(input_batch, target_batch, model)
    input_batch, target_batch = input_batch.to(device), target_batch.to(device)
    logits = model(input_batch)                          # (batch, seq, vocab_size)
    return torch.nn.functional.cross_entropy(
        logits.flatten(0, 1),                            # (batch * seq, vocab_size)
        target_batch.flatten(),                          # (batch * seq,)
    )


def calc_loss_loader(data_loader, model, device, num_batches=None):
    """Average of calc_loss_batch over the first `num_batches` batches (default: all of them)."""
    check_loss_loader_args(data_loader, model, num_batches)  # non-empty loader, num_batches None or >= 1
    num_batches = len(data_loader) if num_batches is None else min(num_batches, len(data_loader))
    total = 0.0
    for i, (input_batch, target_batch) in enumerate(data_loader):
        if i == num_batches:
            break
        total += calc_loss_batch(input_batch, target_batch, model, device).item()
    return total / num_batches


def evaluate_model(model, train_loader, val_loader, device, eval_iter):
    """Train and validation loss over `eval_iter` batches each, in eval mode and without gradients."""
    model.eval()
    with torch.no_grad():
        train_loss = calc_loss_loader(train_loader, model, device, num_batches=eval_iter)
        val_loss = calc_loss_loader(val_loader, model, device, num_batches=eval_iter)
    model.train()
    return train_loss, val_loss


@book_arguments(num_epochs="give num_steps, the number of optimizer steps (one batch each)",
                start_context="print a sample in on_eval(step, train_loss, val_loss) instead",
                tokenizer="print a sample in on_eval(step, train_loss, val_loss) instead")
def train_model_simple(model, train_loader, val_loader, optimizer, device, num_steps, eval_freq, eval_iter,
                       scheduler=None, on_eval=None, progress=True, max_grad_norm=None):
    """Train for `num_steps` optimizer steps; at step 0 and every `eval_freq` steps record both losses.

    Returns a dict of lists: steps, train_losses, val_losses, tokens_seen (at each evaluation).
    `on_eval(step, train_loss, val_loss)` is called after each evaluation (e.g. to print a sample).
    `max_grad_norm`, if given, rescales the gradient before each step so that its norm is at most that.
    A NaN or infinite loss stops training with a ValueError naming the step. However the loop ends
    (finished, an error, or Ctrl-C), the model is left in eval mode with no gradients.
    """
    check_training_args(model, train_loader, val_loader, optimizer, num_steps, eval_freq, eval_iter,
                        scheduler, on_eval, progress, max_grad_norm)
    history = {"steps": [], "train_losses": [], "val_losses": [], "tokens_seen": []}
    step, tokens_seen = 0, 0

    def record():
        train_loss, val_loss = evaluate_model(model, train_loader, val_loader, device, eval_iter)
        check_finite_loss(val_loss, step)
        for key, value in zip(history, (step, train_loss, val_loss, tokens_seen)):
            history[key].append(value)
        bar.set_postfix(train=f"{train_loss:.3f}", val=f"{val_loss:.3f}")
        if on_eval is not None:
            on_eval(step, train_loss, val_loss)

    bar = tqdm(total=num_steps, desc="training", unit="step", disable=not progress)
    try:
        record()  # step 0: the untrained model's loss, where every curve starts
        model.train()
        while step < num_steps:  # each round is one pass over the training windows (an epoch)
            for input_batch, target_batch in train_loader:
                optimizer.zero_grad()
                loss = calc_loss_batch(input_batch, target_batch, model, device)
                check_finite_loss(loss, step + 1)  # stop at the first NaN, not with NaN weights at the end
                loss.backward()    # the gradient of the loss for every parameter
                if max_grad_norm is not None:  # one unlucky batch cannot throw the weights far
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                optimizer.step()   # move every parameter a little against its gradient
                if scheduler is not None:
                    scheduler.step()
                step, tokens_seen = step + 1, tokens_seen + input_batch.numel()
                bar.update(1)
                if step % eval_freq == 0 or step == num_steps:
                    record()
                if step == num_steps:
                    break
    finally:  # also after an error or Ctrl-C: no dropout and no stale gradients in what comes next
        bar.close()
        model.eval()
        model.zero_grad(set_to_none=True)
    return history


def cosine_schedule(optimizer, num_steps, warmup_steps):
    """Learning rate: a linear warm-up, then a cosine decay to a tenth of its peak at the last step."""
    def factor(step):
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, num_steps - warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def save_checkpoint(path, model, optimizer, step, scheduler=None):
    """Save what resuming training needs: the weights, the optimizer's state (AdamW's running averages
    of each gradient and its square), the step, and the learning-rate schedule's position if given."""
    check_checkpoint_args(path, model, optimizer, scheduler, step)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "scheduler": None if scheduler is None else scheduler.state_dict()}, path)


def load_checkpoint(path, model, optimizer=None, scheduler=None):
    """Put a save_checkpoint file back into `model` (and `optimizer`, `scheduler`, if given); returns the step.

    The file is read with weights_only=True: tensors, numbers and plain containers only, so it cannot
    run code. A model of another shape, a missing file or a file of another kind is a clear error.
    """
    check_checkpoint_args(path, model, optimizer, scheduler)
    checkpoint = read_checkpoint(path)
    check_checkpoint_fits(checkpoint, path, model, optimizer, scheduler)
    model.load_state_dict(checkpoint["model"])
    if optimizer is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(checkpoint["scheduler"])
    return checkpoint["step"]
