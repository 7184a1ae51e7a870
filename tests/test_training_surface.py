"""Issue 21: the training surface answers bad input clearly -- stories, the training loop, the shipped
model's file, write_stories, saving, memory bounds, the book's calls and top-p's precision.

One test (or one parametrized test) per class of the issue; tests/test_exercises.py covers the
checkers and tests/test_property_based.py throws random inputs at the same functions.
"""

import json
import math
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from gpt_from_scratch import GPTModel, KVCache, generate, set_seed, top_p_filter, validate_config
from gpt_from_scratch.pretrained import load_gpt2, save_gpt2_checkpoint
from gpt_from_scratch.stories import check_story, grammar_report, make_stories
from gpt_from_scratch.train import (
    GPTDataset,
    StoryTokenizer,
    calc_loss_batch,
    calc_loss_loader,
    create_dataloader,
    train_model_simple,
)
from gpt_from_scratch.trained import TRAINED_MODEL_FILE, load_trained_gpt, trained_model_metadata, write_stories


@pytest.fixture(scope="module")
def corpus():
    stories = make_stories(30, seed=5)
    tokenizer = StoryTokenizer.from_texts(stories)
    ids = [i for s in stories for i in tokenizer.encode(s) + [tokenizer.eot_id]]
    return stories, tokenizer, ids


@pytest.fixture
def small(corpus):
    """A small GPTModel over the corpus's vocabulary with dropout, its loaders and an optimizer."""
    _, tokenizer, ids = corpus
    cfg = {"vocab_size": tokenizer.n_vocab, "context_length": 16, "emb_dim": 16, "n_heads": 2, "n_layers": 1,
           "drop_rate": 0.5, "qkv_bias": False}
    torch.manual_seed(0)
    model = GPTModel(cfg)
    train = create_dataloader(ids[:2000], batch_size=4, max_length=16, stride=16)
    val = create_dataloader(ids[2000:], batch_size=4, max_length=16, stride=16, shuffle=False)
    return model, train, val, torch.optim.AdamW(model.parameters(), lr=1e-3)


@pytest.fixture(scope="module")
def shipped():
    return load_trained_gpt()


# ----------------------------------------------------------------------------- aggregates that misread their input


def test_grammar_report_wants_a_list_of_stories():
    story = make_stories(1, seed=3)[0]
    with pytest.raises(TypeError, match=r"grammar_report\(\[story\]\)"):
        grammar_report(story)  # a str would be counted character by character
    with pytest.raises(ValueError, match="empty"):
        grammar_report([])
    with pytest.raises(TypeError, match="one story"):
        check_story([story])
    report = grammar_report([""])
    assert report.consistent == 0 and report.n_stories == 1  # an empty story is not a consistent one
    assert grammar_report([story]).consistent == 1


@pytest.mark.parametrize("num_batches,error", [(-1, ValueError), (0, ValueError), (2.5, TypeError), ("2", TypeError),
                                               (True, TypeError)])
def test_calc_loss_loader_refuses_a_number_of_batches_that_is_not_a_count(small, num_batches, error):
    model, _, val, _ = small
    with pytest.raises(error, match="num_batches"):
        calc_loss_loader(val, model, "cpu", num_batches=num_batches)


def test_calc_loss_loader_is_the_mean_of_the_batches(small):
    model, _, val, _ = small
    model.eval()
    with torch.no_grad():
        losses = [calc_loss_batch(x, y, model, "cpu").item() for x, y in val]
        assert calc_loss_loader(val, model, "cpu", num_batches=2) == pytest.approx(sum(losses[:2]) / 2)
        assert calc_loss_loader(val, model, "cpu", num_batches=10**6) == pytest.approx(sum(losses) / len(losses))


# ----------------------------------------------------------------------------- training that fails or never ends


def test_a_learning_rate_that_is_nan_is_refused_before_training(small):
    model, train, val, optimizer = small
    for group in optimizer.param_groups:
        group["lr"] = float("nan")
    with pytest.raises(ValueError, match="learning rate"):
        train_model_simple(model, train, val, optimizer, "cpu", num_steps=3, eval_freq=1, eval_iter=1, progress=False)


def test_a_diverging_run_stops_at_the_first_non_finite_loss_and_names_the_step(small):
    model, train, val, _ = small
    optimizer = torch.optim.SGD(model.parameters(), lr=1e30)
    with pytest.raises(ValueError, match=r"the loss is (nan|inf) at step \d+"):
        train_model_simple(model, train, val, optimizer, "cpu", num_steps=50, eval_freq=100, eval_iter=1,
                           progress=False)
    assert not model.training


def test_an_empty_training_loader_is_refused_at_once(small, corpus):
    model, _, val, optimizer = small
    empty = create_dataloader(corpus[2][:40], batch_size=1, max_length=16, stride=16)
    empty.dataset.starts = []  # a dataset with no window: the loop would wait forever for a step
    with pytest.raises(ValueError, match="train_loader is empty"):
        train_model_simple(model, empty, val, optimizer, "cpu", num_steps=3, eval_freq=1, eval_iter=1, progress=False)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, RuntimeError])
def test_the_model_is_left_in_eval_mode_without_gradients_however_training_ends(small, interrupt):
    model, train, val, optimizer = small

    def stop(step, train_loss, val_loss):
        if step == 2:
            raise interrupt("stopped")

    with pytest.raises(interrupt):
        train_model_simple(model, train, val, optimizer, "cpu", num_steps=5, eval_freq=2, eval_iter=1,
                           on_eval=stop, progress=False)
    assert not model.training  # greedy generation is deterministic again (dropout is 0.5 here)
    assert all(p.grad is None for p in model.parameters())


def test_an_optimizer_of_another_model_is_refused(small):
    model, train, val, _ = small
    other = GPTModel({**validate_config_dict(model)})
    with pytest.raises(ValueError, match="not this model's"):
        train_model_simple(model, train, val, torch.optim.AdamW(other.parameters()), "cpu", num_steps=1,
                           eval_freq=1, eval_iter=1, progress=False)
    with pytest.raises(TypeError, match="torch.optim.Optimizer"):
        train_model_simple(model, train, val, "adam", "cpu", num_steps=1, eval_freq=1, eval_iter=1)


def validate_config_dict(model):
    return {"vocab_size": model.tok_emb.num_embeddings, "context_length": model.pos_emb.num_embeddings,
            "emb_dim": model.tok_emb.embedding_dim, "n_heads": model.trf_blocks[0].att.num_heads,
            "n_layers": len(model.trf_blocks), "drop_rate": 0.0, "qkv_bias": False}


def test_training_still_trains(small):
    model, train, val, optimizer = small
    history = train_model_simple(model, train, val, optimizer, "cpu", num_steps=20, eval_freq=10, eval_iter=2,
                                 progress=False)
    assert history["steps"] == [0, 10, 20] and history["val_losses"][-1] < history["val_losses"][0]


# ----------------------------------------------------------------------------- loose types


@pytest.mark.parametrize("ids", [[452.7, 3.0], [True, False], ["1"], np.array([1.5, 2.5]), torch.tensor([1.0, 2.0])])
def test_token_ids_must_be_ints(ids):
    with pytest.raises(TypeError, match="int"):
        create_dataloader(list(ids) * 20 if isinstance(ids, list) else ids.repeat(20) if isinstance(
            ids, torch.Tensor) else np.tile(ids, 20), batch_size=1, max_length=4, stride=4)
    with pytest.raises(TypeError, match="int"):
        StoryTokenizer(ids)


def test_story_tokenizer_ids_must_be_gpt2_ids():
    with pytest.raises(ValueError, match=r"outside the vocabulary \[0, 50257\)"):
        StoryTokenizer([262, 60000])
    assert StoryTokenizer(torch.tensor([262, 11])).n_vocab == 3  # an integer tensor is fine (+ <|endoftext|>)


@pytest.mark.parametrize("kwargs,words", [({"shuffle": "no"}, "shuffle"), ({"drop_last": 1}, "drop_last"),
                                          ({"seed": -1}, "seed"), ({"seed": 2**64}, "seed"),
                                          ({"starts": [0.5]}, "starts")])
def test_dataloader_flags_must_be_what_they_say(kwargs, words):
    with pytest.raises((TypeError, ValueError), match=words):
        create_dataloader(list(range(100)), batch_size=2, max_length=4, stride=4, **kwargs)


def test_progress_must_be_a_boolean(small):
    model, train, val, optimizer = small
    with pytest.raises(TypeError, match="progress"):
        train_model_simple(model, train, val, optimizer, "cpu", num_steps=1, eval_freq=1, eval_iter=1, progress="no")


def test_targets_that_are_not_token_ids_are_refused(small):
    model, train, _, _ = small
    x, y = next(iter(train))
    with pytest.raises(ValueError, match="-100"):
        calc_loss_batch(x, torch.full_like(y, -100), model, "cpu")  # cross_entropy would give NaN
    with pytest.raises(ValueError, match="target_batch"):
        calc_loss_batch(x, y.float().long()[:, :3], model, "cpu")


@pytest.mark.parametrize("seed", [2**64, -1, 2**70])
def test_seeds_are_not_wrapped_onto_other_seeds(seed):
    with pytest.raises(ValueError, match="seed"):
        make_stories(1, seed=seed)
    with pytest.raises(ValueError, match="seed"):
        set_seed(seed)
    assert make_stories(1, seed=2**64 - 1) != make_stories(1, seed=0)


# ----------------------------------------------------------------------------- write_stories and StoryTokenizer


@pytest.mark.parametrize("kwargs,error,words", [
    ({"n_stories": 0}, ValueError, "n_stories"),
    ({"prompt": ""}, ValueError, "prompt"),
    ({"prompt": "   "}, ValueError, "prompt"),
    ({"prompt": None}, TypeError, "prompt"),
    ({"n_stories": "3"}, TypeError, "n_stories"),
    ({"temperature": "0.5"}, TypeError, "temperature"),
    ({"seed": "x"}, TypeError, "seed"),
    ({"top_k": 0}, ValueError, "top_k"),
    ({"n_stories": 10**5}, ValueError, "GiB"),
])
def test_write_stories_checks_its_arguments_first(shipped, kwargs, error, words):
    model, tokenizer = shipped
    with pytest.raises(error, match=words):
        write_stories(model, tokenizer, **kwargs)


def test_write_stories_refuses_gpt2s_own_tokenizer(shipped):
    from gpt_from_scratch import get_tokenizer

    with pytest.raises(TypeError, match="StoryTokenizer"):
        write_stories(shipped[0], get_tokenizer())


def test_story_tokenizer_encode_and_decode_name_what_they_want(shipped):
    _, tokenizer = shipped
    with pytest.raises(TypeError, match="text must be a str"):
        tokenizer.encode(None)
    ids = tokenizer.encode("Once upon a time")
    assert tokenizer.decode(torch.tensor(ids)) == tokenizer.decode(ids) == "Once upon a time"
    assert tokenizer.decode(torch.tensor([ids])) == "Once upon a time"  # a (1, n) batch of one
    with pytest.raises(TypeError, match="int"):
        tokenizer.decode(torch.tensor([1.0, 2.0]))


# ----------------------------------------------------------------------------- prompts a learner types


@pytest.mark.parametrize("typed,read_as", [("Tom was very", " Tom was very"), ("Lily", " Lily"),
                                           ("Once upon a time ", "Once upon a time"),
                                           ("  Once upon a time", "Once upon a time"),
                                           ("She was sad", " She was sad")])
def test_what_a_learner_types_is_read_with_its_meaning(shipped, typed, read_as):
    """GPT-2's tokens carry their leading space; a missing or extra space around the text is not an error."""
    _, tokenizer = shipped
    assert tokenizer.decode(tokenizer.encode(typed)) == read_as


def test_texts_the_vocabulary_spells_are_read_exactly(shipped):
    _, tokenizer = shipped
    for story in make_stories(3, seed=8):
        assert tokenizer.decode(tokenizer.encode(story)) == story


def test_an_unknown_word_is_named_once_with_what_the_model_knows(shipped):
    _, tokenizer = shipped
    with pytest.raises(ValueError) as info:
        tokenizer.encode("The dragon saw a dragon and a zebra")
    message = str(info.value)
    assert message.count("'dragon'") == 1 and "'zebra'" in message and "'saw'" not in message
    assert "known_words()" in message and "Once" in message
    known = tokenizer.known_words()
    assert "Tom" in known and "ball" in known and "dragon" not in known
    for word in known[:50]:
        tokenizer.encode(word)  # every listed word can be typed on its own


def test_write_stories_gives_back_the_prompt_as_typed(shipped):
    model, tokenizer = shipped
    [story] = write_stories(model, tokenizer, "Tom was very", max_new_tokens=3)
    assert story.startswith("Tom was very")


# ----------------------------------------------------------------------------- a model file loaded on trust


def _copy_with(tmp_path, edit_tensors=None, edit_meta=None):
    tensors = load_file(TRAINED_MODEL_FILE)
    meta = {k: json.dumps(v) for k, v in trained_model_metadata().items()}
    if edit_tensors:
        edit_tensors(tensors)
    if edit_meta:
        edit_meta(meta)
    path = tmp_path / "edited.safetensors"
    save_file(tensors, path, metadata=meta)
    return path


def _set(key, value):
    def edit(tensors):
        tensors[key] = value(tensors[key]) if callable(value) else value
    return edit


FIRST = "tok_emb.weight"


@pytest.mark.parametrize("edit_tensors,edit_meta,words", [
    (_set(FIRST, lambda t: t.clone().fill_(float("nan"))), None, "NaN or infinite"),
    (_set(FIRST, lambda t: t.clone().fill_(float("inf"))), None, "NaN or infinite"),
    (_set(FIRST, lambda t: t.long()), None, "dtype torch.int64"),
    (_set(FIRST, lambda t: t > 0), None, "dtype torch.bool"),
    (_set(FIRST, lambda t: t.to(torch.float8_e4m3fn)), None, "float8"),
    (_set(FIRST, lambda t: t[:-1].clone()), None, "shape"),
    (_set("trf_blocks.0.att.mask", torch.zeros(256, 256, dtype=torch.bool)), None, "buffer"),
    (lambda t: t.pop("final_norm.scale"), None, "missing"),
    (_set("extra.weight", torch.zeros(2)), None, "unexpected"),
    (None, lambda m: m.update(config="{not json"), "not valid JSON"),
    (None, lambda m: m.pop("tokenizer"), "lacks the metadata"),
    (None, lambda m: m.update(tokenizer=json.dumps({"gpt2_ids": [1.5]})), "int"),
    (None, lambda m: m.update(tokenizer=json.dumps({"gpt2_ids": [11, 13]})), "tokens but the model's vocab_size"),
    (None, lambda m: m.update(config=json.dumps({"vocab_size": 3})), "missing key"),
])
def test_a_damaged_or_inconsistent_file_is_refused_naming_it(tmp_path, edit_tensors, edit_meta, words):
    path = _copy_with(tmp_path, edit_tensors, edit_meta)
    with pytest.raises(ValueError, match=words) as info:
        load_trained_gpt(path=path)
    assert "edited.safetensors" in str(info.value)


@pytest.mark.parametrize("content", [b"", b"\x00" * 7, os.urandom(300), "truncate"])
def test_unreadable_files_are_refused_naming_them(tmp_path, content):
    path = tmp_path / "broken.safetensors"
    data = TRAINED_MODEL_FILE.read_bytes()
    path.write_bytes(data[: len(data) // 2] if content == "truncate" else content)
    with pytest.raises(ValueError, match="broken.safetensors"):
        load_trained_gpt(path=path)


def test_no_path_or_a_directory_is_named(tmp_path):
    with pytest.raises(TypeError, match="path"):
        load_trained_gpt(path=None)
    with pytest.raises(FileNotFoundError, match="directory"):
        load_trained_gpt(path=tmp_path)
    with pytest.raises(TypeError, match="path"):
        load_gpt2(None)


def test_a_copy_of_the_file_loads_with_the_same_weights(tmp_path, shipped):
    path = _copy_with(tmp_path)
    model, tokenizer = load_trained_gpt(path=path)
    assert tokenizer.gpt2_ids == shipped[1].gpt2_ids
    for (name, a), (_, b) in zip(model.state_dict().items(), shipped[0].state_dict().items()):
        assert torch.equal(a, b), name


# ----------------------------------------------------------------------------- saving


@pytest.fixture
def tiny_gpt(tiny_cfg):
    torch.manual_seed(0)
    return GPTModel(tiny_cfg).eval()


def test_a_model_with_nan_weights_is_not_saved(tmp_path, tiny_gpt):
    with torch.no_grad():
        tiny_gpt.final_norm.scale[0] = float("nan")
    with pytest.raises(ValueError, match="final_norm.scale"):
        save_gpt2_checkpoint(tiny_gpt, tmp_path / "nan")
    assert not (tmp_path / "nan").exists()


def test_an_empty_directory_name_is_refused(tiny_gpt):
    with pytest.raises(ValueError, match="directory is empty"):
        save_gpt2_checkpoint(tiny_gpt, "")


def test_a_failed_save_leaves_no_half_checkpoint(tmp_path, tiny_gpt, monkeypatch):
    import safetensors.torch

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)
    for target in (tmp_path / "new", tmp_path):  # a new directory, and an existing empty one
        with pytest.raises(OSError, match="No space left on device") as info:
            save_gpt2_checkpoint(tiny_gpt, target)
        assert str(target) in str(info.value)
        assert not (target / "config.json").exists() and not (target / "model.safetensors").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # the staging directory is gone too
    monkeypatch.undo()
    save_gpt2_checkpoint(tiny_gpt, tmp_path / "new")  # and the next save is not blocked
    assert load_gpt2(tmp_path / "new") is not None


def test_a_save_into_a_directory_with_other_files_keeps_them(tmp_path, tiny_gpt):
    (tmp_path / "notes.txt").write_text("mine")
    save_gpt2_checkpoint(tiny_gpt, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors", "notes.txt"]


# ----------------------------------------------------------------------------- memory bounded in total


def test_the_masks_of_all_layers_are_bounded_together(tiny_cfg):
    cfg = {**tiny_cfg, "context_length": 16384, "n_layers": 40}  # 256 MiB per layer, 10 GiB in all
    with pytest.raises(ValueError, match="causal masks of 40 layers"):
        validate_config(cfg)
    validate_config({**cfg, "n_layers": 2})  # one layer's mask alone is allowed
    with torch.device("meta"):  # allocates nothing: counting the parameters of a huge config stays possible
        assert GPTModel(cfg).pos_emb.num_embeddings == 16384


def test_a_checkpoint_config_asking_for_too_many_masks_is_refused_before_reading_weights(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "vocab_size": 5, "n_positions": 16384,
                                                      "n_embd": 4, "n_head": 1, "n_layer": 40}))
    (tmp_path / "model.safetensors").write_bytes(b"not read")
    with pytest.raises(ValueError, match="config.json.*causal masks"):
        load_gpt2(tmp_path)


def test_a_kv_cache_beyond_the_bound_is_refused_before_allocating():
    with pytest.raises(ValueError, match="KV cache"):
        KVCache(48, 64, 25, 64, 1024)  # 2 x 48 layers x 64 x 25 x 1024 x 64 x 4 bytes = 38 GiB


# ----------------------------------------------------------------------------- the book's calls


def test_the_books_positional_context_size_is_refused(tiny_gpt):
    idx = torch.tensor([[1, 2]])
    with pytest.raises(TypeError, match="context_size"):
        generate(tiny_gpt, idx, 5, 32)  # the book's context_size: it would have been temperature 32
    with pytest.raises(TypeError, match="context_length"):
        generate(tiny_gpt, idx, 5, context_size=8)
    assert generate(tiny_gpt, idx, 3).shape == (1, 5)


def test_the_books_num_epochs_says_what_to_use(small):
    model, train, val, optimizer = small
    with pytest.raises(TypeError, match="num_steps"):
        train_model_simple(model, train, val, optimizer, "cpu", num_epochs=1, eval_freq=1, eval_iter=1)


# ----------------------------------------------------------------------------- top-p's boundary


def _top_p_reference(logits, top_p):
    """Which tokens top-p keeps, summed in float64 with NumPy (an independent route). Tied logits are taken
    in torch's sort order: which of two equal tokens fills the last place is a choice, not a precision."""
    z = logits.double().numpy()
    order = torch.sort(logits, dim=-1, descending=True).indices.numpy()  # tied logits in torch's order
    sorted_z = np.take_along_axis(z, order, axis=-1)
    p = np.exp(sorted_z - sorted_z[:, :1])
    p /= p.sum(axis=-1, keepdims=True)
    before = np.cumsum(p, axis=-1) - p
    keep_sorted = before < top_p
    keep_sorted[:, 0] = True
    keep = np.zeros_like(keep_sorted)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    return torch.from_numpy(keep)


@pytest.mark.parametrize("vocab,rows", [(1000, 3000), (50257, 60)])
def test_top_p_keeps_what_a_float64_reference_keeps(vocab, rows):
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(rows, vocab, generator=gen) * 3
    top_p = torch.rand(rows, generator=gen).tolist()
    kept = torch.stack([torch.isfinite(top_p_filter(logits[i], p)) for i, p in enumerate(top_p)])
    reference = torch.stack([_top_p_reference(logits[i:i + 1], p)[0] for i, p in enumerate(top_p)])
    assert torch.equal(kept, reference)


def test_top_p_agrees_with_transformers():
    transformers = pytest.importorskip("transformers")
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(200, 1000, generator=gen) * 3
    for top_p in (0.3, 0.9, 0.95):
        warper = transformers.TopPLogitsWarper(top_p)
        theirs = torch.isfinite(warper(None, logits.double()))  # in float64, where rounding cannot decide
        ours = torch.isfinite(top_p_filter(logits, top_p))
        assert torch.equal(ours, theirs), top_p


# ----------------------------------------------------------------------------- left from before


def test_deep_errors_left_from_before(tiny_gpt):
    from gpt_from_scratch.sampling import sample_next_token

    with pytest.raises(ValueError, match="temperature"):
        sample_next_token(torch.randn(1, 5), temperature=1e-46)  # 0 in float32
    cache = KVCache.for_model(tiny_gpt, 1)
    with pytest.raises(ValueError, match="n_new"):
        cache.advance(-5)
    with pytest.raises(ValueError, match="cannot advance"):
        cache.advance(cache.capacity + 1)
    from gpt_from_scratch import forward_with_cache

    wide = KVCache(2, 1, 4, 4, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="float64"):
        forward_with_cache(tiny_gpt, torch.tensor([[1, 2]]), wide)
    logits = torch.randn(1, 5)
    assert torch.equal(sample_next_token(logits, temperature=1e-45), logits.argmax(-1, keepdim=True))
