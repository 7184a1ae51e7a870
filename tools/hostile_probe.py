"""Throw hostile and odd input, as learners type it, at the training surface and count what happens.

    python tools/hostile_probe.py            # one line per class of issue 21, counts per outcome
    python tools/hostile_probe.py --details  # and one line per case

Each case is a call with what should happen: an error (a clear ValueError/TypeError, or OSError for a disk
that fails), a result that a check confirms, or for an exercise checker a "not yet". Outcomes:

    clear    the package refused the input with a ValueError/TypeError raised by its own code
    correct  the call returned and the result is right
    refused  the package refused something it should accept (a prompt the model can read)
    silent   the call returned a wrong result, or accepted what it should refuse
    deep     any other exception, or one raised from inside torch, tiktoken, safetensors or Python
    hang     no answer within --timeout seconds

The probe runs in one process whose address space is capped (--memory-gib), so that a request for
many GiB fails as an allocation error (a deep error) instead of swapping. It uses only names that
existed before issue 21, so that it also runs on older commits for a before/after comparison.
"""

import argparse
import contextlib
import json
import math
import os
import resource
import signal
import sys
import tempfile
import traceback
from collections import Counter
from pathlib import Path

import torch

PACKAGE = str(Path(__file__).resolve().parents[1] / "gpt_from_scratch")
OUTCOMES = ("clear", "correct", "refused", "silent", "deep", "hang")
CASES = []  # (class, name, function, expectation)


class Hang(Exception):
    pass


def case(cls, name, expect="error"):
    """Register `function` as a case; `expect` is 'error', 'not yet' (a checker) or a check of the result."""
    def register(function):
        CASES.append((cls, name, function, expect))
        return function
    return register


def raised_by_package(err):
    """Raised by a `raise` statement of the package (not by torch, or by Python inside a package line)."""
    frames = traceback.extract_tb(err.__traceback__)
    return bool(frames) and frames[-1].filename.startswith(PACKAGE) and (frames[-1].line or "").startswith("raise")


def run_case(function, expect, timeout):
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        result = function()
    except Hang:
        return "hang", ""
    except (ValueError, TypeError) as err:
        if expect == "not yet":
            return "deep", f"{type(err).__name__}: {err}"[:150]
        ok = raised_by_package(err)
        if expect == "error":
            return ("clear" if ok else "deep"), f"{type(err).__name__}: {err}"[:150]
        return ("refused" if ok else "deep"), f"{type(err).__name__}: {err}"[:150]
    except Exception as err:  # noqa: BLE001
        return "deep", f"{type(err).__name__}: {err}"[:150]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    if isinstance(result, tuple) and result and result[0] in OUTCOMES:  # the case judged itself
        return result[0], str(result[1])[:150]
    if expect == "error":
        return "silent", f"returned {result!r}"[:150]
    if expect == "not yet":  # a checker answers every answer: any exception is a crash
        status = getattr(result, "status", None)
        return ("clear" if status == "not yet" else "silent"), f"status {status!r}"
    return ("correct" if expect(result) else "silent"), f"returned {result!r}"[:150]


# ----------------------------------------------------------------------------- shared objects


def shared():
    from gpt_from_scratch import GPTModel
    from gpt_from_scratch.stories import make_stories
    from gpt_from_scratch.train import StoryTokenizer, create_dataloader
    from gpt_from_scratch.trained import load_trained_gpt

    stories = make_stories(30, seed=5)
    tokenizer = StoryTokenizer.from_texts(stories)
    ids = []
    for s in stories:
        ids += tokenizer.encode(s) + [tokenizer.eot_id]
    cfg = {"vocab_size": tokenizer.n_vocab, "context_length": 16, "emb_dim": 16, "n_heads": 2, "n_layers": 1,
           "drop_rate": 0.5, "qkv_bias": False}

    def small():
        torch.manual_seed(0)
        model = GPTModel(cfg)
        train = create_dataloader(ids[:2000], batch_size=4, max_length=16, stride=16)
        val = create_dataloader(ids[2000:], batch_size=4, max_length=16, stride=16, shuffle=False)
        return model, train, val, torch.optim.AdamW(model.parameters(), lr=1e-3)

    return {"stories": stories, "tokenizer": tokenizer, "ids": ids, "small": small, "cfg": cfg,
            "shipped": load_trained_gpt()}


S = {}


def train(model, train_loader, val_loader, optimizer, **kwargs):
    from gpt_from_scratch.train import train_model_simple

    args = {"num_steps": 5, "eval_freq": 2, "eval_iter": 1, "progress": False, **kwargs}
    return train_model_simple(model, train_loader, val_loader, optimizer, "cpu", **args)


def finite_model(model):
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


# ----------------------------------------------------------------------------- aggregates that misread their input

A = "aggregates that misread their input"


@case(A, "grammar_report(one story as a str)")
def _():
    from gpt_from_scratch.stories import grammar_report
    return grammar_report(S["stories"][0])


@case(A, "grammar_report(['']) calls the empty story consistent", lambda r: r.consistent == 0)
def _():
    from gpt_from_scratch.stories import grammar_report
    return grammar_report([""])


@case(A, "check_story(a list)")
def _():
    from gpt_from_scratch.stories import check_story
    return check_story(S["stories"][:2])


for _n in (-1, 2.5, 0, "2"):
    @case(A, f"calc_loss_loader(num_batches={_n!r})")
    def _(n=_n):
        from gpt_from_scratch.train import calc_loss_loader
        model, _, val, _ = S["small"]()
        with torch.no_grad():
            return calc_loss_loader(val, model.eval(), "cpu", num_batches=n)


@case(A, "calc_loss_loader(num_batches=10**6) is the mean of all batches",
      lambda r: math.isclose(r[0], r[1], rel_tol=1e-6))
def _():
    from gpt_from_scratch.train import calc_loss_batch, calc_loss_loader
    model, _, val, _ = S["small"]()
    model.eval()
    with torch.no_grad():
        losses = [calc_loss_batch(x, y, model, "cpu").item() for x, y in val]
        return calc_loss_loader(val, model, "cpu", num_batches=10**6), sum(losses) / len(losses)


# ----------------------------------------------------------------------------- training that fails silently or never ends

T = "training that fails silently or never ends"


@case(T, "a NaN learning rate")
def _():
    model, tr, val, opt = S["small"]()
    opt.param_groups[0]["lr"] = float("nan")
    history = train(model, tr, val, opt)
    return ("silent", "NaN weights, no word") if not finite_model(model) else history


@case(T, "a learning rate of 1e30")
def _():
    model, tr, val, _ = S["small"]()
    history = train(model, tr, val, torch.optim.SGD(model.parameters(), lr=1e30), num_steps=20)
    return ("silent", "NaN weights or losses, no word") if not finite_model(model) else history


@case(T, "an empty training loader (a dataset with no window)")
def _():
    model, tr, val, opt = S["small"]()
    tr.dataset.starts = []
    return train(model, tr, val, opt)


class OneShot:
    """A loader with a length whose batches run out after one pass (an iterator dressed as a loader)."""

    def __init__(self, loader):
        self.batches = iter(list(loader))
        self.n = len(loader)

    def __len__(self):
        return self.n

    def __iter__(self):
        return self.batches


@case(T, "a training loader that runs out after one pass")
def _():
    model, tr, val, opt = S["small"]()
    return train(model, OneShot(tr), val, opt, num_steps=10**4)


for _exc in (KeyboardInterrupt, RuntimeError):
    @case(T, f"{_exc.__name__} during training leaves eval mode and no gradients", lambda r: r == (False, True))
    def _(exc=_exc):
        model, tr, val, opt = S["small"]()

        def stop(step, *losses):
            if step == 2:
                raise exc("stop")
        try:
            train(model, tr, val, opt, on_eval=stop)
        except exc:
            pass
        return model.training, all(p.grad is None for p in model.parameters())


@case(T, "an optimizer built for another model's parameters")
def _():
    from gpt_from_scratch import GPTModel
    model, tr, val, _ = S["small"]()
    other = GPTModel({**S["cfg"], "drop_rate": 0.0})
    before = [p.detach().clone() for p in model.parameters()]
    train(model, tr, val, torch.optim.AdamW(other.parameters(), lr=1e-2))
    unchanged = all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    return ("silent", "trained nothing without a word") if unchanged else "changed"


@case(T, "progress='no'")
def _():
    model, tr, val, opt = S["small"]()
    return train(model, tr, val, opt, progress="no")


# ----------------------------------------------------------------------------- a model file loaded on trust

F = "a model file loaded on trust"


def edited_file(edit_tensors=None, edit_meta=None, raw=None):
    from safetensors.torch import load_file, save_file

    from gpt_from_scratch.trained import TRAINED_MODEL_FILE, trained_model_metadata

    path = Path(tempfile.mkdtemp()) / "edited.safetensors"
    if raw is not None:
        path.write_bytes(raw(TRAINED_MODEL_FILE.read_bytes()))
        return path
    tensors = load_file(TRAINED_MODEL_FILE)
    meta = {k: json.dumps(v) for k, v in trained_model_metadata().items()}
    if edit_tensors:
        edit_tensors(tensors)
    if edit_meta:
        edit_meta(meta)
    save_file(tensors, path, metadata=meta)
    return path


def _tensor_edit(change):
    def edit(tensors):
        tensors["tok_emb.weight"] = change(tensors["tok_emb.weight"])
    return edit


FILE_CASES = {
    "NaN weights": dict(edit_tensors=_tensor_edit(lambda t: t.clone().fill_(float("nan")))),
    "inf weights": dict(edit_tensors=_tensor_edit(lambda t: t.clone().fill_(float("inf")))),
    "integer weights": dict(edit_tensors=_tensor_edit(lambda t: t.long())),
    "bool weights": dict(edit_tensors=_tensor_edit(lambda t: t > 0)),
    "a stored causal mask of zeros (reads the future)": dict(
        edit_tensors=lambda t: t.update({f"trf_blocks.{i}.att.mask": torch.zeros(256, 256, dtype=torch.bool)
                                         for i in range(4)})),
    "a vocabulary shorter than the model's": dict(
        edit_meta=lambda m: m.update(tokenizer=json.dumps({"gpt2_ids": [11, 13, 64]}))),
    "metadata that is not JSON": dict(edit_meta=lambda m: m.update(config="{not json")),
    "no tokenizer in the metadata": dict(edit_meta=lambda m: m.pop("tokenizer")),
    "a missing weight": dict(edit_tensors=lambda t: t.pop("final_norm.scale")),
    "a truncated file": dict(raw=lambda data: data[: len(data) // 2]),
    "an empty file": dict(raw=lambda data: b""),
    "random bytes": dict(raw=lambda data: os.urandom(500)),
}
for _name, _kwargs in FILE_CASES.items():
    @case(F, f"load_trained_gpt(path=file with {_name})")
    def _(kwargs=_kwargs):
        from gpt_from_scratch.trained import load_trained_gpt
        return load_trained_gpt(path=edited_file(**kwargs))


@case(F, "load_trained_gpt(path=None)")
def _():
    from gpt_from_scratch.trained import load_trained_gpt
    return load_trained_gpt(path=None)


# ----------------------------------------------------------------------------- loose types taken silently

L = "loose types taken silently"


@case(L, "create_dataloader(float ids 452.7)")
def _():
    from gpt_from_scratch.train import create_dataloader
    return create_dataloader([452.7] * 40, batch_size=2, max_length=4, stride=4)


@case(L, "create_dataloader(bool ids)")
def _():
    from gpt_from_scratch.train import create_dataloader
    return create_dataloader([True, False] * 20, batch_size=2, max_length=4, stride=4)


@case(L, "StoryTokenizer([262.7])")
def _():
    from gpt_from_scratch.train import StoryTokenizer
    return StoryTokenizer([262.7])


@case(L, "create_dataloader(shuffle='no')")
def _():
    from gpt_from_scratch.train import create_dataloader
    return create_dataloader(S["ids"], batch_size=2, max_length=4, stride=4, shuffle="no")


@case(L, "calc_loss_batch(targets all -100)")
def _():
    from gpt_from_scratch.train import calc_loss_batch
    model, tr, _, _ = S["small"]()
    x, y = next(iter(tr))
    return calc_loss_batch(x, torch.full_like(y, -100), model, "cpu")


for _seed in (2**64, -1):
    @case(L, f"make_stories(1, seed={_seed})")
    def _(seed=_seed):
        from gpt_from_scratch.stories import make_stories
        return make_stories(1, seed=seed)


# ----------------------------------------------------------------------------- write_stories and StoryTokenizer arguments

W = "write_stories and StoryTokenizer arguments"
for _kwargs in ({"n_stories": 0}, {"prompt": ""}, {"n_stories": "3"}, {"temperature": "0.5"}, {"seed": "x"},
                {"n_stories": 10**5}):
    @case(W, f"write_stories({', '.join(f'{k}={v!r}' for k, v in _kwargs.items())})")
    def _(kwargs=_kwargs):
        from gpt_from_scratch.trained import write_stories
        return write_stories(*S["shipped"], **kwargs)


@case(W, "write_stories with GPT-2's own tokenizer")
def _():
    from gpt_from_scratch import get_tokenizer
    from gpt_from_scratch.trained import write_stories
    return write_stories(S["shipped"][0], get_tokenizer(), max_new_tokens=3)


@case(W, "tokenizer.encode(None)")
def _():
    return S["shipped"][1].encode(None)


@case(W, "tokenizer.decode(torch.tensor([1, 2])) as decode([1, 2])", lambda r: r[0] == r[1])
def _():
    tok = S["shipped"][1]
    return tok.decode(torch.tensor([1, 2])), tok.decode([1, 2])


# ----------------------------------------------------------------------------- prompts a learner types

P = "prompts a learner types into the story model"
PROMPTS = ["The cat", "A boy", "She was sad", "Lily", "Once upon a time ", "Tom was very", "Once upon a time",
           "One day", "The dog", "Tom", "Hello", "A girl named Lily", "He was happy", "The ball", "The dragon"]


def readable(tokenizer, text):
    """Can the vocabulary spell each word of `text` with its leading space (as inside a story) or without?"""
    known = set(tokenizer.gpt2_ids)
    gpt2 = tokenizer.gpt2
    return all(any(set(gpt2.encode(form)) <= known for form in (" " + w, w)) for w in text.split())


for _prompt in PROMPTS:
    @case(P, f"write_stories(prompt={_prompt!r})")
    def _(prompt=_prompt):
        from gpt_from_scratch.trained import write_stories
        model, tok = S["shipped"]
        try:
            [story] = write_stories(model, tok, prompt, max_new_tokens=3)
        except ValueError as err:
            if readable(tok, prompt):
                return "refused", str(err)
            pieces = str(err).split(" not in ")[0].split(", ")
            return ("clear" if len(pieces) == len(set(pieces)) else "deep"), str(err)
        return ("correct" if story.strip().startswith(prompt.strip()) and readable(tok, prompt) else "silent"), story


# ----------------------------------------------------------------------------- exercise checkers

C = "exercise checkers"
CHECKER_CASES = [("check_04_2", 10**400), ("check_11_2", (5, 5)), ("check_07_2", torch.tensor([0.0, 1.0])),
                 ("check_10_1", 1.0), ("check_10_2", (1.0, 2.0)), ("check_06_2", ("yes", "")),
                 ("check_07_1", ("x", "")), ("check_02_3", 0), ("check_06_3", 0), ("check_08_2", (786432, "pos_emb")),
                 ("check_12_3", "TrueFalse"), ("check_13_2", 5), ("check_09_2", (3, 3)), ("check_01_1", "12")]
for _name, _answer in CHECKER_CASES:
    @case(C, f"{_name}({_answer!r})", "not yet")
    def _(name=_name, answer=_answer):
        from gpt_from_scratch import exercises
        with contextlib.redirect_stdout(open(os.devnull, "w")):
            return getattr(exercises, name)(answer)


@case(C, "check_10_2's wrong answer shows no expected value")
def _():
    from gpt_from_scratch import exercises
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        feedback = exercises.check_10_2((1.0, 2.0), 6.6, 0.46)
    leaked = f"{math.exp(6.6):.1f}" in feedback.message
    return ("silent" if leaked else "clear"), feedback.message


# ----------------------------------------------------------------------------- saving

V = "saving"


def tiny_gpt():
    from gpt_from_scratch import GPTModel
    torch.manual_seed(0)
    return GPTModel({"vocab_size": 11, "context_length": 8, "emb_dim": 8, "n_heads": 2, "n_layers": 1,
                     "drop_rate": 0.0, "qkv_bias": False})


@case(V, "save_gpt2_checkpoint(a model with NaN weights)")
def _():
    from gpt_from_scratch.pretrained import save_gpt2_checkpoint
    model = tiny_gpt()
    with torch.no_grad():
        model.final_norm.scale.fill_(float("nan"))
    return save_gpt2_checkpoint(model, Path(tempfile.mkdtemp()) / "nan")


@case(V, "save_gpt2_checkpoint(model, '')")
def _():
    from gpt_from_scratch.pretrained import save_gpt2_checkpoint
    here = os.getcwd()
    os.chdir(tempfile.mkdtemp())
    try:
        return save_gpt2_checkpoint(tiny_gpt(), "")
    finally:
        os.chdir(here)


@case(V, "a full disk during the save: a clear OSError and no half checkpoint")
def _():
    import safetensors.torch

    from gpt_from_scratch.pretrained import save_gpt2_checkpoint
    target = Path(tempfile.mkdtemp()) / "ckpt"
    real = safetensors.torch.save_file

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    safetensors.torch.save_file = full_disk
    try:
        save_gpt2_checkpoint(tiny_gpt(), target)
    except OSError as err:
        half = (target / "config.json").exists()
        named = str(target) in str(err)
        return ("clear" if named and not half else "deep"), f"half checkpoint left: {half}; {err}"
    finally:
        safetensors.torch.save_file = real
    return "silent", "no error"


# ----------------------------------------------------------------------------- memory bounded per layer, not in total

M = "memory bounded per layer, not in total"


@case(M, "GPTModel(a config with 16,384 positions x 40 layers: 10 GiB of masks)")
def _():
    from gpt_from_scratch import GPTModel
    return GPTModel({"vocab_size": 5, "context_length": 16384, "emb_dim": 4, "n_heads": 1, "n_layers": 40,
                     "drop_rate": 0.0, "qkv_bias": False})


@case(M, "a small checkpoint whose config.json asks for 16,384 positions x 40 layers")
def _():
    from safetensors.torch import save_file

    from gpt_from_scratch.pretrained import load_gpt2
    d = Path(tempfile.mkdtemp())
    (d / "config.json").write_text(json.dumps({"model_type": "gpt2", "vocab_size": 5, "n_positions": 16384,
                                               "n_embd": 4, "n_head": 1, "n_layer": 40}))
    tensors = {"wte.weight": torch.zeros(5, 4), "wpe.weight": torch.zeros(16384, 4), "ln_f.weight": torch.ones(4),
               "ln_f.bias": torch.zeros(4)}
    for i in range(40):
        for k, shape in (("ln_1.weight", (4,)), ("ln_1.bias", (4,)), ("ln_2.weight", (4,)), ("ln_2.bias", (4,)),
                         ("attn.c_attn.weight", (4, 12)), ("attn.c_attn.bias", (12,)), ("attn.c_proj.weight", (4, 4)),
                         ("attn.c_proj.bias", (4,)), ("mlp.c_fc.weight", (4, 16)), ("mlp.c_fc.bias", (16,)),
                         ("mlp.c_proj.weight", (16, 4)), ("mlp.c_proj.bias", (4,))):
            tensors[f"h.{i}.{k}"] = torch.zeros(shape)
    save_file(tensors, d / "model.safetensors")
    return load_gpt2(d)


@case(M, "KVCache(48 layers, batch 64, 25 heads, 1,024 positions, head_dim 64): 38 GiB")
def _():
    from gpt_from_scratch import KVCache
    return KVCache(48, 64, 25, 64, 1024)


# ----------------------------------------------------------------------------- the book's calls with another meaning

B = "the book's calls that run with another meaning"


@case(B, "generate(model, idx, 5, 32): the book's positional context_size")
def _():
    from gpt_from_scratch import generate
    return generate(tiny_gpt().eval(), torch.tensor([[1, 2]]), 5, 32)


@case(B, "generate(..., context_size=8)")
def _():
    from gpt_from_scratch import generate
    return generate(tiny_gpt().eval(), torch.tensor([[1, 2]]), 5, context_size=8)


@case(B, "train_model_simple(..., num_epochs=1)")
def _():
    model, tr, val, opt = S["small"]()
    from gpt_from_scratch.train import train_model_simple
    return train_model_simple(model, tr, val, opt, "cpu", num_epochs=1, eval_freq=1, eval_iter=1)


# ----------------------------------------------------------------------------- precision

R = "precision of top_p_filter's boundary"


def top_p_disagreements(vocab, rows, seed):
    """Rows where top_p_filter keeps another set than a float64 NumPy reference (same order of ties)."""
    import numpy as np

    from gpt_from_scratch import top_p_filter
    gen = torch.Generator().manual_seed(seed)
    bad = 0
    for top_p in (0.5, 0.9, 0.95):
        logits = torch.randn(rows // 3, vocab, generator=gen) * 3
        kept = torch.isfinite(top_p_filter(logits, top_p)).numpy()
        z = logits.double().numpy()
        # torch's order of tied logits, so that only the sum's precision can make a difference
        order = torch.sort(logits, dim=-1, descending=True).indices.numpy()
        p = np.exp(np.take_along_axis(z, order, -1) - z.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        keep_sorted = (np.cumsum(p, -1) - p) < top_p
        keep_sorted[:, 0] = True
        reference = np.zeros_like(keep_sorted)
        np.put_along_axis(reference, order, keep_sorted, -1)
        bad += int((kept != reference).any(-1).sum())
    return bad


for _vocab, _rows in ((1000, 12000), (50257, 600)):
    @case(R, f"top_p_filter on {_rows:,} rows of {_vocab:,} logits against float64")
    def _(vocab=_vocab, rows=_rows):
        bad = top_p_disagreements(vocab, rows, seed=vocab)
        return ("correct" if bad == 0 else "silent"), f"{bad} of {rows} rows differ"


# ----------------------------------------------------------------------------- left from before

O = "left from before"


@case(O, "a float8 checkpoint")
def _():
    from safetensors.torch import save_file

    from gpt_from_scratch.pretrained import gpt2_tensors_from_model, load_gpt2, save_gpt2_checkpoint
    d = Path(tempfile.mkdtemp()) / "f8"
    save_gpt2_checkpoint(tiny_gpt(), d)
    tensors = {"transformer." + k: v.to(torch.float8_e4m3fn) for k, v in gpt2_tensors_from_model(tiny_gpt()).items()}
    save_file(tensors, d / "model.safetensors")
    return load_gpt2(d)


@case(O, "sample_next_token(temperature=1e-46), 0 in float32")
def _():
    from gpt_from_scratch import sample_next_token
    return sample_next_token(torch.randn(1, 5), temperature=1e-46)


@case(O, "a float64 KV cache used with a float32 model")
def _():
    from gpt_from_scratch import KVCache, forward_with_cache
    return forward_with_cache(tiny_gpt().eval(), torch.tensor([[1, 2]]), KVCache(1, 1, 2, 4, 8, dtype=torch.float64))


@case(O, "cache.advance(-5)", "error")
def _():
    from gpt_from_scratch import KVCache
    cache = KVCache.for_model(tiny_gpt().eval(), 1)
    cache.advance(-5)
    return cache.length


@case(O, "set_seed(2**70)")
def _():
    from gpt_from_scratch import set_seed
    return set_seed(2**70)


# ----------------------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--details", action="store_true", help="one line per case")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds before a case counts as a hang")
    parser.add_argument("--memory-gib", type=float, default=6.0, help="address-space cap of this process")
    parser.add_argument("--json", type=Path, help="also write every case's outcome to this file")
    args = parser.parse_args()
    cap = int(args.memory_gib * 1024**3)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    torch.set_num_threads(1)

    def on_alarm(signum, frame):
        raise Hang()

    signal.signal(signal.SIGALRM, on_alarm)
    S.update(shared())
    import tqdm.auto  # noqa: F401 -- imported before the cases run, so that no case pays for it

    results, per_class = [], {}
    for cls, name, function, expect in CASES:
        with contextlib.redirect_stderr(open(os.devnull, "w")):
            outcome, detail = run_case(function, expect, args.timeout)
        results.append({"class": cls, "case": name, "outcome": outcome, "detail": detail})
        per_class.setdefault(cls, Counter())[outcome] += 1
        if args.details:
            print(f"{outcome:8} {cls[:28]:28} {name[:70]:70} {detail[:110]}", flush=True)
    print(f"\n{'class':52} {'cases':>5} " + " ".join(f"{o:>7}" for o in OUTCOMES))
    total = Counter()
    for cls, counts in per_class.items():
        total.update(counts)
        print(f"{cls:52} {sum(counts.values()):5} " + " ".join(f"{counts[o]:7}" for o in OUTCOMES))
    print(f"{'all':52} {sum(total.values()):5} " + " ".join(f"{total[o]:7}" for o in OUTCOMES))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
