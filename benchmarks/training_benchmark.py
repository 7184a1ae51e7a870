"""How fast does notebook 10's training loop run, and how close is that to what this CPU's matmuls allow?

    python benchmarks/training_benchmark.py            # about a minute on 2 cores

It times `train_model_simple`'s inner step (forward, loss, backward, AdamW) on the shipped story
model's configuration and batch (16 windows of 256 tokens), counts the floating-point operations a
step needs, and compares the achieved rate with the rate of large float32 matrix products measured
on the same machine, with the same number of threads. Nothing here is a test: the figures go into
benchmarks/README.md.
"""

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gpt_from_scratch import GPTModel, count_parameters  # noqa: E402
from gpt_from_scratch.train import calc_loss_batch  # noqa: E402
from gpt_from_scratch.trained import trained_model_metadata  # noqa: E402


def matmul_gflops(n=1024, repeats=20):
    """float32 GFLOP/s of an n x n by n x n product: the best this CPU does on dense work."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def flops_per_token(cfg, seq_len):
    """Training FLOPs per token: 6 per weight of every matrix product (forward 2, backward 4), plus attention.

    Attention's two products (scores and the weighted sum of values) cost 2 * 2 * seq_len * emb_dim per token
    and layer in the forward pass, as computed here (the masked half is computed too), times 3 for training.
    """
    d, v, layers = cfg["emb_dim"], cfg["vocab_size"], cfg["n_layers"]
    per_layer = 4 * d * d + 2 * d * 4 * d        # W_query, W_key, W_value, out_proj; the two feed-forward layers
    matrix_weights = layers * per_layer + d * v  # plus the output head; embeddings are lookups, not products
    return 6 * matrix_weights + 3 * layers * 4 * seq_len * d


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    meta = trained_model_metadata()
    cfg, training = meta["config"], meta["training"]
    batch, seq = training["batch_size"], training["max_length"]
    torch.manual_seed(0)
    model = GPTModel(cfg).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=training["lr"], weight_decay=training["weight_decay"])
    x = torch.randint(0, cfg["vocab_size"], (batch, seq))
    y = torch.randint(0, cfg["vocab_size"], (batch, seq))

    def step():
        optimizer.zero_grad()
        calc_loss_batch(x, y, model, "cpu").backward()
        optimizer.step()

    for _ in range(3):  # warm-up: allocator, thread pool
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = (time.perf_counter() - start) / args.steps

    tokens_per_s = batch * seq / seconds
    achieved = tokens_per_s * flops_per_token(cfg, seq) / 1e9
    peak = matmul_gflops()
    print(f"torch {torch.__version__}, {args.threads} threads; model: {count_parameters(model):,} parameters, "
          f"batch {batch} x {seq} tokens")
    print(f"training step:          {1000 * seconds:7.1f} ms")
    print(f"training throughput:    {tokens_per_s:7.0f} tokens/s")
    print(f"FLOPs per token:        {flops_per_token(cfg, seq) / 1e6:7.2f} MFLOP")
    print(f"achieved:               {achieved:7.1f} GFLOP/s")
    print(f"1024^3 float32 matmul:  {peak:7.1f} GFLOP/s")
    print(f"share of matmul rate:   {100 * achieved / peak:7.1f} %")
    full = training["steps"] * seconds
    print(f"=> the shipped run's {training['steps']:,} steps need about {full / 60:.1f} minutes of steps "
          f"(it took {training['seconds'] / 60:.1f} minutes with evaluations)")


if __name__ == "__main__":
    main()
