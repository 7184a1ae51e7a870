"""save_checkpoint / load_checkpoint: training resumed from a file is training that never stopped."""

import pickle

import pytest
import torch

from gpt_from_scratch import GPTModel
from gpt_from_scratch.train import calc_loss_batch, cosine_schedule, load_checkpoint, save_checkpoint

CFG = {"vocab_size": 50, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0,
       "qkv_bias": False}
STEPS = 8


def _batches():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, CFG["vocab_size"], (STEPS, 4, 17), generator=generator)
    return [(row[:, :-1], row[:, 1:]) for row in ids]  # (input, target), each (4, 16)


def _setup(seed):
    torch.manual_seed(seed)
    model = GPTModel(CFG)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    return model, optimizer, cosine_schedule(optimizer, STEPS, warmup_steps=3)


def _train(model, optimizer, scheduler, batches):
    model.train()
    for input_batch, target_batch in batches:
        optimizer.zero_grad()
        calc_loss_batch(input_batch, target_batch, model, "cpu").backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()


def _same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_resumed_training_gives_exactly_the_uninterrupted_weights(tmp_path):
    batches, half = _batches(), STEPS // 2
    straight = _setup(seed=1)
    _train(*straight, batches)

    first = _setup(seed=1)
    _train(*first, batches[:half])
    save_checkpoint(tmp_path / "half.pt", *first[:2], step=half, scheduler=first[2])
    resumed = _setup(seed=2)  # other initial weights: everything must come from the file
    assert not _same_weights(resumed[0], first[0])
    assert load_checkpoint(tmp_path / "half.pt", *resumed) == half
    assert _same_weights(resumed[0], first[0])
    _train(*resumed, batches[half:])
    assert _same_weights(resumed[0], straight[0])
    assert resumed[1].param_groups[0]["lr"] == straight[1].param_groups[0]["lr"]

    # The optimizer's state matters: the weights alone, with a fresh AdamW and schedule, end elsewhere.
    weights_only = _setup(seed=2)
    load_checkpoint(tmp_path / "half.pt", weights_only[0])
    _train(*weights_only, batches[half:])
    assert not _same_weights(weights_only[0], straight[0])


def test_a_checkpoint_of_another_model_is_refused_by_name(tmp_path):
    model, optimizer, _ = _setup(seed=1)
    save_checkpoint(tmp_path / "small.pt", model, optimizer, step=0)
    wider = GPTModel({**CFG, "emb_dim": 64})
    with pytest.raises(ValueError, match=r"weights of a different model .*out_head.weight: saved \[50, 32\], "
                                         r"model has \[50, 64\].*config it was saved from"):
        load_checkpoint(tmp_path / "small.pt", wider)
    deeper = GPTModel({**CFG, "n_layers": 3})
    with pytest.raises(ValueError, match="trf_blocks.2.att.W_key.weight: saved nothing"):
        load_checkpoint(tmp_path / "small.pt", deeper)
    other_groups = torch.optim.AdamW([{"params": [model.tok_emb.weight]},
                                      {"params": list(model.trf_blocks.parameters())}])
    with pytest.raises(ValueError, match="parameter groups of sizes"):
        load_checkpoint(tmp_path / "small.pt", model, other_groups)
    with pytest.raises(ValueError, match="saved without a scheduler"):
        load_checkpoint(tmp_path / "small.pt", model, optimizer, cosine_schedule(optimizer, 10, 2))


class _Trap:
    def __reduce__(self):  # unpickling this would call print: code in a file
        return (print, ("this ran",))


def test_files_that_are_not_checkpoints_are_refused(tmp_path):
    model = GPTModel(CFG)
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*missing.pt"):
        load_checkpoint(tmp_path / "missing.pt", model)
    (tmp_path / "text.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a checkpoint written by save_checkpoint"):
        load_checkpoint(tmp_path / "text.pt", model)
    torch.save({"model": {}, "optimizer": {}, "step": 0, "scheduler": _Trap()}, tmp_path / "trap.pt")
    with pytest.raises(ValueError, match="weights_only=True refused it"):
        load_checkpoint(tmp_path / "trap.pt", model)
    with open(tmp_path / "plain.pt", "wb") as f:
        pickle.dump([1, 2, 3], f, protocol=2)
    with pytest.raises(ValueError, match="not a checkpoint written by save_checkpoint"):
        load_checkpoint(tmp_path / "plain.pt", model)
    torch.save({"weights": model.state_dict()}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="needs the keys model, optimizer, step and scheduler"):
        load_checkpoint(tmp_path / "other.pt", model)


@pytest.mark.parametrize("change,error,match", [
    ({"model": "gpt"}, TypeError, "model must be a torch.nn.Module"),
    ({"optimizer": "adamw"}, TypeError, "optimizer must be a torch.optim.Optimizer"),
    ({"step": -1}, ValueError, "step must be >= 0"),
    ({"step": 2.5}, TypeError, "step must be an int"),
    ({"path": 3}, TypeError, "path must be a str or a pathlib.Path"),
    ({"scheduler": "cosine"}, TypeError, "scheduler must be a torch.optim.lr_scheduler"),
])
def test_save_checkpoint_bad_inputs(tmp_path, change, error, match):
    model, optimizer, _ = _setup(seed=1)
    args = {"path": tmp_path / "x.pt", "model": model, "optimizer": optimizer, "step": 0, **change}
    with pytest.raises(error, match=match):
        save_checkpoint(**args)
    assert not (tmp_path / "x.pt").exists()
