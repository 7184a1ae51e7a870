"""Head ablation on the shipped story model: the hook, the object positions, the substitution test."""

import pytest
import torch

from gpt_from_scratch import GPTModel, load_trained_gpt
from gpt_from_scratch.interpret import (
    ablate_head, attention_to_first_mention, head_ablation_table, object_losses, object_positions, object_stories,
    object_token_ids, padded_batch, substitution_test)
from gpt_from_scratch.stories import WORDS, make_stories


@pytest.fixture(scope="module")
def trained():
    model, tokenizer = load_trained_gpt()
    stories = [s for s in make_stories(40, seed=2024) if _known(tokenizer, s)][:6]
    rows = object_stories(stories, tokenizer)
    return model, tokenizer, rows, padded_batch(rows, tokenizer.eot_id)


def _known(tokenizer, story):
    try:  # a model trained before "an old town" has no ' an'
        tokenizer.encode(story)
        return True
    except ValueError:
        return False


def _with_slice_zeroed(model, x, layer, head):
    """The same model run by hand: block `layer`'s attention computed head by head, one head left out."""
    h = model.drop_emb(model.tok_emb(x) + model.pos_emb(torch.arange(x.shape[1])))
    for i, block in enumerate(model.trf_blocks):
        if i == layer:
            att, normed = block.att, block.norm1(h)
            weights = att.attention_weights(normed)                          # (batch, heads, seq, seq)
            context = weights @ att.split_heads(att.W_value(normed))         # (batch, heads, seq, head_dim)
            context[:, head] = 0
            h = h + att.out_proj(context.transpose(1, 2).flatten(2))
            h = h + block.ff(block.norm2(h))
        else:
            h = block(h)
    return model.out_head(model.final_norm(h))


def test_ablate_head_zeroes_exactly_one_head_and_cleans_up(trained):
    model, _, _, (inputs, _, _) = trained
    x = inputs[:2, :40]
    with torch.no_grad():
        intact = model(x)
        with ablate_head(model, 3, 1):
            ablated = model(x)
        expected = _with_slice_zeroed(model, x, 3, 1)
        assert torch.allclose(ablated, expected, atol=1e-4)
        assert not torch.allclose(ablated, intact, atol=1e-2)
        assert torch.equal(model(x), intact)  # the hook is gone
        with pytest.raises(RuntimeError, match="inside"):
            with ablate_head(model, 0, 0):
                raise RuntimeError("inside")
        assert torch.equal(model(x), intact)  # gone after an error too
    assert all(not b.att.out_proj._forward_pre_hooks for b in model.trf_blocks)


def test_object_positions_are_the_tokens_before_each_repeat():
    object_ids = {7: "ball", 9: "kite"}
    #        0  1  2  3  4  5  6  7  8
    ids = [1, 2, 7, 3, 4, 7, 5, 7, 9]
    assert object_positions(ids, object_ids) == (2, [4, 6])
    assert object_positions([1, 2, 3], object_ids) == (None, [])


def test_object_tokens_and_rows_match_the_text(trained):
    _, tokenizer, rows, (inputs, targets, is_object) = trained
    object_ids = object_token_ids(tokenizer)
    assert len(object_ids) >= 30 and set(object_ids.values()) <= set(WORDS["obj"])
    for ids, first, positions in rows:
        word = object_ids[ids[first]]
        assert tokenizer.decode(ids[:first + 1]).endswith(" " + word)
        assert ids[first] not in ids[:first]
        assert positions == sorted(i - 1 for i in range(first + 1, len(ids)) if ids[i] == ids[first])
        assert ids[-1] == tokenizer.eot_id
    assert int(is_object.sum()) == sum(len(p) for _, _, p in rows)
    assert torch.equal(targets[is_object], torch.tensor([rows[r][0][rows[r][2][0] + 1] for r in range(len(rows))
                                                         for _ in rows[r][2]]))


def test_object_losses_average_the_right_positions(trained):
    model, _, _, (inputs, targets, is_object) = trained
    obj, other = object_losses(model, inputs, targets, is_object)
    with torch.no_grad():  # one story at a time, no padding
        log_probs = torch.log_softmax(model(inputs), -1)
    nll = -log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    valid = targets != -100
    assert obj == pytest.approx(nll[is_object].mean().item(), rel=1e-5)
    assert other == pytest.approx(nll[valid & ~is_object].mean().item(), rel=1e-5)


def test_the_table_has_every_head_and_the_intact_model_first(trained):
    model, _, _, batch = trained
    batch = [t[:3, :100] for t in batch]  # 17 forward passes: a small batch
    assert batch[2].any()
    table = head_ablation_table(model, *batch)
    assert [(layer, head) for layer, head, _, _ in table] == [(None, None)] + [(l, h) for l in range(4)
                                                                              for h in range(4)]
    assert table[0][2:] == object_losses(model, *batch)
    assert all(obj > 0 and other > 0 for _, _, obj, other in table)


def test_substitution_follows_the_swapped_object(trained):
    model, tokenizer, rows, _ = trained
    object_ids = object_token_ids(tokenizer)
    new, old = substitution_test(model, rows, object_ids, tokenizer.eot_id)
    assert 0 <= old <= 1 and 0 <= new <= 1 and new + old <= 1
    # Done by hand for the first story: swap, cut at the next mention, read the top prediction.
    ids, first, targets = rows[0]
    swapped = list(ids[:targets[0] + 1])
    swapped[first] = [i for i in sorted(object_ids) if i != ids[first]][0]
    with torch.no_grad():
        top = model(torch.tensor([swapped]))[0, -1].argmax().item()
    alone, _ = substitution_test(model, rows[:1], object_ids, tokenizer.eot_id)
    assert alone == float(top == swapped[first])


def test_attention_control_uses_the_right_positions(trained):
    model, tokenizer, rows, _ = trained
    to_object, control = attention_to_first_mention(model, rows[:2], tokenizer.eot_id)
    assert to_object.shape == control.shape == (4, 4)
    # By hand from the model's own attention weights of each block, one story at a time.
    sums, counts = torch.zeros(2, 4, 4), torch.zeros(2)
    for ids, first, targets in rows[:2]:
        x = torch.tensor([ids[:-1]])
        h = model.drop_emb(model.tok_emb(x) + model.pos_emb(torch.arange(x.shape[1])))
        with torch.no_grad():
            for layer, block in enumerate(model.trf_blocks):
                w = block.att.attention_weights(block.norm1(h))[0, :, :, first]   # (heads, seq)
                others = [p for p in range(first + 1, len(ids) - 1) if p not in targets]
                sums[0, layer] += w[:, targets].sum(-1)
                sums[1, layer] += w[:, others].sum(-1)
                h = block(h)
        counts += torch.tensor([len(targets), len(others)])
    assert torch.allclose(to_object, sums[0] / counts[0], atol=1e-5)
    assert torch.allclose(control, sums[1] / counts[1], atol=1e-5)


@pytest.mark.parametrize("layer,head,error,match", [
    (4, 0, ValueError, "layer must be in 0..3: the model has n_layers = 4; got 4"),
    (0, 4, ValueError, "head must be in 0..3: the model has n_heads = 4; got 4"),
    (-1, 0, ValueError, "layer must be >= 0"),
    (0, 1.0, TypeError, "head must be an int"),
    ("3", 0, TypeError, "layer must be an int"),
])
def test_ablate_head_bad_indices(trained, layer, head, error, match):
    with pytest.raises(error, match=match):
        with ablate_head(trained[0], layer, head):
            pass


def test_bad_models_and_stories(trained):
    model, tokenizer, rows, batch = trained
    with pytest.raises(TypeError, match="model must be a GPTModel"):
        with ablate_head(torch.nn.Linear(2, 2), 0, 0):
            pass
    with pytest.raises(TypeError, match="model must be a GPTModel"):
        object_losses("model", *batch)
    with pytest.raises(TypeError, match="stories must be a non-empty list of str"):
        object_stories("Once upon a time", tokenizer)
    with pytest.raises(TypeError, match="tokenizer must be a StoryTokenizer"):
        object_stories(["Once upon a time."], "gpt2")
    with pytest.raises(ValueError, match="no story mentions a one-token object twice"):
        object_stories(["Once upon a time, there was a little girl named Lily."], tokenizer)
    tiny = GPTModel({"vocab_size": 10, "context_length": 8, "emb_dim": 8, "n_heads": 2, "n_layers": 1,
                     "drop_rate": 0.0, "qkv_bias": False})
    with pytest.raises(ValueError, match="layer must be in 0..0: the model has n_layers = 1"):
        with ablate_head(tiny, 1, 0):
            pass
