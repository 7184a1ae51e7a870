"""Data-parallel training (gpt_from_scratch.distributed): N gloo processes take the same steps as one process.

The processes meet on 127.0.0.1 at a free port (no network), and every launch has a deadline: a hang fails
the test instead of stalling the suite.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gpt_from_scratch.distributed import DEMO_CONFIG, Process, ShardedLoader, data_parallel, setup_distributed
from gpt_from_scratch.checks import check_backend, read_torchrun_env
from gpt_from_scratch.model import GPTModel
from gpt_from_scratch.train import create_dataloader, train_model_simple

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 120  # a whole launch, startup included; the demo itself takes a few seconds
STEPS, BATCH, SEED = 4, 8, 123


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(command, world_size, tmp_path, extra_env=None):
    """Start `command` as world_size processes the way torchrun would (each in its own folder); wait with a deadline."""
    port = free_port()
    procs = []
    for rank in range(world_size):
        folder = tmp_path / f"rank{rank}"
        folder.mkdir()
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "RANK": str(rank),
               "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world_size), "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": str(port), **(extra_env or {})}
        procs.append(subprocess.Popen(command, cwd=folder, env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=DEADLINE_S)
            results.append((proc.returncode, out, err))
    except subprocess.TimeoutExpired:
        pytest.fail(f"{world_size} processes did not finish within {DEADLINE_S} s")
    finally:
        for proc in procs:  # only the processes this test started
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return results


def one_process_weights(batches=None):
    """The demo's run in this process, without torch.distributed: the whole global batch at every step.

    `batches`, if given, replaces the training loader (e.g. with only half of every batch)."""
    tokens = torch.randint(0, DEMO_CONFIG["vocab_size"], (4096,), generator=torch.Generator().manual_seed(SEED))
    loader = create_dataloader(tokens.tolist(), BATCH, DEMO_CONFIG["context_length"], DEMO_CONFIG["context_length"],
                               seed=SEED)
    torch.manual_seed(SEED)
    model = GPTModel(DEMO_CONFIG)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    train_model_simple(model, loader if batches is None else batches(loader), loader, optimizer, "cpu", STEPS,
                       eval_freq=STEPS, eval_iter=1, progress=False)
    return start, {n: p.detach() for n, p in model.named_parameters()}


def max_diff(a, b):
    assert a.keys() == b.keys()
    return max((a[n] - b[n]).abs().max().item() for n in a)


def test_two_gloo_processes_take_the_same_steps_as_one(tmp_path):
    command = [sys.executable, "-m", "gpt_from_scratch.distributed", "--steps", str(STEPS),
               "--batch-size", str(BATCH), "--out", "weights.pt"]
    results = launch(command, 2, tmp_path)
    for rank, (code, out, err) in enumerate(results):
        assert code == 0, f"rank {rank} failed:\n{err[-3000:]}"
    # Rank 0 alone prints and saves; rank 1 holds the same weights and stays silent.
    assert "2 process(es), global batch 8 (4 rows each), 4 steps" in results[0][1]
    assert results[1][1] == ""
    assert [p.name for p in (tmp_path / "rank0").iterdir()] == ["weights.pt"]
    assert list((tmp_path / "rank1").iterdir()) == []

    two = {n: t for n, t in torch.load(tmp_path / "rank0" / "weights.pt", weights_only=True).items()
           if not n.endswith("mask")}
    start, one = one_process_weights()
    assert max_diff(two, start) > 1e-3  # it trained: the weights moved
    diff = max_diff(two, one)
    assert diff < 1e-5, f"2 processes vs 1: max |weight difference| {diff:.2e}"
    # The check can fail: training on rank 0's share alone (no gradient averaging) ends elsewhere.
    _, half = one_process_weights(lambda loader: ShardedLoader(loader, 0, 2))
    assert max_diff(half, one) > 100 * max(diff, 1e-7)


def test_the_shares_make_up_the_global_batch():
    def loader():  # each process builds its own, from the same seed: the same shuffled order
        return create_dataloader(list(range(500)), 6, 4, 4, seed=1)

    shares = [list(ShardedLoader(loader(), rank, 3)) for rank in range(3)]
    whole = list(loader())
    assert len(whole) == len(shares[0]) == len(ShardedLoader(loader(), 1, 3)) > 1
    for i, (inputs, targets) in enumerate(whole):
        assert torch.equal(torch.cat([s[i][0] for s in shares]), inputs)
        assert torch.equal(torch.cat([s[i][1] for s in shares]), targets)
        assert all(len(s[i][0]) == 2 for s in shares)


def test_one_process_needs_no_group(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    process = setup_distributed(batch_size=16)
    assert (process.rank, process.world_size, process.backend, process.is_main) == (0, 1, None, True)
    model = torch.nn.Linear(2, 2)
    assert data_parallel(model, process) is model
    assert not torch.distributed.is_initialized()
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda' asked for, but CUDA is not available"):
            setup_distributed(device="cuda")


def test_a_batch_the_processes_cannot_share_is_refused():
    loader = create_dataloader(list(range(500)), 8, 4, 4)
    with pytest.raises(ValueError, match=r"batch_size=8.*3 processes cannot share equally.*multiple of 3"):
        ShardedLoader(loader, 0, 3)
    with pytest.raises(ValueError, match="8 rows, fewer than world_size=16 processes.*at most 8 processes"):
        ShardedLoader(loader, 0, 16)
    with pytest.raises(ValueError, match="rank must be <= 1"):
        ShardedLoader(loader, 2, 2)
    with pytest.raises(TypeError, match="world_size must be an int"):
        ShardedLoader(loader, 0, 2.0)
    with pytest.raises(TypeError, match="loader must be a DataLoader"):
        ShardedLoader(5, 0, 2)
    # A short last batch (drop_last=False) is refused when it comes, naming its size.
    short = create_dataloader(list(range(50)), 4, 4, 4, shuffle=False, drop_last=False)  # 12 windows: 4, 4, 4
    assert len(list(ShardedLoader(short, 1, 2))) == 3
    odd = create_dataloader(list(range(46)), 4, 4, 4, shuffle=False, drop_last=False)  # 11 windows: 4, 4, 3
    with pytest.raises(ValueError, match="a batch has 3 rows"):
        list(ShardedLoader(odd, 1, 2))


def test_setup_refuses_before_waiting_for_anyone(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))  # nobody listens: a wait would be a hang
    with pytest.raises(ValueError, match="batch_size=16.*world_size=3"):
        setup_distributed(batch_size=16)
    for bad, error in ((0, ValueError), (-1.0, ValueError), (float("nan"), ValueError), ("60", TypeError)):
        with pytest.raises(error, match="timeout_s"):
            setup_distributed(timeout_s=bad)
    assert not torch.distributed.is_initialized()


def test_the_training_script_refuses_a_world_size_that_does_not_divide_its_batch(tmp_path):
    """3 processes cannot share the shipped recipe's 16 windows: each process says so at once, before the
    corpus is built and before it waits for the others (here it is alone: a wait would run into the deadline)."""
    script = [sys.executable, str(ROOT / "tools" / "train_story_model.py"), "--steps", "1", "--out", "x.safetensors"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "RANK": "0", "LOCAL_RANK": "0",
           "WORLD_SIZE": "3", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}
    result = subprocess.run(script, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=DEADLINE_S)
    assert result.returncode != 0
    assert "ValueError: the global batch (batch_size=16) has 16 rows, which world_size=3 processes" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("env, message", [
    ({"RANK": "2", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, "RANK=2 must be between 0 and 1"),
    ({"RANK": "one", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, "RANK is 'one', not an integer.*torchrun"),
    ({"RANK": "0", "WORLD_SIZE": "0", "LOCAL_RANK": "0"}, "WORLD_SIZE=0 must be >= 1"),
    ({"RANK": "0", "WORLD_SIZE": "2"}, "LOCAL_RANK is None"),
    ({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}, "MASTER_ADDR is not set.*--standalone"),
    ({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "99999"},
     "MASTER_PORT=99999 must be between 1 and 65535"),
])
def test_a_broken_torchrun_environment_is_named(env, message):
    with pytest.raises(ValueError, match=message):
        read_torchrun_env(env)


def test_torchrun_environment_read():
    assert read_torchrun_env({}) == (0, 1, 0)
    env = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    assert read_torchrun_env(env) == (3, 4, 1)
    with pytest.raises(TypeError, match="env must be a mapping"):
        read_torchrun_env(["RANK"])


def test_backend_chosen_or_refused():
    assert check_backend(None, "cpu") == "gloo"
    assert check_backend("gloo", "cpu") == "gloo"
    if torch.distributed.is_nccl_available():
        assert check_backend(None, "cuda:0") == "nccl"
    with pytest.raises(ValueError, match="unknown backend 'mpi'.*'gloo'"):
        check_backend("mpi", "cpu")
    with pytest.raises(ValueError, match="'nccl' needs CUDA GPUs.*on cpu.*backend='gloo'"):
        check_backend("nccl", "cpu")
    with pytest.raises(TypeError, match="backend must be None, 'gloo' or 'nccl'"):
        check_backend(1, "cpu")
    with pytest.raises(ValueError, match="not on mps"):
        check_backend(None, "mps")
    with pytest.raises(TypeError, match="process must be what setup_distributed"):
        data_parallel(torch.nn.Linear(2, 2), (0, 2))
    with pytest.raises(ValueError, match="rank must be <= 1"):
        data_parallel(torch.nn.Linear(2, 2), Process(2, 2, 0, torch.device("cpu"), "gloo"))
