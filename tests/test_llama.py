"""Notebook 14's modern model: each change on its own, the model and its KV cache, bad input, and parity
with Hugging Face transformers' LlamaForCausalLM in both directions (load theirs, write ours).

All checkpoints are random models built here; nothing is downloaded (HF_HUB_OFFLINE=1).
"""

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
import torch
from safetensors.torch import load_file, save_file

from gpt_from_scratch import (
    GPTModel, GroupedQueryAttention, LayerNorm, LlamaModel, RMSNorm, RotaryEmbedding, SwiGLUFeedForward,
    apply_rope, generate, generate_text_simple, kv_cache_bytes_per_token, save_llama_checkpoint)
from gpt_from_scratch.llama import llama_config, swiglu_hidden_dim

import transformers  # noqa: E402  (requirements-dev.txt; a missing install must fail, not skip)
transformers.logging.set_verbosity_error()

TINY = dict(vocab_size=97, context_length=24, emb_dim=32, n_heads=4, n_kv_heads=2, n_layers=2, hidden_dim=88)


def tiny(**change):
    torch.manual_seed(0)
    return LlamaModel({**TINY, **change}).eval()


# ---------- each change on its own ----------

def test_rmsnorm_equals_layernorm_for_zero_mean_vectors():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 16)
    x = x - x.mean(-1, keepdim=True)
    rms, ln = RMSNorm(16, eps=1e-5), LayerNorm(16)
    assert torch.allclose(rms(x), ln(x), atol=1e-6)
    y = x + 2.0  # a mean LayerNorm removes and RMSNorm keeps
    assert not torch.allclose(rms(y), ln(y), atol=1e-2)
    # RMSNorm's definition computed another way: each vector divided by its root mean square.
    manual = y / torch.sqrt((y * y).sum(-1, keepdim=True) / 16 + 1e-5)
    assert torch.allclose(rms(y), manual, atol=1e-6)


def test_rope_keeps_lengths_and_the_score_depends_only_on_the_distance():
    torch.manual_seed(0)
    rope = RotaryEmbedding(8, theta=10_000.0)
    q, k = torch.randn(8), torch.randn(8)

    def score(i, j):
        cos, sin = rope(torch.tensor([i, j]))
        return (apply_rope(q, cos[0], sin[0]) @ apply_rope(k, cos[1], sin[1])).item()

    assert score(5, 2) == pytest.approx(score(103, 100), abs=1e-4)
    assert score(5, 2) == pytest.approx(score(3, 0), abs=1e-4)
    assert score(5, 2) != pytest.approx(score(5, 3), abs=1e-3)
    cos, sin = rope(torch.arange(50))
    assert torch.allclose(apply_rope(q.expand(50, 8), cos, sin).norm(dim=-1), q.norm().expand(50), atol=1e-5)
    # Position 0 is not rotated; pair i turns by theta^(-2i/d) per position (computed here from the angle).
    assert torch.allclose(apply_rope(q, cos[0], sin[0]), q)
    x = torch.tensor([1.0, 0, 0, 0, 0, 0, 0, 0])
    turned = apply_rope(x, cos[3], sin[3])
    assert turned[0].item() == pytest.approx(torch.cos(torch.tensor(3.0)).item(), abs=1e-6)
    assert turned[4].item() == pytest.approx(torch.sin(torch.tensor(3.0)).item(), abs=1e-6)


def test_swiglu_hidden_size_keeps_the_parameter_count():
    for emb_dim in (128, 768, 4096):
        hidden = swiglu_hidden_dim(emb_dim)
        assert hidden % 8 == 0 and abs(hidden - 8 * emb_dim / 3) < 8
        swiglu = sum(p.numel() for p in SwiGLUFeedForward(emb_dim, hidden).parameters()) if emb_dim < 4096 \
            else 3 * emb_dim * hidden
        assert abs(swiglu / (2 * emb_dim * 4 * emb_dim) - 1) < 0.01


def test_swiglu_is_down_of_silu_gate_times_up():
    torch.manual_seed(0)
    ff, x = SwiGLUFeedForward(8, 12), torch.randn(2, 3, 8)
    gate, up = x @ ff.gate.weight.T, x @ ff.up.weight.T
    assert torch.allclose(ff(x), (gate * torch.sigmoid(gate) * up) @ ff.down.weight.T, atol=1e-6)


@pytest.mark.parametrize("n_kv_heads", [4, 2, 1])
def test_gqa_equals_mha_with_the_key_value_heads_repeated(n_kv_heads):
    torch.manual_seed(0)
    gqa = GroupedQueryAttention(16, 4, n_kv_heads, 4)
    mha = GroupedQueryAttention(16, 4, 4, 4)
    group = 4 // n_kv_heads
    with torch.no_grad():
        mha.W_query.weight.copy_(gqa.W_query.weight)
        mha.out_proj.weight.copy_(gqa.out_proj.weight)
        for name in ("W_key", "W_value"):  # head h of the MHA reads key/value head h // group
            w = getattr(gqa, name).weight.view(n_kv_heads, 4, 16).repeat_interleave(group, dim=0)
            getattr(mha, name).weight.copy_(w.reshape(16, 16))
    x, pos = torch.randn(2, 6, 16), torch.arange(6)
    assert torch.allclose(gqa(x, pos), mha(x, pos), atol=1e-6)
    assert sum(p.numel() for p in gqa.parameters()) == 16 * 16 * 2 + 2 * 16 * 4 * n_kv_heads


def test_attention_is_causal():
    torch.manual_seed(0)
    att = GroupedQueryAttention(16, 4, 2, 4, rope=RotaryEmbedding(4))
    x = torch.randn(1, 6, 16)
    y = x.clone()
    y[:, 4:] = torch.randn(1, 2, 16)  # change the future
    pos = torch.arange(6)
    assert torch.allclose(att(x, pos)[:, :4], att(y, pos)[:, :4], atol=1e-6)


def test_kv_cache_bytes_per_token_formula_and_real_cache():
    for n_kv in (4, 2, 1):
        model = tiny(n_kv_heads=n_kv)
        cache = model.new_cache(1, 10)
        measured = sum(t.numel() * t.element_size() for t in cache.keys + cache.values) // 10
        assert measured == kv_cache_bytes_per_token(model.cfg) == 2 * 2 * n_kv * 8 * 4
        assert cache.keys[0].shape == (1, n_kv, 10, 8)


def test_gpt_switches_give_a_gpt_and_tying_shares_one_matrix():
    gpt = dict(norm="layernorm", positions="learned", feed_forward="gelu", bias=True, n_kv_heads=4, hidden_dim=128)
    model = tiny(**gpt)
    assert hasattr(model, "pos_emb") and isinstance(model.final_norm, LayerNorm)
    # The same parameters as the series' GPTModel except the query/key/value biases (3 * emb_dim per block).
    reference = GPTModel(dict(vocab_size=97, context_length=24, emb_dim=32, n_heads=4, n_layers=2, drop_rate=0.0,
                              qkv_bias=True))
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference.parameters())
    tied, untied = tiny(tie_embeddings=True), tiny()
    assert tied.out_head.weight is tied.tok_emb.weight
    assert sum(p.numel() for p in untied.parameters()) - sum(p.numel() for p in tied.parameters()) == 97 * 32
    assert all(not n.endswith("bias") for n, _ in untied.named_parameters())


# ---------- generation and the cache ----------

@pytest.mark.parametrize("change", [{}, {"n_kv_heads": 1}, {"n_kv_heads": 4, "tie_embeddings": True},
                                    {"positions": "learned", "norm": "layernorm", "feed_forward": "gelu"}])
def test_cache_gives_the_same_tokens_also_past_the_context(change):
    model = tiny(**change)
    torch.manual_seed(1)
    prompt = torch.randint(0, 97, (2, 5))
    steps = 40  # 5 + 40 > context_length 24: the window slides and the cache is rebuilt
    assert torch.equal(generate(model, prompt, steps), generate(model, prompt, steps, use_cache=False))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    sampled = generate(model, prompt, steps, temperature=1.0, top_k=20, generator=g1)
    assert torch.equal(sampled, generate(model, prompt, steps, temperature=1.0, top_k=20, generator=g2,
                                         use_cache=False))
    assert torch.equal(generate(model, prompt, 10), generate_text_simple(model, prompt, 10, 24))


def test_cached_logits_equal_the_full_forward_and_eos_stops():
    model = tiny()
    torch.manual_seed(1)
    idx = torch.randint(0, 97, (2, 12))
    cache = model.new_cache(2)
    with torch.no_grad():
        parts = [model(idx[:, :7], cache=cache), model(idx[:, 7:8], cache=cache), model(idx[:, 8:], cache=cache)]
        full = model(idx)
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)
    first = int(generate(model, idx[:1, :3], 1)[0, -1])
    out = generate(model, idx[:1, :3], 20, eos_id=first)
    assert out.shape == (1, 4)


def test_rope_model_reads_texts_longer_than_its_context():
    model = tiny()
    idx = torch.randint(0, 97, (1, 50))
    with torch.no_grad():
        assert model(idx).shape == (1, 50, 97)
    learned = tiny(positions="learned")
    with pytest.raises(ValueError, match="learned position table ends at 23"):
        learned(idx)


# ---------- bad input ----------

@pytest.mark.parametrize("change, error, words", [
    ({"n_kv_heads": 3}, ValueError, "multiple of config\\['n_kv_heads'\\]"),
    ({"n_kv_head": 2}, ValueError, "did you mean 'n_kv_heads'"),
    ({"norm": "batchnorm"}, ValueError, "config\\['norm'\\] must be one of"),
    ({"positions": "alibi"}, ValueError, "config\\['positions'\\]"),
    ({"feed_forward": "relu"}, ValueError, "config\\['feed_forward'\\]"),
    ({"bias": 1}, TypeError, "config\\['bias'\\] must be True or False"),
    ({"rope_theta": -1.0}, ValueError, "config\\['rope_theta'\\] must be a finite number > 0"),
    ({"norm_eps": "1e-5"}, TypeError, "config\\['norm_eps'\\] must be a positive number"),
    ({"emb_dim": 30}, ValueError, "divisible by config\\['n_heads'\\]"),
    ({"head_dim": 7}, ValueError, "must be even for RoPE"),
    ({"hidden_dim": 0}, ValueError, "config\\['hidden_dim'\\] must be positive"),
    ({"context_length": 10**6}, ValueError, "context_length"),
])
def test_bad_configs_name_the_key(change, error, words):
    with pytest.raises(error, match=words):
        LlamaModel({**TINY, **change})


def test_bad_constructor_and_call_arguments():
    with pytest.raises(TypeError, match="config must be a dict"):
        LlamaModel([1, 2])
    with pytest.raises(ValueError, match="missing key\\(s\\): n_kv_heads"):
        llama_config({k: v for k, v in TINY.items() if k != "n_kv_heads"})
    with pytest.raises(TypeError, match="eps must be a positive number"):
        RMSNorm(8, eps=None)
    with pytest.raises(ValueError, match="head_dim must be even"):
        RotaryEmbedding(7)
    with pytest.raises(ValueError, match="n_heads \\(4\\) must be a multiple of n_kv_heads \\(3\\)"):
        GroupedQueryAttention(16, 4, 3, 4)
    with pytest.raises(TypeError, match="rope must be a RotaryEmbedding"):
        GroupedQueryAttention(16, 4, 2, 4, rope=10_000)
    with pytest.raises(ValueError, match="x must have 8 features"):
        RMSNorm(8)(torch.ones(2, 7))
    model = tiny()
    with pytest.raises(TypeError, match="in_idx must hold integer token ids"):
        model(torch.ones(1, 3))
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[97]]))
    with pytest.raises(TypeError, match="cache must be a KVCache"):
        model(torch.tensor([[1]]), cache={})
    with pytest.raises(ValueError, match="n_kv_heads, head_dim"):
        model(torch.tensor([[1]]), cache=tiny(n_kv_heads=4).new_cache(1))
    cache = model.new_cache(1, 4)
    with pytest.raises(ValueError, match="do not fit in a cache of capacity 4"):
        model(torch.tensor([[1, 2, 3, 4, 5]]), cache=cache)


# ---------- parity with transformers' LlamaForCausalLM ----------

CONFIGS = {
    "gqa untied theta 10000": dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
                                   rope_theta=10_000.0),
    "mha tied theta 500000": dict(num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=True,
                                  rope_theta=500_000.0),
    "mqa untied theta 1000": dict(num_attention_heads=4, num_key_value_heads=1, tie_word_embeddings=False,
                                  rope_theta=1_000.0),
    "gqa tied head_dim 16": dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                                 head_dim=16, rms_norm_eps=1e-5),
}


def hf_llama(seed, **config):
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(vocab_size=211, hidden_size=48, intermediate_size=128, num_hidden_layers=2,
                                   max_position_embeddings=64, bos_token_id=None, eos_token_id=None,
                                   pad_token_id=None, **config)
    hf = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # random norm weights, so a swapped or missing scale cannot go unnoticed
        for name, p in hf.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
    return hf


def hf_greedy(hf, prompt, steps):
    return hf.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, max_new_tokens=steps,
                       min_new_tokens=steps, pad_token_id=0)


def assert_parity(hf, ours):
    torch.manual_seed(5)
    batch = torch.randint(0, 211, (2, 40))
    with torch.no_grad():
        difference = (hf(batch).logits - ours(batch)).abs().max().item()
    assert difference <= 1e-4
    prompt = batch[:1, :6]
    reference = hf_greedy(hf, prompt, 30)
    assert torch.equal(generate(ours, prompt, 30), reference)
    assert torch.equal(generate(ours, prompt, 30, use_cache=False), reference)
    return difference


@pytest.mark.parametrize("name", CONFIGS)
def test_loads_llama_for_causal_lm(name, tmp_path):
    hf = hf_llama(0, **CONFIGS[name])
    hf.save_pretrained(tmp_path)
    ours = LlamaModel.from_pretrained(tmp_path)
    assert ours.trf_blocks[0].att.n_kv_heads == CONFIGS[name]["num_key_value_heads"]
    assert (ours.out_head.weight is ours.tok_emb.weight) == CONFIGS[name]["tie_word_embeddings"]
    assert_parity(hf, ours)


@pytest.mark.parametrize("name", CONFIGS)
def test_transformers_loads_what_we_write(name, tmp_path):
    hf = hf_llama(1, **CONFIGS[name])
    hf.save_pretrained(tmp_path / "theirs")
    ours = LlamaModel.from_pretrained(tmp_path / "theirs")
    save_llama_checkpoint(ours, tmp_path / "ours")
    back = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "ours").eval()
    assert_parity(back, ours)
    # The writer is the inverse of the loader: the same tensors, bit for bit.
    again = LlamaModel.from_pretrained(tmp_path / "ours")
    for (name_a, a), (name_b, b) in zip(ours.state_dict().items(), again.state_dict().items()):
        assert name_a == name_b and torch.equal(a, b)


def test_our_own_model_round_trips_through_transformers(tmp_path):
    torch.manual_seed(2)
    model = LlamaModel({**TINY, "rope_theta": 50_000.0, "norm_eps": 1e-6, "head_dim": 12})
    save_llama_checkpoint(model, tmp_path)
    hf = transformers.LlamaForCausalLM.from_pretrained(tmp_path).eval()
    idx = torch.randint(0, 97, (1, 20))
    with torch.no_grad():
        assert (hf(idx).logits - model(idx)).abs().max().item() <= 1e-4


# ---------- bad checkpoints ----------

@pytest.fixture
def checkpoint(tmp_path):
    hf_llama(0, **CONFIGS["gqa untied theta 10000"]).save_pretrained(tmp_path / "ok")
    return tmp_path / "ok"


def edit(path, config=None, tensors=None):
    if config is not None:
        hf = json.loads((path / "config.json").read_text())
        config(hf)
        (path / "config.json").write_text(json.dumps(hf))
    if tensors is not None:
        t = load_file(path / "model.safetensors")
        tensors(t)
        save_file(t, path / "model.safetensors", metadata={"format": "pt"})


@pytest.mark.parametrize("config, tensors, words", [
    (lambda c: c.update(model_type="gpt2"), None, "only 'llama' checkpoints"),
    (lambda c: c.update(hidden_act="gelu"), None, "hidden_act is 'gelu'"),
    (lambda c: c.update(attention_bias=True), None, "attention_bias=True is not supported"),
    (lambda c: c.update(rope_parameters={"rope_type": "llama3", "rope_theta": 1.0}), None, "RoPE scaling"),
    (lambda c: c.update(num_key_value_heads=3), None, "multiple of config\\['n_kv_heads'\\]"),
    (lambda c: c.update(tie_word_embeddings="yes"), None, "tie_word_embeddings must be true or false"),
    (lambda c: c.pop("vocab_size"), None, "lacks 'vocab_size'"),
    (None, lambda t: t.pop("model.layers.1.mlp.up_proj.weight"), "lacks tensor 'model.layers.1.mlp.up_proj.weight'"),
    (None, lambda t: t.pop("lm_head.weight"), "lacks tensor 'lm_head.weight'"),
    (None, lambda t: t.update(extra=torch.zeros(2)), "no place for: extra"),
    (None, lambda t: t.update({"model.norm.weight": torch.zeros(47)}), "'model.norm.weight' has shape \\[47\\]"),
    (None, lambda t: t["model.norm.weight"].fill_(float("nan")), "NaN or infinite"),
])
def test_bad_checkpoints_name_the_problem(checkpoint, config, tensors, words):
    edit(checkpoint, config, tensors)
    with pytest.raises(ValueError, match=words):
        LlamaModel.from_pretrained(checkpoint)


def test_missing_and_unreadable_files(checkpoint, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LlamaModel.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(TypeError, match="path must be a str"):
        LlamaModel.from_pretrained(3)
    (checkpoint / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="model.safetensors is not a readable safetensors file"):
        LlamaModel.from_pretrained(checkpoint)
    (checkpoint / "model.safetensors").unlink()
    (checkpoint / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(FileNotFoundError, match="pytorch_model.bin is a pickle file and is not read"):
        LlamaModel.from_pretrained(checkpoint)
    (checkpoint / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="config.json is not valid JSON"):
        LlamaModel.from_pretrained(checkpoint)


def test_writer_refuses_what_it_cannot_write(tmp_path):
    with pytest.raises(TypeError, match="model must be a LlamaModel"):
        save_llama_checkpoint(GPTModel(dict(vocab_size=10, context_length=8, emb_dim=8, n_heads=2, n_layers=1,
                                            drop_rate=0.0, qkv_bias=False)), tmp_path)
    with pytest.raises(ValueError, match="only the Llama form"):
        save_llama_checkpoint(tiny(norm="layernorm"), tmp_path)
    save_llama_checkpoint(tiny(), tmp_path / "a")
    with pytest.raises(FileExistsError, match="already holds config.json, model.safetensors"):
        save_llama_checkpoint(tiny(), tmp_path / "a")


# ---------- the widget ----------

def test_kv_cache_explorer_follows_its_controls():
    from gpt_from_scratch.widgets import kv_cache_explorer

    explorer = kv_cache_explorer()
    text = explorer.output.outputs[0]["text"]
    assert "131,072 bytes per token" in text and "4x as much" in text  # 2 * 32 layers * 8 heads * 128 * 2 bytes
    assert explorer.output.outputs[1]["output_type"] == "display_data"
    explorer.set(model="GPT-2 small (124M)", dtype="float32 (4 bytes)")
    text = explorer.output.outputs[0]["text"]
    assert "73,728 bytes per token" in text and "1x as much" in text  # 2 * 12 * 12 * 64 * 4: GPT-2 has no GQA
    assert len(repr(explorer)) <= 110
    explorer.set(context=131072)  # past any causal-mask limit: a cache size needs no mask
    text = explorer.output.outputs[0]["text"]
    assert "73,728 bytes per token" in text and explorer.output.outputs[1]["output_type"] == "display_data"
