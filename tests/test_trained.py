"""The story GPT shipped in the package: it loads offline, its metadata is true, and it writes stories."""

import importlib.util
import subprocess
import sys

import pytest
import torch

from gpt_from_scratch import GPTModel
from gpt_from_scratch.stories import check_story, grammar_report
from gpt_from_scratch.trained import TRAINED_MODEL_FILE, load_trained_gpt, trained_model_metadata, write_stories

spec = importlib.util.spec_from_file_location("train_story_model", TRAINED_MODEL_FILE.parents[2] / "tools" / "train_story_model.py")
script = importlib.util.module_from_spec(spec)
spec.loader.exec_module(script)


@pytest.fixture(scope="module")
def trained():
    return load_trained_gpt()


@pytest.fixture(scope="module")
def meta():
    return trained_model_metadata()


def test_the_file_is_package_data_and_small():
    assert TRAINED_MODEL_FILE.is_file()
    assert TRAINED_MODEL_FILE.stat().st_size <= 10 * 2**20
    pyproject = (TRAINED_MODEL_FILE.parents[2] / "pyproject.toml").read_text()
    assert '"data/*.safetensors"' in pyproject  # shipped in the wheel, not only in the repository


def test_load_returns_an_eval_gpt_and_its_tokenizer(trained, meta):
    model, tokenizer = trained
    assert isinstance(model, GPTModel) and not model.training
    assert tokenizer.n_vocab == meta["config"]["vocab_size"] == model.tok_emb.num_embeddings
    ids = tokenizer.encode("Once upon a time")
    assert isinstance(ids, list) and all(isinstance(i, int) for i in ids)
    assert tokenizer.decode(ids) == "Once upon a time"


def test_loading_leaves_the_global_random_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    load_trained_gpt()
    assert torch.equal(torch.rand(3), expected)


def test_loads_offline_and_fast():
    """In a fresh interpreter whose sockets all fail, loading and generating still work, in under 10 s."""
    code = (
        "import socket, time\n"
        "def refuse(*a, **k): raise OSError('network disabled for this test')\n"
        "socket.socket.connect = refuse; socket.create_connection = refuse; socket.getaddrinfo = refuse\n"
        "start = time.perf_counter()\n"
        "from gpt_from_scratch import load_trained_gpt\n"
        "model, tok = load_trained_gpt()\n"
        "print(round(time.perf_counter() - start, 2))\n"
        "from gpt_from_scratch.trained import write_stories\n"
        "print(write_stories(model, tok, 'Once upon a time', max_new_tokens=8)[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert float(out[0]) < 10
    assert out[1].startswith("Once upon a time")


def test_metadata_records_the_training(meta):
    assert meta["config"] == {"vocab_size": meta["config"]["vocab_size"], **script.CONFIG}
    assert meta["corpus"]["n_stories"] == script.CORPUS["n_stories"]
    assert meta["training"]["steps"] == script.TRAINING["steps"]
    assert meta["results"]["history"]["steps"][-1] == script.TRAINING["steps"]
    assert meta["training"]["seconds"] <= 60 * 60  # README: 52 minutes on a busy 2-core machine
    assert meta["training"]["max_grad_norm"] == script.TRAINING["max_grad_norm"]


def test_the_recorded_validation_loss_is_what_the_weights_give(trained, meta):
    """Regenerate the corpus, rebuild the validation windows, and recompute from the shipped weights the loss
    the training run recorded last: after its final step, over the first `eval_iter` validation batches.
    (The same code gives the all-batch figure `val_loss`; a sixth of the batches keeps this test short.)"""
    from gpt_from_scratch.train import calc_loss_loader, encode_stories

    model, tokenizer = trained
    train_stories, val_stories = script.corpus_splits()
    assert tokenizer.gpt2_ids == meta["tokenizer"]["gpt2_ids"]
    val_ids = encode_stories(val_stories, tokenizer)
    loader = script.val_loader(val_ids, tokenizer.eot_id)
    assert len(loader) == meta["results"]["val_batches"]
    history = meta["results"]["history"]
    assert history["steps"][-1] == meta["training"]["steps"]  # recorded with the final weights
    with torch.no_grad():
        loss = calc_loss_loader(loader, model, "cpu", num_batches=meta["training"]["eval_iter"])
    assert abs(loss - history["val_losses"][-1]) < 1e-4, (loss, history["val_losses"][-1])
    assert abs(meta["results"]["val_loss"] - loss) < 0.02  # all 63 batches: close to the first 10
    assert loss < 0.6


def test_the_stories_are_fluent_and_consistent(trained):
    model, tokenizer = trained
    greedy = [write_stories(model, tokenizer, p)[0] for p in ("Once upon a time", "One day", "Long ago")]
    sampled = write_stories(model, tokenizer, "Once upon a time", n_stories=30, temperature=0.8, top_k=40, seed=7)
    for stories in (greedy, sampled):
        report = grammar_report(stories)
        assert report.rate >= 0.95, report
        assert report.consistent >= 0.9 * report.n_stories, [check_story(s).problems for s in stories]
        assert all(len(check_story(s).sentences) >= 5 for s in stories)


def test_write_stories_is_reproducible(trained):
    model, tokenizer = trained
    first = write_stories(model, tokenizer, n_stories=2, temperature=1.0, seed=3, max_new_tokens=30)
    again = write_stories(model, tokenizer, n_stories=2, temperature=1.0, seed=3, max_new_tokens=30)
    assert first == again


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="train_story_model"):
        load_trained_gpt(path=tmp_path / "nothing.safetensors")
