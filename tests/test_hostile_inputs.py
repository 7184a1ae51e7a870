"""Issue 12: every class of hostile input gets a ValueError/TypeError naming the problem, or a correct result.

One test (or one parametrized test) per class of input that an adversarial run found silently wrong,
crashing, hanging or failing deep inside torch. tests/test_property_based.py throws random inputs at
the same API.
"""

import json
import os
import time

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from gpt_from_scratch import (  # noqa: E402
    DummyGPTModel,
    ExampleDeepNeuralNetwork,
    FeedForward,
    GELU,
    GPTModel,
    KVCache,
    LayerNorm,
    MultiHeadAttention,
    TransformerBlock,
    count_parameters,
    forward_with_cache,
    generate,
    generate_text_simple,
    get_tokenizer,
    layer_gradients,
    next_token_probs,
    parameter_breakdown,
    prefill,
    sample_next_token,
    token_ids_to_text,
    top_k_filter,
    top_p_filter,
    validate_config,
)
from gpt_from_scratch.checks import MAX_CONTEXT_LENGTH  # noqa: E402
from gpt_from_scratch.pretrained import load_gpt2, save_gpt2_checkpoint  # noqa: E402


@pytest.fixture
def tiny_model(tiny_cfg):
    torch.manual_seed(0)
    return GPTModel(tiny_cfg).eval()


# ----------------------------------------------------------------------------- building blocks


@pytest.mark.parametrize(
    "build,error,words",
    [
        (lambda c: TransformerBlock({**c, "n_heads": 0}), ValueError, r"config\['n_heads'\] must be positive, got 0"),
        (lambda c: TransformerBlock({**c, "qkv_bias": "no"}), TypeError, r"qkv_bias.*True or False.*'no'"),
        (lambda c: TransformerBlock({**c, "drop_rate": float("nan")}), ValueError, "drop_rate"),
        (lambda c: FeedForward({**c, "emb_dim": "16"}), TypeError, r"config\['emb_dim'\] must be an int, got '16'"),
        (lambda c: FeedForward({"emb_dim": -3}), ValueError, "emb_dim.*-3"),
        (lambda c: FeedForward(16), TypeError, "config must be a dict"),
        (lambda c: LayerNorm(0), ValueError, "emb_dim must be positive, got 0"),
        (lambda c: LayerNorm("16"), TypeError, "emb_dim must be an int"),
        (lambda c: MultiHeadAttention(8, 8, 4, dropout=1.5, num_heads=2), ValueError, "dropout.*1.5"),
        (lambda c: MultiHeadAttention(8, 8, 4, dropout=0.0, num_heads=0), ValueError, "num_heads must be positive"),
        (lambda c: MultiHeadAttention(8, 8, 4, dropout=0.0, num_heads=2, qkv_bias="no"), TypeError, "qkv_bias"),
        (lambda c: MultiHeadAttention(8.0, 8, 4, dropout=0.0, num_heads=2), TypeError, "d_in must be an int"),
        (lambda c: ExampleDeepNeuralNetwork([3], True), ValueError, "at least two sizes"),
        (lambda c: ExampleDeepNeuralNetwork([3, 0, 1], True), ValueError, r"layer_sizes\[1\]"),
        (lambda c: ExampleDeepNeuralNetwork("331", True), TypeError, "layer_sizes must be a list"),
        (lambda c: ExampleDeepNeuralNetwork([3, 3], "yes"), TypeError, "use_shortcut must be True or False"),
    ],
)
def test_constructors_name_the_bad_argument(tiny_cfg, build, error, words):
    with pytest.raises(error, match=words):
        build(tiny_cfg)


def test_a_misspelled_config_key_is_refused_with_a_suggestion(tiny_cfg):
    cfg = {**tiny_cfg, "n_head": 4}
    for build in (validate_config, GPTModel, DummyGPTModel, TransformerBlock, FeedForward):
        with pytest.raises(ValueError, match=r"unknown key\(s\) 'n_head' \(did you mean 'n_heads'\?\)"):
            build(cfg)


@pytest.mark.parametrize(
    "module,x,error,words",
    [
        (lambda c: LayerNorm(16), torch.zeros(2, 1), ValueError, r"16 features.*\[2, 1\]"),
        (lambda c: LayerNorm(16), torch.zeros(16, dtype=torch.long), TypeError, "floating-point.*int64"),
        (lambda c: LayerNorm(16), [0.0] * 16, TypeError, "torch.Tensor"),
        (lambda c: GELU(), torch.tensor([10**7]), TypeError, r"floating-point.*\.float\(\)"),
        (lambda c: FeedForward(c), torch.zeros(1, 3, 8), ValueError, r"16 features.*\[1, 3, 8\]"),
        (lambda c: TransformerBlock(c).eval(), torch.zeros(1, 3, 8), ValueError, r"16 features.*\[1, 3, 8\]"),
        (lambda c: TransformerBlock(c).eval(), torch.zeros(3, 16), ValueError, r"\[batch, seq, 16\]"),
        (lambda c: TransformerBlock(c).eval(), torch.zeros(1, 9, 16), ValueError, "9 tokens.*context_length is 8"),
        (lambda c: MultiHeadAttention(16, 16, 8, 0.0, 4), torch.zeros(1, 3, 12), ValueError, "16 features"),
        (lambda c: ExampleDeepNeuralNetwork([3, 3, 1], True), torch.zeros(1, 2), ValueError, "3 features"),
        (lambda c: FeedForward(c), torch.zeros(1, 3, 16, dtype=torch.float64), TypeError,
         r"dtype torch.float64 but the module's weights are torch.float32"),
        (lambda c: TransformerBlock(c).eval(), torch.zeros(1, 3, 16, dtype=torch.float16), TypeError, "float16"),
        (lambda c: MultiHeadAttention(16, 16, 8, 0.0, 4), torch.zeros(1, 3, 16, dtype=torch.bfloat16), TypeError,
         "bfloat16"),
    ],
)
def test_modules_refuse_input_of_the_wrong_width_or_kind(tiny_cfg, module, x, error, words):
    with pytest.raises(error, match=words):
        module(tiny_cfg)(x)


def test_layer_gradients_refuses_a_target_that_would_broadcast():
    model = ExampleDeepNeuralNetwork([3, 3, 1], use_shortcut=True)
    with pytest.raises(ValueError, match=r"target must have the shape of the model's output, \[2, 1\]"):
        layer_gradients(model, torch.zeros(2, 3), torch.zeros(2))  # mse_loss would broadcast (2, 1) with (2,)


def test_the_same_weights_as_before_for_the_seed(tiny_cfg):
    """The checks draw no random numbers: after seed 123, GPTModel's weights are those of plain nn modules
    created in the seed's order (embeddings, then per block q, k, v, out_proj, feed-forward, then the head)."""
    nn = torch.nn
    torch.manual_seed(123)
    model = GPTModel(tiny_cfg)
    after_model = torch.rand(3)
    torch.manual_seed(123)
    expected = [nn.Embedding(101, 16).weight, nn.Embedding(8, 16).weight]
    for _ in range(2):
        q, k, v = (nn.Linear(16, 16, bias=False) for _ in range(3))
        out, fc, proj = nn.Linear(16, 16), nn.Linear(16, 64), nn.Linear(64, 16)
        expected += [q.weight, k.weight, v.weight, out.weight, out.bias, fc.weight, fc.bias, proj.weight, proj.bias,
                     torch.ones(16), torch.zeros(16), torch.ones(16), torch.zeros(16)]
    expected += [torch.ones(16), torch.zeros(16), nn.Linear(16, 101, bias=False).weight]
    got = list(model.parameters())
    assert len(got) == len(expected) and all(torch.equal(g, e) for g, e in zip(got, expected))
    assert torch.equal(torch.rand(3), after_model)


# ----------------------------------------------------------------------------- sizes that cannot fit


def test_a_context_length_whose_mask_cannot_fit_is_refused_before_allocating(tiny_cfg):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"context_length'\] is 1,000,000.*931.3 GiB.*at most 16,384"):
        GPTModel({**tiny_cfg, "context_length": 10**6})
    with pytest.raises(ValueError, match="context_length is 100,000"):
        MultiHeadAttention(16, 16, 100_000, 0.0, 4)
    assert time.perf_counter() - start < 1.0  # refused, not attempted
    with torch.device("meta"):  # the largest allowed size still builds
        assert GPTModel({**tiny_cfg, "context_length": MAX_CONTEXT_LENGTH}).trf_blocks[0].att.mask.shape == (
            MAX_CONTEXT_LENGTH, MAX_CONTEXT_LENGTH)


def _tiny_checkpoint(tmp_path, n_positions=8, emb=4, vocab=5, tensors_from=None):
    """A consistent GPT-2 checkpoint directory (1 layer, 1 head), written by hand; returns (dir, tensors)."""
    torch.manual_seed(0)
    d = emb
    tensors = {"wte.weight": torch.randn(vocab, d), "wpe.weight": torch.randn(n_positions, d),
               "h.0.ln_1.weight": torch.ones(d), "h.0.ln_1.bias": torch.zeros(d),
               "h.0.ln_2.weight": torch.ones(d), "h.0.ln_2.bias": torch.zeros(d),
               "h.0.attn.c_attn.weight": torch.randn(d, 3 * d), "h.0.attn.c_attn.bias": torch.zeros(3 * d),
               "h.0.attn.c_proj.weight": torch.randn(d, d), "h.0.attn.c_proj.bias": torch.zeros(d),
               "h.0.mlp.c_fc.weight": torch.randn(d, 4 * d), "h.0.mlp.c_fc.bias": torch.zeros(4 * d),
               "h.0.mlp.c_proj.weight": torch.randn(4 * d, d), "h.0.mlp.c_proj.bias": torch.zeros(d),
               "ln_f.weight": torch.ones(d), "ln_f.bias": torch.zeros(d)}
    config = {"model_type": "gpt2", "vocab_size": vocab, "n_positions": n_positions, "n_embd": d,
              "n_layer": 1, "n_head": 1}
    (tmp_path / "config.json").write_text(json.dumps(config))
    save_file({"transformer." + k: v for k, v in tensors.items()}, tmp_path / "model.safetensors")
    return tmp_path, tensors


def test_a_small_checkpoint_asking_for_100000_positions_is_refused(tmp_path):
    directory, _ = _tiny_checkpoint(tmp_path, n_positions=100_000, emb=1)
    assert (directory / "model.safetensors").stat().st_size < 500_000
    with pytest.raises(ValueError, match=r"config.json: n_positions is 100,000.*at most 16,384"):
        load_gpt2(directory)


def test_the_hand_built_checkpoint_loads(tmp_path):
    """The helper above writes a valid checkpoint: the refusals below come from what each test breaks."""
    directory, tensors = _tiny_checkpoint(tmp_path)
    model = load_gpt2(directory)
    assert torch.equal(model.tok_emb.weight, tensors["wte.weight"])
    assert torch.equal(model.trf_blocks[0].att.W_key.weight, tensors["h.0.attn.c_attn.weight"][:, 4:8].t())


# ----------------------------------------------------------------------------- token ids


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.uint16, torch.uint32, torch.uint64])
def test_token_ids_of_other_integer_dtypes_get_a_hint(tiny_model, dtype):
    ids = torch.tensor([[1, 2]]).to(dtype)
    with pytest.raises(TypeError, match=rf"torch.long \(int64\) or torch.int32, got dtype {dtype}.*\.long\(\)"):
        tiny_model(ids)
    assert torch.equal(tiny_model(ids.long()), tiny_model(ids.to(torch.int32)))  # the two accepted dtypes agree


@pytest.mark.parametrize(
    "ids,error,words",
    [
        (torch.zeros(1, 2, dtype=torch.long, device="meta"), ValueError, "meta device"),
        (np.array([[1, 2]]), TypeError, r"got ndarray; convert it with torch.tensor"),
        (b"ab", TypeError, "got bytes"),
        (torch.tensor([[1, 0]]).to_sparse(), TypeError, "dense"),
    ],
)
def test_token_ids_that_are_not_a_dense_tensor_with_values(tiny_model, ids, error, words):
    for call in (tiny_model, lambda i: generate(tiny_model, i, 2), lambda i: generate_text_simple(tiny_model, i, 2, 8)):
        with pytest.raises(error, match=words):
            call(ids)


# ----------------------------------------------------------------------------- sampling edge cases


def test_a_tiny_temperature_is_the_greedy_choice():
    torch.manual_seed(0)
    logits = torch.randn(3, 20) * 10
    greedy = torch.argmax(logits, dim=-1, keepdim=True)
    for temperature in (1e-45, 1e-30, 1e-8):
        probs = next_token_probs(logits, temperature)
        assert torch.equal(probs, torch.nn.functional.one_hot(greedy[:, 0], 20).float())
        assert torch.equal(sample_next_token(logits, temperature, generator=torch.Generator().manual_seed(1)), greedy)


def test_next_token_probs_is_unchanged_for_ordinary_temperatures():
    torch.manual_seed(0)
    logits = torch.randn(2, 50)
    for temperature in (0.5, 1.0, 3.0):
        expected = torch.softmax(logits.double() / temperature, dim=-1).float()  # float64 route
        assert torch.allclose(next_token_probs(logits, temperature), expected, atol=1e-6)


@pytest.mark.parametrize(
    "call,error,words",
    [
        (lambda lg: top_p_filter(lg, float("nan")), ValueError, "top_p must satisfy 0 < top_p <= 1, got nan"),
        (lambda lg: top_p_filter(lg, None), TypeError, "top_p must be a number"),
        (lambda lg: top_k_filter(lg, 0), ValueError, "top_k must be >= 1.*got 0"),
        (lambda lg: top_k_filter(lg, 2.0), TypeError, "top_k must be an int"),
        (lambda lg: top_k_filter(lg.long(), 2), TypeError, "logits must be a floating-point tensor"),
        (lambda lg: sample_next_token(lg, temperature=float("inf")), ValueError, "temperature must be a finite"),
        (lambda lg: sample_next_token(lg[None]), ValueError, r"\[batch, vocab_size\]"),
        (lambda lg: sample_next_token(lg, 1.0, generator=123), TypeError, "generator"),
        (lambda lg: next_token_probs(lg[:, :0]), ValueError, "at least one value"),
    ],
)
def test_bad_sampling_arguments(call, error, words):
    with pytest.raises(error, match=words):
        call(torch.randn(2, 10))


@pytest.mark.parametrize("bad,words", [(float("nan"), "NaN"), (float("inf"), r"\+inf")])
def test_nan_or_inf_logits_are_refused_not_read_as_token_0(bad, words):
    logits = torch.zeros(2, 5)
    logits[1, 3] = bad
    for call in (lambda: sample_next_token(logits), lambda: sample_next_token(logits, 1.0),
                 lambda: next_token_probs(logits), lambda: top_k_filter(logits, 2), lambda: top_p_filter(logits, 0.5)):
        with pytest.raises(ValueError, match=words):
            call()


def test_a_row_with_no_token_left_is_refused_but_minus_inf_elsewhere_is_fine():
    logits = torch.tensor([[0.0, -torch.inf, 1.0], [-torch.inf, -torch.inf, -torch.inf]])
    with pytest.raises(ValueError, match="-inf everywhere"):
        next_token_probs(logits)
    probs = next_token_probs(logits[:1])
    assert probs[0, 1] == 0 and torch.allclose(probs.sum(), torch.tensor(1.0))


# ----------------------------------------------------------------------------- DummyGPTModel


def test_generation_with_the_dummy_model_works_with_or_without_the_cache(tiny_cfg):
    torch.manual_seed(0)
    dummy = DummyGPTModel(tiny_cfg).eval()
    idx = torch.tensor([[1, 2, 3]])
    expected = generate_text_simple(dummy, idx, 7, context_size=8)  # also past the context
    assert torch.equal(generate(dummy, idx, 7), expected)
    assert torch.equal(generate(dummy, idx, 7, use_cache=False), expected)


def test_the_dummy_model_where_attention_blocks_are_needed(tiny_cfg):
    dummy = DummyGPTModel(tiny_cfg).eval()
    with pytest.raises(TypeError, match=r"GPTModel, got DummyGPTModel.*count_parameters\(model\) works"):
        parameter_breakdown(dummy)
    assert count_parameters(dummy) == 101 * 16 + 8 * 16 + 16 * 101
    for call in (lambda: KVCache.for_model(dummy, 1),
                 lambda: forward_with_cache(dummy, torch.tensor([[1]]), KVCache(2, 1, 4, 4, 8))):
        with pytest.raises(TypeError, match="KV cache needs attention blocks"):
            call()


# ----------------------------------------------------------------------------- loaders


def _write(directory, tensors, prefix="transformer."):
    save_file({prefix + k: v.contiguous() for k, v in tensors.items()}, directory / "model.safetensors")


@pytest.mark.parametrize("dtype", [torch.int8, torch.int64, torch.bool])
def test_integer_or_bool_weights_are_refused(tmp_path, dtype):
    directory, tensors = _tiny_checkpoint(tmp_path)
    _write(directory, {**tensors, "h.0.mlp.c_fc.weight": tensors["h.0.mlp.c_fc.weight"].to(dtype)})
    with pytest.raises(ValueError, match=rf"'h.0.mlp.c_fc.weight' has dtype {dtype}; weights must be floating"):
        load_gpt2(directory)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_or_inf_weights_are_refused(tmp_path, bad):
    directory, tensors = _tiny_checkpoint(tmp_path)
    tensors["ln_f.bias"][2] = bad
    _write(directory, tensors)
    with pytest.raises(ValueError, match="'ln_f.bias' holds NaN or infinite values"):
        load_gpt2(directory)


def test_a_tensor_present_twice_is_refused(tmp_path):
    directory, tensors = _tiny_checkpoint(tmp_path)
    save_file({**{"transformer." + k: v for k, v in tensors.items()}, "wpe.weight": torch.zeros(8, 4)},
              directory / "model.safetensors")
    with pytest.raises(ValueError, match=r"tensor 'wpe.weight' twice .*'transformer.wpe.weight'.*'wpe.weight'"):
        load_gpt2(directory)


def _shard(directory, tensors, weight_map):
    os.remove(directory / "model.safetensors")
    names = sorted(tensors)
    save_file({k: tensors[k] for k in names[:5]}, directory / "a.safetensors")
    save_file({k: tensors[k] for k in names[5:]}, directory / "b.safetensors")
    (directory / "model.safetensors.index.json").write_text(json.dumps(weight_map))


def test_sharded_checkpoints_load_and_refuse_a_tensor_in_two_shards(tmp_path):
    directory, tensors = _tiny_checkpoint(tmp_path)
    names = sorted(tensors)
    weight_map = {k: "a.safetensors" if i < 5 else "b.safetensors" for i, k in enumerate(names)}
    _shard(directory, tensors, {"weight_map": weight_map})
    assert torch.equal(load_gpt2(directory).pos_emb.weight, tensors["wpe.weight"])
    save_file({k: tensors[k] for k in names[5:] + [names[0]]}, directory / "b.safetensors")
    with pytest.raises(ValueError, match=rf"'{names[0]}' twice .*a.safetensors.*b.safetensors"):
        load_gpt2(directory)


@pytest.mark.parametrize("shard", ["../a.safetensors", "/tmp/a.safetensors", "sub/a.safetensors", "..", ""])
def test_an_index_cannot_point_outside_the_checkpoint(tmp_path, shard):
    inner = tmp_path / "ckpt"
    inner.mkdir()
    directory, tensors = _tiny_checkpoint(inner)
    _shard(directory, tensors, {"weight_map": {k: shard for k in tensors}})
    save_file(tensors, tmp_path / "a.safetensors")  # what ../a.safetensors would read
    with pytest.raises(ValueError, match="must be a plain file name"):
        load_gpt2(directory)


@pytest.mark.parametrize("index", [[1, 2], {"weight_map": ["a.safetensors"]}, {"weight_map": {"wte.weight": 3}}])
def test_a_malformed_index_is_refused(tmp_path, index):
    directory, tensors = _tiny_checkpoint(tmp_path)
    _shard(directory, tensors, index)
    with pytest.raises(ValueError, match="model.safetensors.index.json"):
        load_gpt2(directory)


@pytest.mark.parametrize("value", ["false", 0, None])
def test_tie_word_embeddings_must_be_a_boolean(tmp_path, value):
    directory, _ = _tiny_checkpoint(tmp_path)
    config = json.loads((directory / "config.json").read_text())
    (directory / "config.json").write_text(json.dumps({**config, "tie_word_embeddings": value}))
    with pytest.raises(ValueError, match=rf"tie_word_embeddings must be true or false.*got {value!r}"):
        load_gpt2(directory)


def test_a_config_that_is_not_utf8_names_the_file(tmp_path):
    directory, _ = _tiny_checkpoint(tmp_path)
    (directory / "config.json").write_bytes(b'{"model_type": "gpt2\xff"}')
    with pytest.raises(ValueError, match=r"config.json is not UTF-8 text"):
        load_gpt2(directory)


def test_saving_does_not_write_through_a_dangling_symlink(tmp_path, tiny_model):
    target = tmp_path / "ckpt"
    target.mkdir()
    (target / "config.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(FileExistsError, match="already holds config.json"):
        save_gpt2_checkpoint(tiny_model, target)
    assert not (tmp_path / "elsewhere.json").exists()
    assert not os.path.lexists(target / "model.safetensors")


def test_a_saved_model_round_trips(tmp_path, tiny_model):
    """The checks refuse only what is wrong: the package's own checkpoint loads with the same weights."""
    save_gpt2_checkpoint(tiny_model, tmp_path / "out")
    assert set(load_file(tmp_path / "out" / "model.safetensors")) >= {"transformer.wte.weight"}
    loaded = load_gpt2(tmp_path / "out")
    assert torch.equal(loaded.out_head.weight, tiny_model.out_head.weight)


# ----------------------------------------------------------------------------- tokenizer helpers


@pytest.mark.parametrize(
    "ids,error,words",
    [
        (b"abc", TypeError, "got bytes; to decode text"),
        ("abc", TypeError, "got str"),
        (torch.tensor([True, False]), TypeError, "integer ids, got dtype torch.bool"),
        (torch.tensor([1.0, 2.0]), TypeError, "integer ids, got dtype torch.float32"),
        (np.array([1.5]), TypeError, "integer ids, got dtype float64"),
        ([1, 2.0], TypeError, r"hold ints, got 2.0 \(float\)"),
        ([True], TypeError, "hold ints, got True"),
        (torch.zeros(2, 3, dtype=torch.long), ValueError, r"one sequence of ids.*\[2, 3\]"),
        ([50257], ValueError, r"50257 is not in the vocabulary \[0, 50257\)"),
        (np.int64(5), TypeError, "single value"),
    ],
)
def test_token_ids_to_text_refuses_what_is_not_a_list_of_ids(ids, error, words):
    with pytest.raises(error, match=words):
        token_ids_to_text(ids)


def test_token_ids_to_text_accepts_numpy_and_every_integer_tensor():
    ids = [15496, 11, 314, 716]
    expected = get_tokenizer().decode(ids)
    for given in (np.array(ids), np.array([ids], dtype=np.int32), [np.int64(i) for i in ids],
                  torch.tensor(ids, dtype=torch.int32), torch.tensor([ids], dtype=torch.uint16), tuple(ids)):
        assert token_ids_to_text(given) == expected


def test_the_tokenizer_needs_no_cache_folder_and_writes_nothing(tmp_path, monkeypatch):
    from tiktoken.load import data_gym_to_mergeable_bpe_ranks

    from gpt_from_scratch.tokenizer import gpt2_mergeable_ranks, load_gpt2_encoding, tokenizer_files

    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o500)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    for cache in (blocker / "cache", readonly):  # a cache folder under a file; a read-only one
        monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(cache))
        encoding = load_gpt2_encoding(*tokenizer_files())
        assert encoding.decode(encoding.encode("Hello, world")) == "Hello, world"
    assert list(scratch.iterdir()) == [] and list(readonly.iterdir()) == []
    # tiktoken's own parser of the same files (with a usable cache) gives the same ranks
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken_cache"))
    vocab, encoder = tokenizer_files()
    assert gpt2_mergeable_ranks(vocab, encoder) == data_gym_to_mergeable_bpe_ranks(str(vocab), str(encoder))


# ----------------------------------------------------------------------------- widgets


def _shown(playground):
    """The text a widget shows (printed lines and HTML captions, as plain text) and its images."""
    outputs = playground.output.outputs
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    texts = [o["text"] if o["output_type"] == "stream" else o["data"].get("text/plain", "")
             for o in outputs if o not in images]
    return "".join(texts), images


def test_dollar_signs_in_the_attention_explorer_are_text_not_math():
    from gpt_from_scratch.widgets import attention_explorer

    torch.manual_seed(0)
    model = GPTModel({"vocab_size": 50257, "context_length": 16, "emb_dim": 16, "n_heads": 4, "n_layers": 1,
                      "drop_rate": 0.0, "qkv_bias": False}).eval()
    explorer = attention_explorer(model, text="price $5")
    for text in ("$$", "costs $x^2$ and $$", "a $\\frac{1}{$ b", "x" * 40):
        explorer.set(text=text)
        shown, images = _shown(explorer)
        assert "tokens" in shown and "Cannot show" not in shown and len(images) == 1, (text, shown)
    explorer.set(text="")  # an error replaces the old plot: only the message is left
    shown, images = _shown(explorer)
    assert shown.startswith("Cannot show this: text is empty") and images == []


def test_the_explorers_refuse_the_dummy_model(tiny_cfg):
    from gpt_from_scratch.widgets import attention_explorer, attention_maps

    dummy = DummyGPTModel(tiny_cfg).eval()
    for call in (lambda: attention_explorer(dummy), lambda: attention_maps(dummy, torch.tensor([[1]]))):
        with pytest.raises(TypeError, match="GPTModel, got DummyGPTModel"):
            call()


def test_model_size_explorer_is_bounded():
    from gpt_from_scratch.widgets import model_size_explorer

    explorer = model_size_explorer()
    assert explorer.controls["n_layers"].max <= 256
    assert explorer.controls["context_length"].max == MAX_CONTEXT_LENGTH
    start = time.perf_counter()
    explorer.set(n_layers=10**6, emb_dim=10**6, n_heads=16, context_length=10**6)  # clamped to the fields' maxima
    shown, images = _shown(explorer)
    assert time.perf_counter() - start < 30
    assert explorer.values["n_layers"] == explorer.controls["n_layers"].max
    assert "total" in shown and len(images) == 1


# ----------------------------------------------------------------------------- the KV cache and new prompts


def test_prefill_starts_a_new_sequence_and_forward_with_cache_continues_one(tiny_model):
    old, new = torch.tensor([[5, 6, 7]]), torch.tensor([[1, 2]])
    fresh = forward_with_cache(tiny_model, new, KVCache.for_model(tiny_model, 1))
    used = KVCache.for_model(tiny_model, 1)
    forward_with_cache(tiny_model, old, used)
    assert torch.equal(prefill(tiny_model, new, used), fresh) and used.length == 2
    continued = KVCache.for_model(tiny_model, 1)
    forward_with_cache(tiny_model, old, continued)
    mixed = forward_with_cache(tiny_model, new, continued)  # documented: the new tokens follow the old ones
    assert torch.allclose(mixed, tiny_model(torch.cat([old, new], dim=1))[:, -1], atol=1e-5)


def test_generate_always_starts_fresh_and_the_cache_refuses_training_mode(tiny_model):
    idx = torch.tensor([[3, 4]])
    assert torch.equal(generate(tiny_model, idx, 4), generate(tiny_model, idx, 4))
    assert torch.equal(generate(tiny_model, idx, 4), generate_text_simple(tiny_model, idx, 4, 8))
    tiny_model.train()
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        forward_with_cache(tiny_model, idx, KVCache.for_model(tiny_model, 1))
    with pytest.raises(TypeError, match="cache must be a KVCache"):
        forward_with_cache(tiny_model.eval(), idx, None)


# ----------------------------------------------------------------------------- the smaller public helpers


@pytest.mark.parametrize(
    "call,error,words",
    [
        (lambda: count_parameters("model"), TypeError, "model must be a torch.nn.Module"),
        (lambda: __import__("gpt_from_scratch").count_parameters_tied(GELU()), TypeError, "out_head"),
        (lambda: __import__("gpt_from_scratch").gpt2_size_table(3), TypeError, "configs must be a dict"),
        (lambda: __import__("gpt_from_scratch").model_size_mb(None), TypeError, "model must be"),
        (lambda: KVCache(1, 1, 1, 1, 1, dtype="float"), TypeError, "dtype must be a floating-point torch.dtype"),
        (lambda: KVCache(1, 1, 1, 1, 1, dtype=torch.long), TypeError, "dtype must be a floating-point"),
        (lambda: KVCache(1, 1, 1, 1, 1, device="gpu"), ValueError, "unknown device name 'gpu'"),
        (lambda: KVCache(1, 0, 1, 1, 1), ValueError, "batch_size must be positive"),
        (lambda: __import__("gpt_from_scratch").rounded(torch.ones(2), 2.5), TypeError, "decimals must be an int"),
        (lambda: __import__("gpt_from_scratch").rounded("abc"), TypeError, "t must be a tensor"),
        (lambda: __import__("gpt_from_scratch").rounded(torch.ones(2, device="meta")), ValueError, "meta"),
    ],
)
def test_smaller_helpers_name_the_bad_argument(call, error, words):
    with pytest.raises(error, match=words):
        call()
