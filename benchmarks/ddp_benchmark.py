"""Time per training step of tools/train_story_model.py: threads, processes (torchrun, gloo) and bf16 on the CPU.

    python benchmarks/ddp_benchmark.py                      # 6 variants x 3 rounds of 40 steps
    python benchmarks/ddp_benchmark.py --steps 30 --variants 1x1 2x1 1x2 1x1-bf16 2x1-bf16   # 31 min, loaded machine

Every variant is the shipped training run (its config, batch and data) cut to --steps steps, started as its
own command; the script prints its training loop's time ("ms per step", two short evaluations included), and
that figure is what is compared, so the corpus's set-up and the final evaluation do not count. The variants
run in turn, round after round (A B C ... A B C ...), so a change in the machine's load hits them all alike;
each variant's ratio to the baseline is taken round by round. Nothing here is a test: the figures depend on
the machine and on what else runs on it (the load average is printed before and after).
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = str(ROOT / "tools" / "train_story_model.py")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone"]

# name: (processes, threads per process, bf16 autocast)
VARIANTS = {
    "1x1": (1, 1, False),  # the shipped recipe: one process, one thread
    "1x2": (1, 2, False),
    "2x1": (2, 1, False),
    "1x1-bf16": (1, 1, True),
    "1x2-bf16": (1, 2, True),
    "2x1-bf16": (2, 1, True),
}


def command(processes, threads, bf16, steps, out):
    args = [SCRIPT, "--steps", str(steps), "--eval-iter", "1", "--threads", str(threads), "--device", "cpu",
            "--out", out] + (["--bf16"] if bf16 else [])
    launcher = [sys.executable] if processes == 1 else TORCHRUN + [f"--nproc_per_node={processes}"]
    return launcher + args


def ms_per_step(cmd):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    found = re.search(r"\((\d+) ms per step", result.stdout)
    if result.returncode != 0 or found is None:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return int(found.group(1))


def load():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path("/proc/loadavg").exists() else "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                        help="the first is the baseline of the ratios")
    parser.add_argument("--out", default="/tmp/ddp_benchmark.safetensors", help="where each trial's weights go")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {load()}; {args.steps} steps per run, {args.rounds} rounds", flush=True)
    times = {name: [] for name in args.variants}
    for r in range(args.rounds):
        for name in args.variants:
            times[name].append(ms_per_step(command(*VARIANTS[name], args.steps, args.out)))
            print(f"round {r + 1} {name:9s} {times[name][-1]:5d} ms/step  (load {load()})", flush=True)
    base = args.variants[0]
    print(f"\n{'variant':9s} {'ms/step median [min-max]':>26s} {'speed-up vs ' + base + ' median [min-max]':>34s}")
    for name in args.variants:
        t = times[name]
        ratios = [b / x for b, x in zip(times[base], t)]  # round by round: > 1 is faster than the baseline
        print(f"{name:9s} {statistics.median(t):12.0f} [{min(t)}-{max(t)}]"
              f"{statistics.median(ratios):17.2f}x [{min(ratios):.2f}-{max(ratios):.2f}]")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
