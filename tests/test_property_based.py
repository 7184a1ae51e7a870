"""Issue 12, property-based: random shapes, dtypes and values thrown at the public API.

For every call the outcome must be either a ValueError/TypeError whose message names the argument at
fault, or a result that is correct -- checked against an independent route (torch.nn.functional in
float64, scaled_dot_product_attention, the parameter-count formula, generate_text_simple, tiktoken's
decode) -- and free of NaN when the inputs were finite. Any other exception fails the test.

Floating-point values are drawn with magnitudes 0, 1e-3, 1 and 100 (plus NaN/+-inf now and then);
results are compared exactly for float64, to float32 rounding for float32, and for float16/bfloat16
(whose rounding is too coarse for a tight comparison) only for shape, dtype and finiteness.
Hypothesis runs derandomized (a fixed sequence of examples), with no example database.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpt_from_scratch import (
    GELU,
    DummyGPTModel,
    ExampleDeepNeuralNetwork,
    FeedForward,
    GPTModel,
    LayerNorm,
    MultiHeadAttention,
    TransformerBlock,
    count_parameters,
    generate,
    generate_text_simple,
    get_tokenizer,
    meta_model,
    next_token_probs,
    parameter_breakdown,
    sample_next_token,
    token_ids_to_text,
    top_k_filter,
    top_p_filter,
)

EXAMPLES = 200  # per test below: about 1,600 cases in all (one test has only 6 distinct inputs)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

CFG = {"vocab_size": 11, "context_length": 6, "emb_dim": 4, "n_heads": 2, "n_layers": 1, "drop_rate": 0.0,
       "qkv_bias": True}
FLOATS = [torch.float32, torch.float64, torch.float16, torch.bfloat16]
INTS = [torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8]
DTYPES = FLOATS + INTS + [torch.bool, torch.complex64]


def _model(cls=GPTModel, seed=0, cfg=CFG):
    torch.manual_seed(seed)
    model = cls(cfg).eval()
    with torch.no_grad():  # random norms and biases too, so that every parameter matters
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return model


MODEL, DUMMY = _model(), _model(DummyGPTModel)

# ----------------------------------------------------------------------------- strategies


@st.composite
def tensors(draw, shape=None, dtypes=DTYPES):
    """A tensor of a random dtype and shape (or `shape`), with random values, sometimes NaN/inf or on 'meta'."""
    dtype = draw(st.one_of(st.just(dtypes[0]), st.sampled_from(dtypes)))  # the first one half of the time
    if shape is None:
        shape = draw(st.lists(st.integers(0, 5), min_size=0, max_size=4))
    if draw(st.integers(0, 30)) == 0:
        return torch.empty(shape, dtype=dtype, device="meta")
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    if dtype.is_floating_point or dtype.is_complex:
        scale = draw(st.sampled_from([0.0, 1e-3, 1.0, 100.0]))
        values = torch.randn(shape, generator=gen, dtype=torch.float64) * scale
        special = draw(st.sampled_from([None] * 6 + [math.nan, math.inf, -math.inf]))
        if special is not None and values.numel():
            values.view(-1)[draw(st.integers(0, values.numel() - 1))] = special
    else:
        low, high = draw(st.sampled_from([(0, 11), (0, 11), (-3, 4), (8, 14), (0, 2)]))
        values = torch.randint(low, high, shape, generator=gen)
    return values.to(dtype)


def shaped(*sizes):
    """Shapes near `sizes`: mostly exactly right in rank and last dimension, sometimes not."""
    exact = st.tuples(*[st.integers(1, 4) if s is None else st.just(s) for s in sizes])
    near = st.tuples(*[st.integers(0, 7) for _ in sizes])
    return st.one_of(exact, exact, near, st.lists(st.integers(0, 5), max_size=4).map(tuple))


def inputs(*sizes, dtypes=DTYPES):
    junk = st.one_of(st.none(), st.integers(-5, 50), st.floats(), st.text(max_size=3), st.binary(max_size=3),
                     st.lists(st.integers(-2, 15), max_size=4), st.lists(st.integers(0, 10), max_size=3).map(np.array))
    tensor = shaped(*sizes).flatmap(lambda shape: tensors(shape=list(shape), dtypes=dtypes))
    return st.one_of(tensor, tensor, tensor, junk)


def mostly(valid, invalid):
    """`valid` five times out of six, else `invalid`: so that calls with several arguments often succeed."""
    return st.integers(0, 5).flatmap(lambda i: invalid if i == 0 else valid)


def junk_or(strategy, bad=()):
    """Mostly `strategy`; else one of the `bad` values or something of the wrong type altogether."""
    junk = st.one_of(st.none(), st.text(max_size=2), st.floats(), st.booleans(), st.integers(-3, 30))
    return mostly(strategy, st.one_of(junk, st.sampled_from(bad)) if bad else junk)


def outcome(call, names):
    """(result, None) or (None, error) for a ValueError/TypeError naming one of `names`; anything else fails."""
    try:
        return call(), None
    except (ValueError, TypeError) as err:
        message = str(err)
        assert any(name in message for name in names), f"the message does not name the argument: {message}"
        return None, err


def finite(t):
    return t.is_meta or bool(torch.isfinite(t).all()) if t.dtype.is_floating_point or t.dtype.is_complex else True


def assert_close(got, expected, x):
    """got (module dtype) against a float64 reference; tight for float32/64, sanity only for 16-bit floats."""
    got, expected = got.detach(), expected.detach()
    assert got.shape == expected.shape
    if finite(x):
        assert finite(got), "NaN or inf from finite inputs"
    if {got.dtype, x.dtype} & {torch.float16, torch.bfloat16} or not finite(x):
        return
    tol = 1e-9 if got.dtype == torch.float64 else 1e-4
    scale = 1.0 + (float(expected.abs().max()) if expected.numel() else 0.0)
    assert torch.allclose(got.double(), expected, rtol=tol, atol=tol * scale), float((got.double() - expected).abs().max())


# ----------------------------------------------------------------------------- float64 references


def _w(linear):
    return linear.weight.double(), None if linear.bias is None else linear.bias.double()


def ref_norm(norm, x):
    return F.layer_norm(x, (x.shape[-1],), norm.scale.double(), norm.shift.double(), eps=1e-5)


def ref_ff(ff, x):
    return F.linear(F.gelu(F.linear(x, *_w(ff.layers[0])), approximate="tanh"), *_w(ff.layers[2]))


def ref_attention(att, x):
    b, s, _ = x.shape
    q, k, v = (F.linear(x, *_w(lin)).view(b, s, att.num_heads, att.head_dim).transpose(1, 2)
               for lin in (att.W_query, att.W_key, att.W_value))
    context = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return F.linear(context.transpose(1, 2).reshape(b, s, att.d_out), *_w(att.out_proj))


def ref_block(block, x):
    x = x + ref_attention(block.att, ref_norm(block.norm1, x))
    return x + ref_ff(block.ff, ref_norm(block.norm2, x))


def ref_gpt(model, idx):
    x = model.tok_emb.weight.double()[idx.long()] + model.pos_emb.weight.double()[: idx.shape[1]]
    for block in model.trf_blocks:
        x = ref_block(block, x)
    return F.linear(ref_norm(model.final_norm, x), model.out_head.weight.double())


# ----------------------------------------------------------------------------- building blocks

NORM, ATT, FF, BLOCK = LayerNorm(4), MultiHeadAttention(4, 4, 6, 0.0, 2, qkv_bias=True).eval(), FeedForward(CFG), None
with torch.no_grad():
    NORM.scale.copy_(torch.tensor([0.5, -1.0, 2.0, 1.5]))
    NORM.shift.copy_(torch.tensor([0.1, 0.0, -0.3, 1.0]))
BLOCK = MODEL.trf_blocks[0]


@SETTINGS
@given(x=inputs(None, None, 4))
def test_layernorm_and_gelu(x):
    out, err = outcome(lambda: NORM(x), ["x"])
    if err is None and not x.is_meta:
        assert_close(out, ref_norm(NORM, x.double()), x)
    out, err = outcome(lambda: GELU()(x), ["x"])
    if err is None and not x.is_meta:
        assert_close(out, F.gelu(x.double(), approximate="tanh"), x)


@SETTINGS
@given(x=inputs(None, None, 4, dtypes=FLOATS + [torch.int64]))
def test_feedforward_attention_and_block(x):
    for module, reference in ((FF, ref_ff), (ATT, ref_attention), (BLOCK, ref_block)):
        out, err = outcome(lambda: module(x), ["x"])
        if err is None and not x.is_meta:
            assert x.dtype == torch.float32  # the modules' dtype: anything else is refused
            assert_close(out, reference(module, x.double()), x)


@SETTINGS
@given(sizes=junk_or(st.lists(st.sampled_from([3, 3, 2, 1]), min_size=2, max_size=4).map(lambda s: [3, *s[1:]]),
                     bad=[[3], [], [3, 0, 1], (3, 1.0), "33"]),
       shortcut=junk_or(st.booleans()),
       x=inputs(None, 3, dtypes=FLOATS))
def test_example_deep_network(sizes, shortcut, x):
    net, err = outcome(lambda: ExampleDeepNeuralNetwork(sizes, shortcut), ["layer_sizes", "use_shortcut"])
    if err is not None:
        return
    assert len(net.layers) == len(sizes) - 1
    out, err = outcome(lambda: net(x), ["x"])
    if err is None and not x.is_meta:
        expected = x.double()
        for layer in net.layers:
            y = F.gelu(F.linear(expected, *_w(layer[0])), approximate="tanh")
            expected = expected + y if shortcut and y.shape == expected.shape else y
        assert_close(out, expected, x)


# ----------------------------------------------------------------------------- configs and models


@SETTINGS
@given(
    values=st.fixed_dictionaries({
        "vocab_size": junk_or(st.sampled_from([1, 11, 10**6]), bad=[0, -1]),
        "context_length": junk_or(st.sampled_from([1, 6, 16384]), bad=[0, 16385, 10**6]),
        "emb_dim": junk_or(st.sampled_from([4, 8, 12, 48]), bad=[0, 7]),
        "n_heads": junk_or(st.sampled_from([1, 2, 4]), bad=[0, -2, 5]),
        "n_layers": junk_or(st.integers(1, 3), bad=[0, -1]),
        "drop_rate": junk_or(st.floats(0.0, 0.99), bad=[1.0, -0.1, math.nan, math.inf]),
        "qkv_bias": junk_or(st.booleans(), bad=["no", 1, None]),
    }),
    drop=mostly(st.none(), st.sampled_from(["n_heads", "qkv_bias"])),
    extra=mostly(st.none(), st.sampled_from(["n_head", "dropout", "bias"])),
)
def test_configs(values, drop, extra):
    cfg = {k: v for k, v in values.items() if k != drop}
    if extra:
        cfg[extra] = 1
    model, err = outcome(lambda: meta_model(cfg), ["config"])
    if err is not None:
        return
    v, c, d, n = cfg["vocab_size"], cfg["context_length"], cfg["emb_dim"], cfg["n_layers"]
    per_layer = 3 * d * d + (3 * d if cfg["qkv_bias"] else 0) + d * d + d + 8 * d * d + 5 * d + 4 * d
    assert count_parameters(model) == v * d + c * d + n * per_layer + 2 * d + d * v
    assert sum(parameter_breakdown(model).values()) == count_parameters(model)


@SETTINGS
@given(idx=inputs(None, None, dtypes=INTS + [torch.int64, torch.float32, torch.bool, torch.uint16]))
def test_models_on_token_ids(idx):
    out, err = outcome(lambda: MODEL(idx), ["in_idx"])
    if err is None:
        assert idx.dtype in (torch.int64, torch.int32)
        assert_close(out, ref_gpt(MODEL, idx), torch.zeros(1))
    out, err = outcome(lambda: DUMMY(idx), ["in_idx"])
    if err is None:
        expected = F.linear(DUMMY.tok_emb.weight.double()[idx.long()] + DUMMY.pos_emb.weight.double()[: idx.shape[1]],
                            DUMMY.out_head.weight.double())
        assert_close(out, expected, torch.zeros(1))


@SETTINGS
@given(
    idx=inputs(None, None, dtypes=[torch.int64, torch.int64, torch.int32, torch.int16]),
    max_new_tokens=junk_or(st.integers(0, 8), bad=[-1]),
    temperature=junk_or(st.sampled_from([0.0, 0, 1e-45, 0.7, 1.0, 5.0]), bad=[-1.0, math.nan, math.inf]),
    top_k=junk_or(st.sampled_from([None, 1, 3, 50]), bad=[0, -1, 2.0]),
    top_p=junk_or(st.sampled_from([None, 1e-9, 0.3, 0.9, 1.0]), bad=[0.0, 1.5, math.nan]),
    eos_id=junk_or(st.sampled_from([None, 0, 3, 10]), bad=[11, -1]),
    use_cache=junk_or(st.booleans(), bad=["yes", 1]),
    seed=st.sampled_from([None, 1, 2]),
    dummy=st.booleans(),
)
def test_generate(idx, max_new_tokens, temperature, top_k, top_p, eos_id, use_cache, seed, dummy):
    model = DUMMY if dummy else MODEL
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    names = ["idx", "max_new_tokens", "temperature", "top_k", "top_p", "eos_id", "use_cache", "generator"]
    out, err = outcome(lambda: generate(model, idx, max_new_tokens, temperature=temperature, top_k=top_k,
                                        top_p=top_p, eos_id=eos_id, use_cache=use_cache, generator=generator), names)
    if err is not None:
        return
    prompt = idx.shape[1]
    assert out.shape[0] == idx.shape[0] and prompt <= out.shape[1] <= prompt + max_new_tokens
    assert torch.equal(out[:, :prompt], idx.long()) and int(out.min()) >= 0 and int(out.max()) < 11
    if temperature == 0 and eos_id is None:
        assert torch.equal(out, generate_text_simple(model, idx, max_new_tokens, context_size=6))
    _, err = outcome(lambda: generate_text_simple(model, idx, max_new_tokens, 6), names)
    assert err is None  # what generate accepts, generate_text_simple accepts too


# ----------------------------------------------------------------------------- sampling


@SETTINGS
@given(
    logits=inputs(None, 7, dtypes=FLOATS + [torch.int64]),
    temperature=junk_or(st.sampled_from([0.0, 1e-45, 1e-3, 0.5, 1.0, 10.0]), bad=[-1.0, math.inf]),
    top_k=junk_or(st.sampled_from([None, 1, 2, 7, 100]), bad=[0]),
    top_p=junk_or(st.sampled_from([None, 1e-9, 0.5, 0.99, 1.0]), bad=[0.0, 2.0, math.nan]),
)
def test_sampling(logits, temperature, top_k, top_p):
    names = ["logits", "temperature", "top_k", "top_p"]
    probs, err = outcome(lambda: next_token_probs(logits, temperature, top_k, top_p), names)
    if err is None:
        assert probs.shape == logits.shape and finite(probs) and bool((probs >= 0).all())
        tol = 1e-2 if probs.dtype in (torch.float16, torch.bfloat16) else 1e-5
        assert torch.allclose(probs.double().sum(-1), torch.ones(probs.shape[:-1], dtype=torch.float64), atol=tol)
        best = torch.argmax(logits, dim=-1, keepdim=True)
        assert bool((probs.gather(-1, best) > 0).all())  # the most likely token always survives
        if top_k is None and top_p is None and logits.dtype == torch.float64 and temperature >= 1e-3:
            assert torch.allclose(probs, torch.softmax(logits / temperature, dim=-1), atol=1e-12)
    token, err = outcome(lambda: sample_next_token(logits, temperature, top_k, top_p,
                                                   torch.Generator().manual_seed(0)), names + ["generator"])
    if err is None:
        assert token.shape == (*logits.shape[:-1], 1)
        if temperature == 0:
            assert torch.equal(token, torch.argmax(logits, dim=-1, keepdim=True))
        else:
            assert bool((next_token_probs(logits, temperature, top_k, top_p).gather(-1, token) > 0).all())
    kept, err = outcome(lambda: top_k_filter(logits, top_k), ["logits", "top_k"])
    if err is None:
        kth = torch.topk(logits.double(), min(top_k, logits.shape[-1]), dim=-1).values[..., -1:]
        expected = torch.where(logits.double() >= kth, logits.double(), -math.inf)
        assert torch.equal(kept.double(), expected)
    kept, err = outcome(lambda: top_p_filter(logits, top_p), ["logits", "top_p"])
    if err is None:
        keep = kept > -math.inf
        probs = torch.softmax(logits.double(), dim=-1)
        assert bool((torch.where(keep, probs, 0.0).sum(-1) >= min(top_p, 1.0) - 1e-3).all())  # enough mass
        lowest_kept = torch.where(keep, probs, math.inf).amin(-1, keepdim=True)
        assert bool((torch.where(keep, 0.0, probs) <= lowest_kept + 1e-6).all())  # the likeliest are kept
        assert torch.equal(torch.where(keep, logits, 0), torch.where(keep, kept, 0))


# ----------------------------------------------------------------------------- tokenizer and breakdown


@SETTINGS
@given(ids=inputs(None, dtypes=INTS + [torch.int64, torch.bool, torch.float32]))
def test_token_ids_to_text(ids):
    text, err = outcome(lambda: token_ids_to_text(ids), ["token_ids", "token id"])
    if err is None:
        assert text == get_tokenizer().decode([int(i) for i in torch.as_tensor(np.asarray(ids)).reshape(-1)])


@SETTINGS
@given(model=st.sampled_from([MODEL, DUMMY, "model", None, 3, torch.zeros(2)]))
def test_parameter_breakdown(model):
    parts, err = outcome(lambda: parameter_breakdown(model), ["model"])
    if err is None:
        assert sum(parts.values()) == count_parameters(model)


# ----------------------------------------------------------------------------- the training surface (issue 21)

from gpt_from_scratch import exercises as ex  # noqa: E402
from gpt_from_scratch.stories import grammar_report, make_stories  # noqa: E402
from gpt_from_scratch.train import (  # noqa: E402
    StoryTokenizer,
    calc_loss_batch,
    calc_loss_loader,
    create_dataloader,
    train_model_simple,
)
from gpt_from_scratch.trained import load_trained_gpt, write_stories  # noqa: E402

FEWER = settings(SETTINGS, max_examples=60)  # each case trains, samples or checks: keep the suite's time modest
STORIES = make_stories(8, seed=4)
STORY_TOKENIZER = StoryTokenizer.from_texts(STORIES)
STORY_IDS = [i for s in STORIES for i in STORY_TOKENIZER.encode(s) + [STORY_TOKENIZER.eot_id]]
STORY_CFG = {**CFG, "vocab_size": STORY_TOKENIZER.n_vocab, "context_length": 8, "drop_rate": 0.3}
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**30), st.floats(), st.text(max_size=4),
                 st.binary(max_size=3), st.lists(st.integers(-3, 20), max_size=4),
                 st.lists(st.floats(allow_nan=True), max_size=3), st.tuples(st.integers(), st.text(max_size=2)),
                 st.sampled_from([torch.tensor([0.0, 1.0]), torch.zeros(2, 2, dtype=torch.long), torch.tensor(True),
                                  np.array([1.5]), object(), {"a": 1}, {1, 2}, ValueError, math.pi]))


@st.composite
def typed_text(draw):
    """What a learner might type: words of the stories and others, spaces around them, punctuation, junk."""
    words = draw(st.lists(st.sampled_from(["Tom", "Lily", "was", "very", "happy", "Once", "upon", "a", "time",
                                           "dragon", "The", "cat", ",", ".", "!", "\n", "<|endoftext|>", "Zq"]),
                          max_size=6))
    text = draw(st.sampled_from([" ", ""])) + " ".join(words) + draw(st.sampled_from(["", " ", "  "]))
    return draw(mostly(st.just(text), JUNK))


@FEWER
@given(text=typed_text(), ids=mostly(st.lists(st.integers(0, STORY_TOKENIZER.n_vocab - 1), max_size=6), JUNK))
def test_story_tokenizer(text, ids):
    encoded, err = outcome(lambda: STORY_TOKENIZER.encode(text), ["text", "vocabulary"])
    if err is None:  # what was typed, or the same text with its spaces around it normalized
        assert STORY_TOKENIZER.decode(encoded) in (text, text.strip(), " " + text.strip())
    elif isinstance(err, ValueError):
        unknown = err.args[0].split(" not in ")[0]
        assert len(set(unknown.split(", "))) == len(unknown.split(", "))  # each word named once
    decoded, err = outcome(lambda: STORY_TOKENIZER.decode(ids), ["ids"])
    if err is None:
        gpt2 = get_tokenizer()
        assert decoded == gpt2.decode([STORY_TOKENIZER.gpt2_ids[i] for i in torch.as_tensor(ids).reshape(-1)])


@FEWER
@given(
    token_ids=mostly(st.just(STORY_IDS[:120]), st.one_of(JUNK, st.just([1.5] * 50), st.just([True] * 50))),
    batch_size=junk_or(st.integers(1, 6), bad=[0, 10**6]),
    max_length=junk_or(st.integers(1, 8), bad=[0, 10**6]),
    stride=junk_or(st.integers(1, 9), bad=[0]),
    shuffle=junk_or(st.booleans(), bad=["no", 0]),
    drop_last=junk_or(st.booleans(), bad=["yes"]),
    seed=junk_or(st.integers(0, 2**64 - 1), bad=[-1, 2**64]),
    num_batches=junk_or(st.sampled_from([None, 1, 2, 10**9]), bad=[0, -1, 2.5]),
)
def test_dataloader_and_loss(token_ids, batch_size, max_length, stride, shuffle, drop_last, seed, num_batches):
    names = ["token_ids", "batch_size", "max_length", "stride", "shuffle", "drop_last", "seed", "windows", "tokens"]
    loader, err = outcome(lambda: create_dataloader(token_ids, batch_size, max_length, stride, shuffle, drop_last,
                                                    seed), names)
    if err is not None:
        return
    batches = list(loader)
    assert all(x.shape == y.shape and x.shape[1] == max_length and torch.equal(x[:, 1:], y[:, :-1])
               for x, y in batches)
    model = _model(GPTModel, cfg={**STORY_CFG, "context_length": max(8, max_length)})
    with torch.no_grad():
        loss, err = outcome(lambda: calc_loss_loader(loader, model, "cpu", num_batches), ["num_batches", "data_loader"])
        if err is None:
            n = len(batches) if num_batches is None else min(num_batches, len(batches))
            expected = sum(calc_loss_batch(x, y, model, "cpu").item() for x, y in batches[:n]) / n
            assert math.isfinite(loss)
            if not shuffle:  # a shuffled loader gives other batches on its next pass
                assert math.isclose(loss, expected, rel_tol=1e-5)


@FEWER
@given(
    lr=junk_or(st.sampled_from([1e-3, 1e-2, 1.0, 1e30]), bad=[math.nan, -1.0, math.inf]),
    num_steps=junk_or(st.integers(1, 3), bad=[0]),
    eval_freq=junk_or(st.integers(1, 3), bad=[0]),
    eval_iter=junk_or(st.integers(1, 2), bad=[-1]),
    max_grad_norm=junk_or(st.sampled_from([None, 0.5, 1.0]), bad=[0.0, -1.0, math.nan]),
    progress=junk_or(st.just(False), bad=["no"]),
    foreign=mostly(st.just(False), st.just(True)),
    stop_at=mostly(st.none(), st.integers(0, 3)),
)
def test_train_model_simple(lr, num_steps, eval_freq, eval_iter, max_grad_norm, progress, foreign, stop_at):
    model = _model(GPTModel, cfg=STORY_CFG)
    train = create_dataloader(STORY_IDS[:800], batch_size=2, max_length=8, stride=8)
    val = create_dataloader(STORY_IDS[800:], batch_size=2, max_length=8, stride=8, shuffle=False)
    params = _model(GPTModel, cfg=STORY_CFG).parameters() if foreign else model.parameters()
    optimizer = torch.optim.SGD(params, lr=0.1)
    optimizer.param_groups[0]["lr"] = lr

    def on_eval(step, train_loss, val_loss):
        if step == stop_at:
            raise KeyboardInterrupt

    names = ["lr", "learning rate", "num_steps", "eval_freq", "eval_iter", "max_grad_norm", "progress", "optimizer",
             "the loss is"]
    try:
        history, err = outcome(lambda: train_model_simple(model, train, val, optimizer, "cpu", num_steps, eval_freq,
                                                          eval_iter, on_eval=on_eval, progress=progress,
                                                          max_grad_norm=max_grad_norm), names)
    except KeyboardInterrupt:
        history, err = None, None
    assert not model.training and all(p.grad is None for p in model.parameters())  # however it ended
    if history is not None:
        assert history["steps"][0] == 0 and history["steps"][-1] == num_steps
        assert all(math.isfinite(v) for v in history["train_losses"] + history["val_losses"])
        assert all(bool(torch.isfinite(p).all()) for p in model.parameters())  # never NaN weights without a word


SHIPPED = load_trained_gpt()


@FEWER
@given(
    prompt=typed_text(),
    n_stories=junk_or(st.integers(1, 3), bad=[0, 10**6]),
    max_new_tokens=junk_or(st.integers(0, 6), bad=[-1]),
    temperature=junk_or(st.sampled_from([0.0, 0.7, 1.5]), bad=[-1.0, "0.5", math.nan]),
    top_k=junk_or(st.sampled_from([None, 1, 40]), bad=[0]),
    top_p=junk_or(st.sampled_from([None, 0.5, 1.0]), bad=[0.0, 2.0]),
    seed=junk_or(st.integers(0, 2**64 - 1), bad=[-1, 2**64, "x"]),
)
def test_write_stories(prompt, n_stories, max_new_tokens, temperature, top_k, top_p, seed):
    model, tokenizer = SHIPPED
    names = ["prompt", "n_stories", "max_new_tokens", "temperature", "top_k", "top_p", "seed", "vocabulary"]
    stories, err = outcome(lambda: write_stories(model, tokenizer, prompt, n_stories, max_new_tokens, temperature,
                                                 top_k, top_p, seed), names)
    if err is None:
        assert len(stories) == n_stories and all(s.lstrip().startswith(prompt.strip()) for s in stories)
        if temperature == 0:
            assert len(set(stories)) == 1
        assert grammar_report(stories).n_stories == n_stories


FAST_CHECKERS = [n for n in sorted(dir(ex)) if n.startswith("check_") and n not in ("check_10_3",)]


@settings(SETTINGS, max_examples=150)
@given(name=st.sampled_from(FAST_CHECKERS),
       answer=st.one_of(JUNK, st.tuples(JUNK, JUNK), st.tuples(JUNK, JUNK, JUNK),
                        st.lists(st.booleans(), max_size=3)))
def test_checkers_answer_any_answer(name, answer, capsys):
    feedback = getattr(ex, name)(answer)
    capsys.readouterr()
    assert feedback.status in (ex.CORRECT, ex.NOT_YET, ex.NOT_ATTEMPTED) and len(feedback.message) > 20
    if answer is not None:
        assert feedback.status != ex.NOT_ATTEMPTED
