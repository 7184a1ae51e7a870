"""Train the story GPT and its Llama-style variants, one change at a time, and record what each change does.

    python tools/train_variants.py                 # writes gpt_from_scratch/data/llama_variants.json
    python tools/train_variants.py --steps 10 --stories 400 --out /tmp/trial.json   # a quick trial

The recorded file took 842 s on a 2-core machine shared with other jobs (one thread); on idle cores it
is a few minutes.

The ladder: GPT-2 (the series' GPTModel) -> + RMSNorm -> + no biases -> + RoPE -> + SwiGLU -> + GQA
(= the Llama recipe). Every variant is trained with notebook 10's train_model_simple on the same
story windows, in the same order, from the same seed, with the same optimizer and schedule, for the
same number of steps. Notebook 14 plots the file this writes; it does not retrain.

Recorded per variant: parameters, the loss curves, the final validation loss (one window per
validation story), KV-cache bytes per token (formula and a real cache), the loss by position on
windows twice as long as the trained context (RoPE variants only: learned positions have no embedding
there), and training throughput measured in alternating rounds after all runs (the machine was shared
with other jobs, so only the ratios between variants mean something).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gpt_from_scratch import GPTModel, KVCache, LlamaModel  # noqa: E402
from gpt_from_scratch.llama import kv_cache_bytes_per_token, swiglu_hidden_dim  # noqa: E402
from gpt_from_scratch.stories import entropy_floor, story_surprisals  # noqa: E402
from gpt_from_scratch.train import (  # noqa: E402
    StoryTokenizer, calc_loss_loader, cosine_schedule, create_dataloader, encode_stories, story_starts,
    train_model_simple)

OUT = ROOT / "gpt_from_scratch" / "data" / "llama_variants.json"
CORPUS = {"n_stories": 2_000, "seed": 0, "n_val_stories": 500}  # 60 steps of 8 windows use 480 of the 1,500 training stories
SIZE = {"emb_dim": 128, "n_heads": 4, "n_layers": 4, "context_length": 128}  # the story GPT's size, shorter windows
TRAINING = {"seed": 123, "batch_size": 8, "max_length": 128, "lr": 2e-3, "weight_decay": 0.1, "warmup_steps": 20,
            "steps": 60, "eval_freq": 10, "eval_iter": 2, "val_batches": 20, "max_grad_norm": 1.0}
GPT = {"norm": "layernorm", "positions": "learned", "feed_forward": "gelu", "bias": True, "n_kv_heads": 4,
       "hidden_dim": 4 * SIZE["emb_dim"]}
# Each step adds one change to the previous one. GQA halves the key/value heads; as Llama 2 did, the
# feed-forward net gets the freed parameters back (hidden 344 -> 384).
LADDER = [
    ("GPT-2", None),
    ("+ RMSNorm", {"norm": "rmsnorm"}),
    ("+ no biases", {"bias": False}),
    ("+ RoPE", {"positions": "rope"}),
    ("+ SwiGLU", {"feed_forward": "swiglu", "hidden_dim": swiglu_hidden_dim(SIZE["emb_dim"])}),
    ("+ GQA (Llama)", {"n_kv_heads": 2, "hidden_dim": 384}),
]


def variant_configs(vocab_size):
    """(name, model config) for every step of the ladder; the first is a GPTModel config."""
    configs, llama = [], {"vocab_size": vocab_size, **SIZE, **GPT}
    for name, change in LADDER:
        if change is None:
            configs.append((name, {"vocab_size": vocab_size, **SIZE, "drop_rate": 0.0, "qkv_bias": False}))
        else:
            llama = {**llama, **change}
            configs.append((name, dict(llama)))
    return configs


def build(cfg):
    torch.manual_seed(TRAINING["seed"])
    return LlamaModel(cfg) if "norm" in cfg else GPTModel(cfg)


def kv_bytes(model, cfg):
    """(formula, measured): bytes per token of a real cache, filled with one position per layer."""
    if isinstance(model, LlamaModel):
        cache, formula = model.new_cache(1, 16), kv_cache_bytes_per_token(cfg)
    else:
        cache = KVCache.for_model(model, 1, 16)
        formula = 2 * cfg["n_layers"] * cfg["emb_dim"] * 4
    total = sum(t.numel() * t.element_size() for t in cache.keys + cache.values)
    return formula, total // cache.capacity


def loss_by_position(model, ids, length, n_windows=64, bucket=16):
    """Mean loss at each bucket of positions over windows of `length` tokens starting at story starts."""
    starts = [s for s in story_starts(ids, EOT[0]) if s + length + 1 <= len(ids)][:n_windows]
    x = torch.stack([torch.tensor(ids[s:s + length]) for s in starts])
    y = torch.stack([torch.tensor(ids[s + 1:s + length + 1]) for s in starts])
    with torch.no_grad():
        logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="none").view(x.shape)
    return loss.mean(0).view(-1, bucket).mean(1).tolist()


EOT = [None]


def throughput(models, loader, rounds=3, steps=1):
    """Training tokens per second of each model, timed in alternating rounds; the median round counts."""
    times = {name: [] for name in models}
    batches = [b for _, b in zip(range(steps), loader)]
    for _ in range(rounds):
        for name, model in models.items():
            opt = torch.optim.AdamW(model.parameters(), lr=1e-6)
            model.train()
            start = time.perf_counter()
            for x, y in batches:
                opt.zero_grad()
                torch.nn.functional.cross_entropy(model(x).flatten(0, 1), y.flatten()).backward()
                opt.step()
            times[name].append(time.perf_counter() - start)
    tokens = sum(x.numel() for x, _ in batches)
    return {name: tokens / sorted(t)[len(t) // 2] for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=TRAINING["steps"])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--floor-only", action="store_true", help="only add the entropy floor to --out")
    parser.add_argument("--stories", type=int, default=CORPUS["n_stories"], help="fewer stories for a trial")
    args = parser.parse_args()
    corpus = {**CORPUS, "n_stories": args.stories, "n_val_stories": min(CORPUS["n_val_stories"], args.stories // 4)}
    corpus["generator"] = "gpt_from_scratch.stories.make_stories"
    training = {**TRAINING, "steps": args.steps}
    torch.set_num_threads(1)  # the machine was shared by many jobs: one thread wastes least
    start = time.perf_counter()
    stories, nats = story_surprisals(corpus["n_stories"], seed=corpus["seed"])  # make_stories' stories
    train_stories, val_stories = stories[:-corpus["n_val_stories"]], stories[-corpus["n_val_stories"]:]
    tokenizer = StoryTokenizer.from_texts(stories)
    EOT[0] = tokenizer.eot_id
    corpus["vocab_size"] = tokenizer.n_vocab
    n_val = corpus["n_val_stories"]
    # The grammar's entropy floor of the validation stories (whole stories, nats per token): no model can
    # do better on average. The windows hold each story's first max_length tokens, so theirs differs a little.
    corpus["val_entropy_floor"] = entropy_floor(stories[-n_val:], nats[-n_val:], tokenizer)
    if args.floor_only:  # add the floor to a file written before it could be computed
        record = json.loads(args.out.read_text())
        record["corpus"]["val_entropy_floor"] = corpus["val_entropy_floor"]
        args.out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"entropy floor {corpus['val_entropy_floor']:.4f} nats/token added to {args.out}")
        return
    train_ids, val_ids = encode_stories(train_stories, tokenizer), encode_stories(val_stories, tokenizer)
    print(f"corpus ready, vocabulary {tokenizer.n_vocab}, {time.perf_counter() - start:.0f} s", flush=True)

    def loaders():
        length = training["max_length"]
        train = create_dataloader(train_ids, training["batch_size"], length, length, seed=training["seed"],
                                  starts=story_starts(train_ids, tokenizer.eot_id))
        val = create_dataloader(val_ids, training["batch_size"], length, length, shuffle=False, drop_last=False,
                                starts=story_starts(val_ids, tokenizer.eot_id))
        return train, val

    results, models = [], {}
    for name, cfg in variant_configs(tokenizer.n_vocab):
        model = build(cfg)
        train_loader, val_loader = loaders()
        optimizer = torch.optim.AdamW(model.parameters(), lr=training["lr"], weight_decay=training["weight_decay"])
        scheduler = cosine_schedule(optimizer, training["steps"], training["warmup_steps"])
        t0 = time.perf_counter()
        history = train_model_simple(model, train_loader, val_loader, optimizer, "cpu", training["steps"],
                                     training["eval_freq"], training["eval_iter"], scheduler=scheduler,
                                     progress=False, max_grad_norm=training["max_grad_norm"])
        seconds = time.perf_counter() - t0
        model.eval()
        with torch.no_grad():
            val_loss = calc_loss_loader(val_loader, model, "cpu", num_batches=training["val_batches"])
        formula, measured = kv_bytes(model, cfg)
        positions = cfg.get("positions", "learned")
        long_loss = loss_by_position(model, val_ids, 2 * training["max_length"]) if positions == "rope" else None
        results.append({"name": name, "config": cfg, "params": sum(p.numel() for p in model.parameters()),
                        "val_loss": val_loss, "history": history, "train_seconds": seconds,
                        "kv_bytes_per_token": formula, "kv_bytes_per_token_measured": measured,
                        "loss_by_position_2x_context": long_loss})
        models[name] = model
        save(args.out, corpus, training, results, start)
        print(f"{name:14s} params {results[-1]['params']:,}  val {val_loss:.4f}  kv {measured} B/token  "
              f"{seconds:.0f} s", flush=True)
    speeds = throughput(models, loaders()[0])
    for r in results:
        r["train_tokens_per_s"] = speeds[r["name"]]
    save(args.out, corpus, training, results, start)
    print(f"wrote {args.out}; {time.perf_counter() - start:.0f} s in all")


def save(out, corpus, training, results, start):
    """Write what is measured so far (after every variant, so a long run leaves usable results)."""
    record = {"corpus": corpus, "size": SIZE,
              "training": {**training, "optimizer": "AdamW", "schedule": "linear warm-up, cosine decay to 0.1 x lr",
                           "windows": "one per story, from its first token", "threads": 1,
                           "torch": torch.__version__},
              "throughput_note": ("tokens/s of training steps (forward, backward, AdamW) timed in 3 alternating "
                                  "rounds of one step after all runs, on 1 CPU thread of a machine shared with other jobs: "
                                  "compare ratios, not absolute values"),
              "loss_by_position_bucket": 16, "variants": results,
              "seconds": time.perf_counter() - start}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
