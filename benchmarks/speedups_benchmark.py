"""Which speed-ups make training the story model faster on this machine, and by how much?

    python benchmarks/speedups_benchmark.py --nanogpt /path/to/nanoGPT/model.py   # 10-20 minutes on 2 cores

Times training steps (forward, loss, backward, AdamW) of the shipped story model's configuration and batch
(16 windows of 256 tokens) for each variant: the taught baseline of notebook 10, the fused attention
(`use_sdpa`), AdamW's `foreach` and `fused` implementations, bfloat16 autocast, torch.compile, and the
combinations; with --nanogpt, also nanoGPT's model and optimizer (Karpathy's model.py, loaded from the
given path, never copied into this repository) on the same shape. The variants alternate within each
repetition (in a rotating order), so a burst of load on a shared machine hits them all alike; each figure
is a median over the rounds, given with its quartiles; the ratio to the baseline is taken round by round
(each variant against the baseline timed in the same round), which keeps it meaningful while other work
on the machine comes and goes. Every variant runs with one thread, then with two. The achieved FLOP/s are also given as a share of a large float32 matmul's FLOP/s, measured
in the same run at the same thread count.

    python benchmarks/speedups_benchmark.py --profile --threads 1 --only "SDPA + fused AdamW" \
        "nanoGPT (fp32, its AdamW)" --nanogpt /path/to/nanoGPT/model.py   # where the time goes

Results go to gpt_from_scratch/data/speedups.json (notebook 15 plots them without re-running anything).
Nothing here is a test.
"""

import argparse
import contextlib
import datetime
import importlib.util
import io
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

# torch.compile's time is measured cold, as on a learner's first run: no cache of an earlier run may shorten it.
os.environ["TORCHINDUCTOR_FORCE_DISABLE_CACHES"] = "1"

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from gpt_from_scratch import GPTModel  # noqa: E402
from gpt_from_scratch.faster import make_adamw, training_step  # noqa: E402
from gpt_from_scratch.trained import trained_model_metadata  # noqa: E402
from training_benchmark import flops_per_token, matmul_gflops  # noqa: E402

OUT = ROOT / "gpt_from_scratch" / "data" / "speedups.json"

# name -> (model, use_sdpa, AdamW implementation, autocast dtype, torch.compile)
VARIANTS = {
    "taught (baseline)": ("ours", False, "for-loop", None, False),
    "SDPA attention": ("ours", True, "for-loop", None, False),
    "AdamW foreach": ("ours", False, "foreach", None, False),
    "AdamW fused": ("ours", False, "fused", None, False),
    "bf16 autocast": ("ours", False, "for-loop", torch.bfloat16, False),
    "SDPA + fused AdamW": ("ours", True, "fused", None, False),
    "SDPA + bf16 + fused AdamW": ("ours", True, "fused", torch.bfloat16, False),
    "torch.compile": ("ours", False, "for-loop", None, True),
    "compile + SDPA + bf16 + fused": ("ours", True, "fused", torch.bfloat16, True),
    "nanoGPT (fp32, its AdamW)": ("nanogpt", True, "nanogpt", None, False),
    "nanoGPT + bf16 autocast": ("nanogpt", True, "nanogpt", torch.bfloat16, False),
}


def load_nanogpt(path):
    """nanoGPT's model.py as a module, imported from outside this repository."""
    spec = importlib.util.spec_from_file_location("nanogpt_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(variant, cfg, training, nanogpt):
    """(step function, model) for one variant, built after the same seed."""
    kind, use_sdpa, adamw, amp_dtype, compile_it = VARIANTS[variant]
    torch.manual_seed(0)
    if kind == "nanogpt":
        conf = nanogpt.GPTConfig(block_size=cfg["context_length"], vocab_size=cfg["vocab_size"],
                                 n_layer=cfg["n_layers"], n_head=cfg["n_heads"], n_embd=cfg["emb_dim"],
                                 dropout=cfg["drop_rate"], bias=True)
        with contextlib.redirect_stdout(io.StringIO()):  # it prints its parameter counts
            model = nanogpt.GPT(conf).train()
            optimizer = model.configure_optimizers(training["weight_decay"], training["lr"], (0.9, 0.95), "cpu")

        def step(x, y):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=amp_dtype, enabled=amp_dtype is not None):
                _, loss = model(x, y)
            loss.backward()
            optimizer.step()
        return step, model
    model = GPTModel({**cfg, "use_sdpa": use_sdpa}).train()
    optimizer = make_adamw(model, training["lr"], training["weight_decay"], adamw)
    forward = torch.compile(model) if compile_it else model

    def step(x, y):
        training_step(forward, optimizer, [(x, y)], "cpu", amp_dtype=amp_dtype)
    return step, model


def time_steps(step, x, y, steps):
    start = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    return time.perf_counter() - start


def measure(variants, cfg, training, nanogpt, threads, reps, steps):
    """Seconds per step of every variant at `threads` threads, in `reps` rounds; each round times `steps`
    steps of every variant in turn, the order rotating from round to round."""
    torch.set_num_threads(threads)
    batch, seq = training["batch_size"], training["max_length"]
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, cfg["vocab_size"], (batch, seq), generator=g)
    y = torch.randint(0, cfg["vocab_size"], (batch, seq), generator=g)
    steps_of, warmup = {}, {}
    for name in variants:
        step, _ = build(name, cfg, training, nanogpt)
        start = time.perf_counter()
        for _ in range(2):  # the first steps compile (torch.compile) or warm the allocator
            step(x, y)
        warmup[name] = time.perf_counter() - start
        steps_of[name] = step
        print(f"  built {name} ({warmup[name]:.1f} s for the first 2 steps)", flush=True)
    seconds = {name: [] for name in variants}
    matmul = []
    for rep in range(reps):
        order = variants[rep % len(variants):] + variants[:rep % len(variants)]
        for name in order:
            seconds[name].append(time_steps(steps_of[name], x, y, steps) / steps)
        if rep % 5 == 0:
            matmul.append(matmul_gflops(repeats=10))
            print(f"  round {rep + 1}/{reps}, load {os.getloadavg()[0]:.2f}", flush=True)
    return seconds, matmul, warmup


def quartiles(values):
    q = statistics.quantiles(values, n=4)
    return q[0], statistics.median(values), q[2]


def summary(seconds, matmul, warmup, cfg, batch, seq):
    """Per variant: tokens/s (median, quartiles, extremes) and the ratio to the baseline timed in the same round."""
    flops = flops_per_token(cfg, seq)
    peak = statistics.median(matmul)
    base = seconds["taught (baseline)"]
    rows = {}
    for name, values in seconds.items():
        rates = [batch * seq / s for s in values]
        ratios = [b / s for b, s in zip(base, values)]  # > 1: faster than the baseline of the same round
        r25, r50, r75 = quartiles(ratios)
        t25, t50, t75 = quartiles(rates)
        rows[name] = {"tokens_per_s_median": round(t50, 1), "tokens_per_s_quartiles": [round(t25, 1), round(t75, 1)],
                      "tokens_per_s_min_max": [round(min(rates), 1), round(max(rates), 1)],
                      "ratio_to_baseline": round(r50, 3), "ratio_quartiles": [round(r25, 3), round(r75, 3)],
                      "matmul_share": round(t50 * flops / 1e9 / peak, 3),
                      "first_two_steps_s": round(warmup[name], 1)}
    return {"variants": rows, "matmul_gflops": [round(m, 1) for m in matmul], "matmul_gflops_median": round(peak, 1)}


def profile(variants, cfg, training, nanogpt, steps=3, top=12):
    """Print where each variant's step spends its time: the operators with the most self CPU time."""
    batch, seq = training["batch_size"], training["max_length"]
    x = torch.randint(0, cfg["vocab_size"], (batch, seq))
    y = torch.randint(0, cfg["vocab_size"], (batch, seq))
    for name in variants:
        step, _ = build(name, cfg, training, nanogpt)
        for _ in range(2):
            step(x, y)
        with torch.profiler.profile() as prof:
            for _ in range(steps):
                step(x, y)
        rows = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        total = sum(e.self_cpu_time_total for e in rows)
        print(f"{name}: {total / steps / 1e3:.0f} ms of self CPU time per step")
        for e in rows[:top]:
            print(f"  {e.key:50s} {e.self_cpu_time_total / steps / 1e3:7.1f} ms  {100 * e.self_cpu_time_total / total:5.1f} %"
                  f"  {e.count // steps:4d} calls")


def cpu_name():
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nanogpt", type=Path, help="path to nanoGPT's model.py (github.com/karpathy/nanoGPT)")
    parser.add_argument("--reps", type=int, default=15, help="rounds (every variant timed once per round)")
    parser.add_argument("--steps", type=int, default=1, help="training steps per variant and round")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--only", nargs="+", help="a subset of the variants (by name)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--profile", action="store_true", help="print an operator profile of each variant instead")
    args = parser.parse_args()

    meta = trained_model_metadata()
    cfg, training = {**meta["config"]}, meta["training"]
    nanogpt = load_nanogpt(args.nanogpt) if args.nanogpt else None
    variants = [v for v in (args.only or VARIANTS) if nanogpt is not None or VARIANTS[v][0] == "ours"]
    if args.profile:
        torch.set_num_threads(args.threads[0])
        return profile(variants, cfg, training, nanogpt)
    load_before = os.getloadavg()
    result = {"machine": f"{cpu_name()}, {os.cpu_count()} cores", "torch": torch.__version__,
              "python": platform.python_version(),
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "config": cfg, "batch": [training["batch_size"], training["max_length"]],
              "reps": args.reps, "steps_per_run": args.steps,
              "flops_per_token": flops_per_token(cfg, training["max_length"]),
              "nanogpt": "karpathy/nanoGPT model.py, GPTConfig(bias=True), configure_optimizers" if nanogpt else None,
              "by_threads": {}}
    for threads in args.threads:
        print(f"{threads} thread(s):", flush=True)
        seconds, matmul, warmup = measure(variants, cfg, training, nanogpt, threads, args.reps, args.steps)
        run = summary(seconds, matmul, warmup, cfg, training["batch_size"], training["max_length"])
        result["by_threads"][str(threads)] = run
        for name, row in run["variants"].items():
            (r25, r75), (t25, t75) = row["ratio_quartiles"], row["tokens_per_s_quartiles"]
            print(f"  {name:32s} {row['tokens_per_s_median']:6.0f} tokens/s [{t25:.0f}, {t75:.0f}]   "
                  f"x{row['ratio_to_baseline']:.2f} [{r25:.2f}, {r75:.2f}]   {100 * row['matmul_share']:.0f} % of matmul")
    result["load_average_before_after"] = [round(load_before[0], 2), round(os.getloadavg()[0], 2)]
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
