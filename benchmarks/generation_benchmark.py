"""Generation and forward-pass speed of gpt_from_scratch vs Hugging Face transformers, same machine, same weights.

Run from the repository root:  python benchmarks/generation_benchmark.py   (needs requirements-dev.txt)
See benchmarks/README.md for what every number means. Nothing is downloaded: the weights are a
random GPT-2 124M built with transformers, saved to a temporary directory and loaded into GPTModel.
"""

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from gpt_from_scratch import GPTModel, generate, generate_text_simple, text_to_token_ids  # noqa: E402
from gpt_from_scratch.params import count_parameters  # noqa: E402

MB = 1024**2


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def peak_rss_mb():
    """Peak resident set size of this process so far (resource.getrusage; Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / MB if sys.platform == "darwin" else peak / 1024


def rss_mb():
    """Current resident set size from /proc/self/statm (Linux); None elsewhere."""
    try:
        with open("/proc/self/statm", encoding="utf-8") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MB
    except (OSError, ValueError, AttributeError):
        return None


def timed(fn, repeats, warmup=None):
    """Median wall time of `repeats` calls of fn after calling `warmup` (default: fn) once; also the last result."""
    (warmup or fn)()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def discard(_):
    """Drop a result at once (timing a load should not keep the loaded model alive)."""
    return None


def copy_bandwidth(size_mb=256, repeats=5):
    """Bytes moved per second (read + write) by copying a large float32 tensor; the median of a few copies."""
    src = torch.ones(size_mb * MB // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    seconds, _ = timed(lambda: dst.copy_(src), repeats)
    return 2 * src.numel() * 4 / seconds


BUILD = """
import sys, torch, transformers
transformers.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()
torch.manual_seed(int(sys.argv[2]))
config = transformers.GPT2Config(activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                 bos_token_id=None, eos_token_id=None)  # no eos: every run makes all its tokens
transformers.GPT2LMHeadModel(config).save_pretrained(sys.argv[1])
"""


def build_checkpoint(directory, seed):
    """A random GPT-2 124M saved by transformers (safetensors), built in a subprocess so that its memory
    does not count in this process's peak RSS."""
    subprocess.run([sys.executable, "-c", BUILD, str(directory), str(seed)], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--simple-repeats", type=int, default=1,
                        help="timed runs of generate_text_simple, the slow path (default 1, after a short warm-up)")
    parser.add_argument("--forward-batch", type=int, default=4)
    parser.add_argument("--forward-seq", type=int, default=256)
    args = parser.parse_args()

    import transformers
    from transformers import GPT2LMHeadModel

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    print(f"CPU: {cpu_model()}; torch threads: {torch.get_num_threads()}; cores seen: {os.cpu_count()}")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, python {platform.python_version()}")
    print(f"timings: median of {args.repeats} runs after a short warm-up run "
          f"({args.simple_repeats} for generate_text_simple)\n")
    rows = []

    with tempfile.TemporaryDirectory() as tmp:
        build_checkpoint(tmp, seed=0)
        rss_start = rss_mb()
        start = time.perf_counter()
        ours = GPTModel.from_pretrained(tmp)
        first_load = time.perf_counter() - start
        rss_ours = rss_mb()
        hf = GPT2LMHeadModel.from_pretrained(tmp).eval()
        rss_both = rss_mb()
        # The timed loads drop each model at once, so at most one extra copy is alive at a time.
        load_ours, _ = timed(lambda: discard(GPTModel.from_pretrained(tmp)), args.repeats)
        load_hf, _ = timed(lambda: discard(GPT2LMHeadModel.from_pretrained(tmp)), args.repeats)
        cfg = ours_cfg(ours)
        init_random, _ = timed(lambda: discard(GPTModel(cfg)), 1, warmup=lambda: None)
    print(f"load the 124M checkpoint: GPTModel.from_pretrained {load_ours:.2f} s (first call in this process "
          f"{first_load:.2f} s), GPT2LMHeadModel.from_pretrained {load_hf:.2f} s; for comparison, "
          f"GPTModel(cfg) with random initialization {init_random:.2f} s")
    if rss_start is not None:
        print(f"resident memory (/proc/self/statm): {rss_start:.0f} MB before loading, +{rss_ours - rss_start:.0f} MB "
              f"after GPTModel.from_pretrained, +{rss_both - rss_ours:.0f} MB more after GPT2LMHeadModel")
    print()

    prompt = text_to_token_ids("Every effort moves you")  # (1, 4)
    n = args.new_tokens
    context = ours.pos_emb.num_embeddings
    def hf_greedy(steps):
        return hf.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, use_cache=True,
                           max_new_tokens=steps, pad_token_id=0)

    warm = 8  # warm-up runs make 8 tokens: they only have to touch every weight and code path once
    with torch.inference_mode():
        t_simple, out_simple = timed(lambda: generate_text_simple(ours, prompt, n, context), args.simple_repeats,
                                     warmup=lambda: generate_text_simple(ours, prompt, warm, context))
        t_cache, out_cache = timed(lambda: generate(ours, prompt, n, use_cache=True), args.repeats,
                                   warmup=lambda: generate(ours, prompt, warm))
        t_hf, out_hf = timed(lambda: hf_greedy(n), args.repeats, warmup=lambda: hf_greedy(warm))
    same = torch.equal(out_simple, out_cache) and torch.equal(out_cache, out_hf)
    print(f"greedy, batch 1, prompt {prompt.shape[1]} tokens, {n} new tokens: identical tokens from all three: {same}")
    rows += [
        ("generate_text_simple (no cache)", n / t_simple),
        ("gpt_from_scratch generate (KV cache)", n / t_cache),
        ("transformers generate (use_cache=True)", n / t_hf),
    ]
    rss_generation = peak_rss_mb()

    batch = torch.randint(0, 50257, (args.forward_batch, args.forward_seq), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        t_fwd_ours, logits_ours = timed(lambda: ours(batch), args.repeats)
        t_fwd_hf, logits_hf = timed(lambda: hf(batch).logits, args.repeats)
        max_diff = (logits_ours - logits_hf).abs().max().item()
    del logits_ours, logits_hf
    n_fwd = batch.numel()
    rows += [
        (f"forward {args.forward_batch}x{args.forward_seq}, gpt_from_scratch", n_fwd / t_fwd_ours),
        (f"forward {args.forward_batch}x{args.forward_seq}, transformers", n_fwd / t_fwd_hf),
    ]

    # Memory-bandwidth bound for batch-1 decoding: every generated token reads every weight once
    # (the blocks, the final norm and the output head; one row of each embedding).
    d = ours.tok_emb.embedding_dim
    weight_bytes = (count_parameters(ours) - ours.tok_emb.weight.numel() - ours.pos_emb.weight.numel() + 2 * d) * 4
    bandwidth = copy_bandwidth()
    bound = bandwidth / weight_bytes
    rows += [("memory-bandwidth bound, batch-1 decoding", bound)]

    width = max(len(name) for name, _ in rows)
    print("\n" + "-" * (width + 26))
    print(f"{'':<{width}}  {'tokens/s':>9}  {'ms/token':>9}")
    for name, value in rows:
        print(f"{name:<{width}}  {value:>9.1f}  {1000 / value:>9.2f}")
    print("-" * (width + 26))
    print(f"ours / transformers, KV-cache generation:  {t_hf / t_cache:.2f}x")
    print(f"ours / transformers, forward pass:         {t_fwd_hf / t_fwd_ours:.2f}x")
    print(f"KV cache / no cache (ours):                {t_simple / t_cache:.2f}x")
    print(f"achieved / bound, ours with KV cache:      {(n / t_cache) / bound:.2f}")
    print(f"achieved / bound, transformers:            {(n / t_hf) / bound:.2f}")
    positions = prompt.shape[1] + n
    cache_bytes = 2 * len(ours.trf_blocks) * positions * d * 4
    print(f"\nweights read per generated token: {weight_bytes / MB:.0f} MiB float32 "
          f"(GPTModel has {count_parameters(ours) / 1e6:.1f}M parameters; per token it reads all but the two "
          "embedding tables, of which it reads one row each. Its output head is a copy of the token "
          "embedding, which GPT2LMHeadModel ties instead, so both read the same bytes per token)")
    print(f"KV cache at {positions} positions: {cache_bytes / MB:.1f} MiB (not in the bound; read once per token too)")
    print(f"copy bandwidth (bytes read + written per second, 256 MiB float32 tensor): {bandwidth / 1e9:.1f} GB/s")
    print(f"forward logits max |ours - transformers|: {max_diff:.2e}")
    print(f"peak RSS (resource.getrusage ru_maxrss: the whole process's high-water mark, both models loaded): "
          f"{rss_generation:.0f} MiB after generation, {peak_rss_mb():.0f} MiB after the forward passes")


def ours_cfg(model):
    """The cfg a loaded GPTModel was built from (for timing a random initialization of the same size)."""
    att = model.trf_blocks[0].att
    return {
        "vocab_size": model.tok_emb.num_embeddings, "context_length": model.pos_emb.num_embeddings,
        "emb_dim": model.tok_emb.embedding_dim, "n_heads": att.num_heads, "n_layers": len(model.trf_blocks),
        "drop_rate": 0.0, "qkv_bias": att.W_query.bias is not None,
    }


if __name__ == "__main__":
    main()
