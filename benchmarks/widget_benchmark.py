"""How live the notebooks' widgets feel: the time from a control change to the new output, per widget.

    python benchmarks/widget_benchmark.py               # widget redraws (about a minute on 2 cores)
    python benchmarks/widget_benchmark.py --notebooks   # also "Restart and run all" for every notebook

Each widget is built as its notebook builds it, then one control is changed REPEATS times (alternating
between two values, so every change really redraws); the figure reported is the median and the slowest of
those redraws, measured in the kernel (setting the control runs the redraw synchronously). The browser
adds the comm round trip and the image decoding on top, typically a few tens of milliseconds; the browser
test (tests/test_browser.py) prints what it measured end to end.

The generation playground's model: `load_trained_gpt()` (the small trained GPT of notebook 10) when the
package has it, otherwise a random GPTModel of the same kind of size (vocabulary 3000, 192 dimensions,
4 layers, 4 heads, context 256) with a byte-level stand-in tokenizer; the script says which. The untrained
124M model that notebooks 05 and 11 build is measured too, for comparison.

`--notebooks` executes every notebook in a fresh kernel (CPU, like tools/run_notebooks.py, into a
temporary copy: nothing in notebooks/ changes) and reports the wall time of each.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import torch  # noqa: E402

from gpt_from_scratch import GPT_CONFIG_124M, GPTModel, get_tokenizer  # noqa: E402
from gpt_from_scratch import widgets as W  # noqa: E402

REPEATS = 5
BUDGET_MS = 300


class ByteTokenizer:
    """A stand-in tokenizer for a small random model: one id per UTF-8 byte (ids 256.. decode to nothing)."""

    n_vocab = 3000

    def encode(self, text, allowed_special=()):
        return list(text.encode("utf-8"))

    def decode(self, ids):
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


def small_model():
    """(model, tokenizer, description) for the generation playground."""
    try:
        from gpt_from_scratch import load_trained_gpt
    except ImportError:
        load_trained_gpt = None
    if load_trained_gpt is not None:
        model, tokenizer = load_trained_gpt()
        n = sum(p.numel() for p in model.parameters())
        return model.eval(), tokenizer, f"load_trained_gpt(): the trained GPT, {n / 1e6:.1f} M parameters"
    cfg = {"vocab_size": 3000, "context_length": 256, "emb_dim": 192, "n_heads": 4, "n_layers": 4,
           "drop_rate": 0.1, "qkv_bias": False}
    torch.manual_seed(123)
    model = GPTModel(cfg).eval()
    n = sum(p.numel() for p in model.parameters())
    return model, ByteTokenizer(), (f"a random GPTModel (no load_trained_gpt in this package): vocabulary 3000, "
                                    f"emb 192, 4 layers, 4 heads, context 256, {n / 1e6:.1f} M parameters")


def redraw_ms(playground, name, values, setup=None):
    """Median and slowest redraw, in ms, when controls[name] alternates over `values`."""
    if setup:
        playground.set(**setup)
    control = playground.controls[name]
    times = []
    for k in range(REPEATS):
        value = values[k % len(values)]
        started = time.perf_counter()
        control.value = value
        times.append(1000 * (time.perf_counter() - started))
        text = "".join(out.get("text", "") or out.get("data", {}).get("text/plain", "")
                       for out in playground.output.outputs)
        assert "Cannot show this" not in text, text
    return statistics.median(times), max(times)


def widget_rows():
    model, tokenizer, description = small_model()
    print(f"generation playground model: {description}", flush=True)
    torch.manual_seed(123)
    gpt124m = GPTModel(GPT_CONFIG_124M).eval()
    gpt2 = get_tokenizer()
    has_top_p = "top_p" in W.generation_playground(model, tokenizer).controls
    rows = [
        ("activation_playground (03): x range", W.activation_playground(), "x_range", [(-3.5, 4.0), (-4.0, 4.0)], None),
        ("layernorm_playground (02): shift", W.layernorm_playground(), "shift", [3.5, 3.0], None),
        ("model_size_explorer (08): size", W.model_size_explorer(), "preset",
         ["gpt2-medium (355M)", "gpt2-small (124M)"], None),
        ("attention_explorer (05, 124M): head", W.attention_explorer(gpt124m, gpt2), "head", [1, 0], None),
        ("attention_explorer (05, 124M): new text", W.attention_explorer(gpt124m, gpt2), "text",
         ["The cat sat on the mat", "The robot picked up the ball because it was light"], None),
    ]
    for label, m, tok in (("small model", model, tokenizer), ("untrained 124M, for comparison", gpt124m, gpt2)):
        for new in (6, 20):
            setup = {"max_new_tokens": new, "temperature": 0.0}
            rows.append((f"generation_playground ({label}), {new} new tokens: temperature",
                         W.generation_playground(m, tok), "temperature", [0.8, 1.0], setup))
        if has_top_p:
            rows.append((f"generation_playground ({label}), 20 new tokens: top-p",
                         W.generation_playground(m, tok), "top_p", [0.9, 0.8],
                         {"max_new_tokens": 20, "temperature": 1.0}))
    results = []
    for label, playground, name, values, setup in rows:
        median, slowest = redraw_ms(playground, name, values, setup)
        results.append((label, median, slowest))
        print(f"  {label:<78} median {median:7.0f} ms   slowest {slowest:7.0f} ms"
              f"{'' if slowest <= BUDGET_MS else f'   (over {BUDGET_MS} ms)'}", flush=True)
    return results


def notebook_rows():
    import nbformat
    from nbclient import NotebookClient

    env = {"OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"), "PYTHONHASHSEED": "0",
           "CUDA_VISIBLE_DEVICES": "", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    os.environ.update(env)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            started = time.perf_counter()
            NotebookClient(nb, timeout=600, kernel_name="python3",
                           resources={"metadata": {"path": str(path.parent)}}).execute()
            seconds = time.perf_counter() - started
            nbformat.write(nb, Path(tmp) / path.name)
            results.append((path.name, seconds))
            print(f"  {path.name:<40} {seconds:6.1f} s (kernel start included)", flush=True)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", action="store_true", help='also time "Restart and run all" per notebook')
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores", flush=True)
    print("widget redraws (ms, in the kernel):", flush=True)
    widget_rows()
    if args.notebooks:
        print("restart and run all (s):", flush=True)
        notebook_rows()


if __name__ == "__main__":
    main()
