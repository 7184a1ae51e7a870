"""Train the story GPT that ships in the package (gpt_from_scratch/data/story_gpt.safetensors).

    python tools/train_story_model.py              # the shipped model (20 to 40 minutes on 2 CPU cores)
    python tools/train_story_model.py --steps 50 --out /tmp/trial.safetensors   # a quick trial
    python tools/train_story_model.py --early      # the same run stopped after 100 steps (a few minutes)

`--early` writes gpt_from_scratch/data/story_gpt_step100.safetensors: the weights of the shipped run after
its first 100 steps (same seeds, same learning-rate schedule, so the same numbers as that run's step 100),
stored in float16 to halve the file; loading turns them back into float32. Notebook 11 uses it to show
greedy decoding stuck in a loop.

It uses the training code of notebook 10 (gpt_from_scratch.train) on the stories of
gpt_from_scratch.stories, from fixed seeds, on the CPU. Everything needed to check the result is
written into the file's metadata; tests/test_trained.py recomputes the validation loss from it.

Faster, and on several processes (gpt_from_scratch.distributed, notebook 15):

    torchrun --standalone --nproc_per_node=2 tools/train_story_model.py --out /tmp/ddp.safetensors
    python tools/train_story_model.py --bf16 --threads 2 --out /tmp/bf16.safetensors

Under torchrun each process takes its share of every global batch of 16 windows (the same batches as one
process), DistributedDataParallel averages the gradients (gloo on the CPU, NCCL on GPUs), and rank 0 alone
prints, evaluates the whole validation set and saves. With a CUDA GPU the device is chosen automatically
(--device), with bf16 autocast where the GPU supports it (--no-bf16 turns it off); on the CPU bf16 autocast
is opt-in (--bf16). Evaluations always run in float32, so the recorded losses are the weights' own.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gpt_from_scratch import GPTModel  # noqa: E402
from gpt_from_scratch.distributed import (  # noqa: E402
    ShardedLoader, data_parallel, setup_distributed, teardown_distributed)
from gpt_from_scratch.faster import autocast  # noqa: E402
from gpt_from_scratch.stories import make_stories  # noqa: E402
from gpt_from_scratch.train import (  # noqa: E402
    StoryTokenizer, calc_loss_loader, cosine_schedule, create_dataloader, encode_stories, story_starts,
    train_model_simple)
from gpt_from_scratch.trained import EARLY_MODEL_FILE, EARLY_MODEL_STEP, TRAINED_MODEL_FILE  # noqa: E402

CORPUS = {"n_stories": 24_000, "seed": 0, "n_val_stories": 1_000}  # the last 1,000 stories validate
CONFIG = {"context_length": 256, "emb_dim": 128, "n_heads": 4, "n_layers": 4, "drop_rate": 0.0, "qkv_bias": False}
TRAINING = {"seed": 123, "batch_size": 16, "max_length": 256, "stride": 256, "lr": 2e-3, "weight_decay": 0.1,
            "warmup_steps": 100, "steps": 3000, "eval_freq": 100, "eval_iter": 10, "val_batch_size": 16,
            "max_grad_norm": 1.0}


def corpus_splits(corpus=CORPUS):
    stories = make_stories(corpus["n_stories"], seed=corpus["seed"])
    return stories[:-corpus["n_val_stories"]], stories[-corpus["n_val_stories"]:]


def val_loader(val_ids, eot_id, training=TRAINING):
    """One window per validation story, in order: the loss recorded in the file and recomputed by the test."""
    return create_dataloader(val_ids, training["val_batch_size"], training["max_length"], training["stride"],
                             shuffle=False, drop_last=False, starts=story_starts(val_ids, eot_id))


class Autocast(torch.nn.Module):
    """Runs the wrapped model's training forward passes under bf16 autocast; evaluation stays float32.

    The matrix products run in bfloat16; the logits come back as float32, so the loss is computed in full
    precision (bfloat16 keeps float32's range, so no loss scaler is needed, unlike float16)."""

    def __init__(self, model, device):
        super().__init__()
        self.model, self.device = model, device

    def forward(self, in_idx):
        with autocast(self.device, torch.bfloat16 if self.training else None):  # evaluation: float32
            return self.model(in_idx).float()


def use_bf16(asked, device):
    """--bf16 / --no-bf16 / neither (None: on for a CUDA GPU that supports it, off on the CPU)."""
    supported = device.type == "cpu" or (device.type == "cuda" and torch.cuda.is_bf16_supported())
    if asked and not supported:
        raise ValueError(f"--bf16 asked for, but {device} has no bfloat16 support; drop --bf16")
    return supported and device.type == "cuda" if asked is None else asked


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=TRAINING["steps"])
    parser.add_argument("--out", type=Path, default=None, help=f"default: {TRAINED_MODEL_FILE.name}, "
                        f"with --early {EARLY_MODEL_FILE.name} (both in gpt_from_scratch/data/)")
    parser.add_argument("--early", action="store_true",
                        help=f"stop after {EARLY_MODEL_STEP} steps of the shipped run and store float16 weights")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads per process (default 1)")
    parser.add_argument("--snapshots", type=Path, default=None,
                        help="a folder: also save the weights at every evaluation (step_NNNN.safetensors)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="auto (default): this process's CUDA GPU if there is one, else the CPU")
    parser.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                        help="bf16 autocast for the training steps (default: on for a CUDA GPU that supports it)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (minutes of compiling first)")
    parser.add_argument("--eval-iter", type=int, default=TRAINING["eval_iter"],
                        help=f"batches per evaluation during training (default {TRAINING['eval_iter']})")
    return parser.parse_args()


def main():
    args = parse_args()
    training = {**TRAINING, "steps": args.steps, "eval_iter": args.eval_iter}
    # --early runs the first steps of the full run: the schedule still spans all `steps`.
    steps_run = EARLY_MODEL_STEP if args.early else training["steps"]
    out = args.out or (EARLY_MODEL_FILE if args.early else TRAINED_MODEL_FILE)
    # One thread by default: on a busy machine two threads wait on each other at every operation.
    torch.set_num_threads(args.threads)
    # Alone (plain python): rank 0 of 1, no process group. Under torchrun: this process's rank and device.
    process = setup_distributed(training["batch_size"], device=None if args.device == "auto" else args.device)
    device, bf16 = process.device, use_bf16(args.bf16, process.device)
    say = print if process.is_main else (lambda *a, **k: None)  # rank 0 alone prints

    start = time.perf_counter()
    train_stories, val_stories = corpus_splits()
    tokenizer = StoryTokenizer.from_texts(train_stories + val_stories)
    train_ids, val_ids = encode_stories(train_stories, tokenizer), encode_stories(val_stories, tokenizer)
    say(f"{len(train_stories)} training stories ({len(train_ids):,} tokens), {len(val_stories)} validation "
        f"stories ({len(val_ids):,} tokens), vocabulary {tokenizer.n_vocab}", flush=True)
    say(f"{process.world_size} process(es) on {device}, {args.threads} thread(s) each, bf16 autocast {bf16}, "
        f"torch.compile {args.compile}", flush=True)

    cfg = {"vocab_size": tokenizer.n_vocab, **CONFIG}
    torch.manual_seed(training["seed"])
    model = GPTModel(cfg).to(device)  # the same initial weights in every process (same seed)
    # Every window starts at the beginning of a story, so the model always sees who the story is about.
    train_loader = create_dataloader(train_ids, training["batch_size"], training["max_length"], training["stride"],
                                     seed=training["seed"], starts=story_starts(train_ids, tokenizer.eot_id))
    loader = val_loader(val_ids, tokenizer.eot_id, training)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training["lr"], weight_decay=training["weight_decay"])
    scheduler = cosine_schedule(optimizer, training["steps"], training["warmup_steps"])
    trained = torch.compile(model) if args.compile else model
    trained = data_parallel(Autocast(trained, device) if bf16 else trained, process)

    def report(step, train_loss, val_loss):
        if not process.is_main:
            return
        print(f"step {step:5d}  train {train_loss:.4f}  val {val_loss:.4f}  "
              f"{time.perf_counter() - start:6.0f} s", flush=True)
        if args.snapshots is not None:
            args.snapshots.mkdir(parents=True, exist_ok=True)
            save_file({n: p.detach().cpu().clone() for n, p in model.named_parameters()},
                      args.snapshots / f"step_{step:04d}.safetensors", metadata={"step": str(step)})

    loop_start = time.perf_counter()
    try:
        # Every process runs the same loop (and the same evaluations, so the shuffled loader stays in step).
        history = train_model_simple(trained, ShardedLoader(train_loader, process.rank, process.world_size),
                                     loader, optimizer, device, steps_run, training["eval_freq"],
                                     training["eval_iter"], scheduler=scheduler, on_eval=report, progress=False,
                                     max_grad_norm=training["max_grad_norm"])
    finally:
        teardown_distributed()
    loop_seconds = time.perf_counter() - loop_start
    if not process.is_main:  # the other processes hold the same weights: nothing left to do
        return
    say(f"training loop: {steps_run} steps in {loop_seconds:.1f} s ({1000 * loop_seconds / steps_run:.0f} ms per "
        "step, evaluations included)", flush=True)
    model.eval()
    with torch.no_grad():
        val_loss = calc_loss_loader(loader, model, device)
    seconds = time.perf_counter() - start
    print(f"final validation loss over all {len(loader)} batches: {val_loss:.4f}; {seconds:.0f} s in all")

    metadata = {
        "config": cfg,
        "tokenizer": {"kind": "GPT-2 BPE, vocabulary cut to the corpus's token ids", "gpt2_ids": tokenizer.gpt2_ids},
        "corpus": {**CORPUS, "generator": "gpt_from_scratch.stories.make_stories"},
        "training": {**training, "optimizer": "AdamW", "schedule": "linear warm-up, cosine decay to 0.1 x lr",
                     "gradient_clipping": f"global norm at most {training['max_grad_norm']}",
                     "windows": "one per story, starting at its first token",
                     "device": device.type, "threads": args.threads, "processes": process.world_size,
                     "bf16_autocast": bf16, "compile": args.compile,
                     "torch": torch.__version__, "seconds": round(seconds)},
        "results": {"val_loss": val_loss, "val_batches": len(loader), "history": history},
        "step": steps_run,
        "storage": "float16, loaded back as float32" if args.early else "float32",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    dtype = torch.float16 if args.early else torch.float32
    tensors = {name: p.detach().to("cpu", dtype).contiguous() for name, p in model.named_parameters()}
    save_file(tensors, out, metadata={k: json.dumps(v) for k, v in metadata.items()})
    print(f"wrote {out} ({out.stat().st_size / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
