"""Train the story GPT that ships in the package (gpt_from_scratch/data/story_gpt.safetensors).

    python tools/train_story_model.py              # the shipped model (about 20 minutes on 2 CPU cores)
    python tools/train_story_model.py --steps 50 --out /tmp/trial.safetensors   # a quick trial

It uses the training code of notebook 10 (gpt_from_scratch.train) on the stories of
gpt_from_scratch.stories, from fixed seeds, on the CPU. Everything needed to check the result is
written into the file's metadata; tests/test_trained.py recomputes the validation loss from it.
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
from gpt_from_scratch.stories import make_stories  # noqa: E402
from gpt_from_scratch.train import (  # noqa: E402
    StoryTokenizer, calc_loss_loader, cosine_schedule, create_dataloader, encode_stories, story_starts,
    train_model_simple)
from gpt_from_scratch.trained import TRAINED_MODEL_FILE  # noqa: E402

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=TRAINING["steps"])
    parser.add_argument("--out", type=Path, default=TRAINED_MODEL_FILE)
    parser.add_argument("--threads", type=int, default=1, help="PyTorch threads (default 1)")
    parser.add_argument("--snapshots", type=Path, default=None,
                        help="a folder: also save the weights at every evaluation (step_NNNN.safetensors)")
    args = parser.parse_args()
    training = {**TRAINING, "steps": args.steps}
    # One thread by default: on a busy machine two threads wait on each other at every operation.
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    train_stories, val_stories = corpus_splits()
    tokenizer = StoryTokenizer.from_texts(train_stories + val_stories)
    train_ids, val_ids = encode_stories(train_stories, tokenizer), encode_stories(val_stories, tokenizer)
    print(f"{len(train_stories)} training stories ({len(train_ids):,} tokens), {len(val_stories)} validation "
          f"stories ({len(val_ids):,} tokens), vocabulary {tokenizer.n_vocab}", flush=True)

    cfg = {"vocab_size": tokenizer.n_vocab, **CONFIG}
    torch.manual_seed(training["seed"])
    model = GPTModel(cfg)
    # Every window starts at the beginning of a story, so the model always sees who the story is about.
    train_loader = create_dataloader(train_ids, training["batch_size"], training["max_length"], training["stride"],
                                     seed=training["seed"], starts=story_starts(train_ids, tokenizer.eot_id))
    loader = val_loader(val_ids, tokenizer.eot_id, training)
    optimizer = torch.optim.AdamW(model.parameters(), lr=training["lr"], weight_decay=training["weight_decay"])
    scheduler = cosine_schedule(optimizer, training["steps"], training["warmup_steps"])

    def report(step, train_loss, val_loss):
        print(f"step {step:5d}  train {train_loss:.4f}  val {val_loss:.4f}  "
              f"{time.perf_counter() - start:6.0f} s", flush=True)
        if args.snapshots is not None:
            args.snapshots.mkdir(parents=True, exist_ok=True)
            save_file({n: p.detach().clone() for n, p in model.named_parameters()},
                      args.snapshots / f"step_{step:04d}.safetensors", metadata={"step": str(step)})

    history = train_model_simple(model, train_loader, loader, optimizer, "cpu", training["steps"],
                                 training["eval_freq"], training["eval_iter"], scheduler=scheduler,
                                 on_eval=report, progress=False,
                                 max_grad_norm=training["max_grad_norm"])
    model.eval()
    with torch.no_grad():
        val_loss = calc_loss_loader(loader, model, "cpu")
    seconds = time.perf_counter() - start
    print(f"final validation loss over all {len(loader)} batches: {val_loss:.4f}; {seconds:.0f} s in all")

    metadata = {
        "config": cfg,
        "tokenizer": {"kind": "GPT-2 BPE, vocabulary cut to the corpus's token ids", "gpt2_ids": tokenizer.gpt2_ids},
        "corpus": {**CORPUS, "generator": "gpt_from_scratch.stories.make_stories"},
        "training": {**training, "optimizer": "AdamW", "schedule": "linear warm-up, cosine decay to 0.1 x lr",
                     "gradient_clipping": f"global norm at most {training['max_grad_norm']}",
                     "windows": "one per story, starting at its first token",
                     "device": "cpu", "threads": args.threads, "torch": torch.__version__, "seconds": round(seconds)},
        "results": {"val_loss": val_loss, "val_batches": len(loader), "history": history},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tensors = {name: p.detach().contiguous() for name, p in model.named_parameters()}
    save_file(tensors, args.out, metadata={k: json.dumps(v) for k, v in metadata.items()})
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
