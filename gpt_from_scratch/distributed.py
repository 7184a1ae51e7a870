"""Notebook 15: data-parallel training with torch.distributed -- one copy of the model per process.

`torchrun --nproc_per_node=N script.py` starts N copies of the same script and tells each one its place
through environment variables: RANK (0 .. N-1), WORLD_SIZE (N), LOCAL_RANK (its GPU on this machine) and
MASTER_ADDR/MASTER_PORT (where the processes meet). Every process holds the whole model and optimizer, takes
its own slice of every global batch, and DistributedDataParallel averages the gradients across processes
during the backward pass, so every copy takes the same optimizer step as one process on the whole batch.

    python -m torch.distributed.run --standalone --nproc_per_node=2 -m gpt_from_scratch.distributed

runs a tiny demo: a few steps on 2 processes, then the same steps on one, and the largest weight difference.
"""

import argparse
import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .checks import (
    check_backend,
    check_positive_int,
    check_process,
    check_shard_args,
    check_share,
    check_timeout,
    read_torchrun_env,
)
from .device import get_device


@dataclass(frozen=True)
class Process:
    """Where this process stands: its rank among world_size processes, its device and the group's backend."""
    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None  # None: a single process, no group to talk to

    @property
    def is_main(self):
        """Rank 0 alone evaluates the whole validation set, prints and saves."""
        return self.rank == 0


def setup_distributed(batch_size=None, device=None, backend=None, timeout_s=120.0):
    """Join the process group that torchrun describes in the environment, or run alone without one.

    batch_size, if given, is the global batch: one the processes cannot share equally is refused here, before
    any process waits for the others. device None picks CUDA when present (each process on GPU number
    LOCAL_RANK) and the CPU otherwise; backend None picks NCCL for GPUs and gloo for the CPU. Every collective
    (and the meeting itself) gives up after `timeout_s` seconds with an error instead of hanging.
    """
    check_timeout(timeout_s)
    rank, world_size, local_rank = read_torchrun_env(os.environ)  # (0, 1, 0) when not launched by torchrun
    if batch_size is not None:
        check_positive_int(batch_size, "batch_size")
        check_share(batch_size, world_size, what=f"the global batch (batch_size={batch_size})")
    device = get_device(device, allow_mps=False)  # None: CUDA if present, else the CPU
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", local_rank)  # one GPU per process on this machine
    if world_size == 1:
        return Process(0, 1, 0, device, None)
    backend = check_backend(backend, device)  # "nccl" or "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, rank=rank, world_size=world_size,
                            timeout=datetime.timedelta(seconds=timeout_s))
    return Process(rank, world_size, local_rank, device, backend)


def teardown_distributed():
    """Leave the process group (if this process joined one)."""
    if dist.is_initialized():
        dist.destroy_process_group()


class ShardedLoader:
    """Process `rank`'s share of every global batch of `loader`: rows rank*b/N .. (rank+1)*b/N - 1.

    Every process iterates the same loader (same seed, same shuffle), so the N shares of a step are exactly
    the global batch one process would see. Since each process's loss is the mean over its share, the
    average of the N gradients is the gradient of the mean over the whole batch. Each pass over a shuffled
    loader draws from its generator, so every process must make the same passes (evaluations included).
    """

    def __init__(self, loader, rank, world_size):
        check_shard_args(loader, rank, world_size)
        self.loader, self.rank, self.world_size = loader, rank, world_size

    def __len__(self):
        return len(self.loader)

    def __iter__(self):  # a generator: the loader is only asked for batches when the first one is needed
        for input_batch, target_batch in self.loader:
            check_share(len(input_batch), self.world_size, "a batch")  # e.g. a short last batch
            share = len(input_batch) // self.world_size
            rows = slice(self.rank * share, (self.rank + 1) * share)
            yield input_batch[rows], target_batch[rows]


def data_parallel(model, process):
    """The model wrapped in DistributedDataParallel when several processes train, else the model itself.

    DDP broadcasts rank 0's weights to all processes once, then all-reduces (averages) the gradients in
    buckets while the backward pass is still running.
    """
    check_process(process)
    if process.world_size == 1:
        return model
    device_ids = [process.device.index] if process.device.type == "cuda" else None
    # The model's only buffers are its constant causal masks: no need to re-send them before every forward pass.
    return DistributedDataParallel(model, device_ids=device_ids, broadcast_buffers=False)


# ----------------------------------------------------------------------------- the tiny demo (notebook 15)

DEMO_CONFIG = {"vocab_size": 64, "context_length": 16, "emb_dim": 32, "n_heads": 2, "n_layers": 2,
               "drop_rate": 0.0, "qkv_bias": False}


def train_demo(process, steps=4, batch_size=8, seed=123):
    """A tiny GPT trained for `steps` AdamW steps on random token ids, data-parallel over `process`'s group.

    Returns the trained model (unwrapped), the same on every process.
    """
    from .model import GPTModel
    from .train import create_dataloader, train_model_simple

    tokens = torch.randint(0, DEMO_CONFIG["vocab_size"], (4096,), generator=torch.Generator().manual_seed(seed))
    loader = create_dataloader(tokens.tolist(), batch_size, DEMO_CONFIG["context_length"],
                               DEMO_CONFIG["context_length"], seed=seed)
    torch.manual_seed(seed)
    model = GPTModel(DEMO_CONFIG).to(process.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    train_model_simple(data_parallel(model, process), ShardedLoader(loader, process.rank, process.world_size),
                       loader, optimizer, process.device, steps, eval_freq=steps, eval_iter=1, progress=False)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description="tiny data-parallel demo: N processes vs one, same weights?")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8, help="the global batch, split over the processes")
    parser.add_argument("--out", default=None, help="rank 0 saves the trained weights here (torch.save)")
    args = parser.parse_args(argv)
    process = setup_distributed(args.batch_size)
    try:
        model = train_demo(process, args.steps, args.batch_size)
    finally:
        teardown_distributed()
    if process.is_main:  # the other processes hold the same weights and stay silent
        alone = train_demo(Process(0, 1, 0, process.device, None), args.steps, args.batch_size)
        diff = max((p - q).abs().max().item() for p, q in zip(model.parameters(), alone.parameters()))
        print(f"{process.world_size} process(es), global batch {args.batch_size} "
              f"({args.batch_size // process.world_size} rows each), {args.steps} steps")
        print(f"largest weight difference from one process on the whole batch: {diff:.1e} "
              f"(below 1e-5: {diff < 1e-5})")
        if args.out is not None:
            torch.save(model.state_dict(), args.out)


if __name__ == "__main__":
    main()
