"""Notebook 11's early story model: the shipped training run after its first steps, stored small, still looping."""

import importlib.util
import re

import pytest
import torch
from safetensors import safe_open

from gpt_from_scratch.trained import (EARLY_MODEL_FILE, EARLY_MODEL_STEP, TRAINED_MODEL_FILE, load_trained_gpt,
                                      trained_model_metadata, write_stories)

spec = importlib.util.spec_from_file_location("train_story_model", TRAINED_MODEL_FILE.parents[2] / "tools" / "train_story_model.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)

LOOP_PROMPT = "One morning, a happy girl named"  # notebook 11's prompt


@pytest.fixture(scope="module")
def early():
    return load_trained_gpt(path=EARLY_MODEL_FILE)


@pytest.fixture(scope="module")
def meta():
    return trained_model_metadata(EARLY_MODEL_FILE)


def repeated_sentences(text):
    """How many sentences of `text` repeat an earlier one, word for word."""
    seen, repeats = set(), 0
    for sentence in re.split(r"(?<=[.!?])\s", text):
        repeats += sentence in seen
        seen.add(sentence)
    return repeats


def test_the_file_is_small_float16_package_data():
    assert EARLY_MODEL_FILE.is_file() and EARLY_MODEL_FILE.parent == TRAINED_MODEL_FILE.parent
    assert EARLY_MODEL_FILE.stat().st_size < 0.6 * TRAINED_MODEL_FILE.stat().st_size  # half of float32, plus metadata
    with safe_open(EARLY_MODEL_FILE, framework="pt") as f:
        assert {f.get_slice(name).get_dtype() for name in f.keys()} == {"F16"}


def test_metadata_says_it_is_the_shipped_run_at_an_early_step(meta):
    shipped = trained_model_metadata()
    assert meta["step"] == EARLY_MODEL_STEP < script.TRAINING["steps"]
    assert meta["results"]["history"]["steps"][-1] == EARLY_MODEL_STEP
    assert meta["config"] == shipped["config"] == {"vocab_size": meta["config"]["vocab_size"], **script.CONFIG}
    assert meta["tokenizer"]["gpt2_ids"] == shipped["tokenizer"]["gpt2_ids"]
    assert meta["corpus"] == shipped["corpus"]
    for key in script.TRAINING:  # the same settings, so the same numbers as the shipped run's step 100
        assert meta["training"][key] == shipped["training"][key] == script.TRAINING[key], key
    # its recorded losses are the shipped run's at the same evaluations
    for key in ("steps", "train_losses", "val_losses"):
        assert meta["results"]["history"][key] == shipped["results"]["history"][key][:len(meta["results"]["history"][key])]


def test_loads_as_a_float32_model_in_eval_mode(early):
    model, tokenizer = early
    assert not model.training
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert tokenizer.n_vocab == model.tok_emb.num_embeddings


def test_greedy_decoding_loops_and_sampling_does_not(early):
    model, tokenizer = early
    greedy = write_stories(model, tokenizer, LOOP_PROMPT, max_new_tokens=40)[0]
    assert repeated_sentences(greedy) >= 2, greedy
    sampled = write_stories(model, tokenizer, LOOP_PROMPT, n_stories=20, max_new_tokens=40, temperature=1.0, seed=123)
    assert sum(repeated_sentences(s) > 0 for s in sampled) < 10, sampled


def test_the_greedy_loop_has_clear_margins(early):
    """Every greedy choice leads the runner-up by far more than float32 rounding across machines (about 1e-5)."""
    model, tokenizer = early
    greedy = write_stories(model, tokenizer, LOOP_PROMPT, max_new_tokens=40)[0]
    ids = torch.tensor([tokenizer.encode(greedy)])
    n_prompt = len(tokenizer.encode(LOOP_PROMPT))
    with torch.no_grad():
        logits = model(ids)[0, n_prompt - 1:-1]
    assert torch.equal(logits.argmax(-1), ids[0, n_prompt:])  # the text is the greedy one
    top2 = torch.topk(logits, 2, dim=-1).values
    assert (top2[:, 0] - top2[:, 1]).min() > 0.01
