"""Each building block against an independent implementation (torch's own functions) or its defining property."""

import math

import pytest
import torch
import torch.nn.functional as F

from gpt_from_scratch import (
    GELU, GPT_CONFIG_124M, DummyGPTModel, ExampleDeepNeuralNetwork, FeedForward, GPTModel, LayerNorm,
    MultiHeadAttention, TransformerBlock, layer_gradients,
)


def test_layernorm_gives_mean_0_variance_1():
    torch.manual_seed(0)
    x = torch.randn(3, 5, 32) * 7 + 3
    out = LayerNorm(32)(x)
    torch.testing.assert_close(out.mean(-1), torch.zeros(3, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(-1, unbiased=False), torch.ones(3, 5), atol=1e-3, rtol=0)


def test_layernorm_equals_torch_and_uses_scale_shift():
    torch.manual_seed(0)
    ln = LayerNorm(16)
    with torch.no_grad():
        ln.scale.uniform_(0.5, 2.0)
        ln.shift.uniform_(-1.0, 1.0)
    x = torch.randn(4, 16)
    expected = F.layer_norm(x, (16,), ln.scale, ln.shift, eps=1e-5)
    torch.testing.assert_close(ln(x), expected, atol=1e-5, rtol=1e-5)
    assert ln.eps == 1e-5


def test_layernorm_constant_vector_stays_finite():
    out = LayerNorm(4)(torch.full((1, 4), 3.0))
    assert torch.isfinite(out).all() and torch.equal(out, torch.zeros(1, 4))


def test_gelu_equals_torch_tanh_approximation():
    x = torch.linspace(-6, 6, 1001)
    torch.testing.assert_close(GELU()(x), F.gelu(x, approximate="tanh"), atol=1e-6, rtol=1e-6)


def test_feedforward_expands_4x_and_returns_emb_dim():
    ff = FeedForward({"emb_dim": 12})
    assert [tuple(l.weight.shape) for l in ff.layers if hasattr(l, "weight")] == [(48, 12), (12, 48)]
    assert ff(torch.randn(2, 3, 12)).shape == (2, 3, 12)


def test_shortcuts_keep_the_first_layer_gradient_alive():
    sizes, x, target = [3, 3, 3, 3, 3, 1], torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0]])
    torch.manual_seed(123)
    plain = layer_gradients(ExampleDeepNeuralNetwork(sizes, use_shortcut=False), x, target)
    torch.manual_seed(123)
    skip = layer_gradients(ExampleDeepNeuralNetwork(sizes, use_shortcut=True), x, target)
    assert list(plain) == [f"layers.{i}.0.weight" for i in range(5)]
    first = "layers.0.0.weight"
    # Without shortcuts the gradient shrinks toward the input; with them it does not vanish.
    assert plain[first] < plain["layers.4.0.weight"] / 10
    assert skip[first] > 100 * plain[first]


def _reference_attention(mha, x):
    """Independent route: torch's fused causal attention with the module's own weights."""
    q, k, v = (mha.split_heads(w(x)) for w in (mha.W_query, mha.W_key, mha.W_value))
    ctx = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    b, _, t, _ = ctx.shape
    return mha.out_proj(ctx.transpose(1, 2).reshape(b, t, mha.d_out))


def test_attention_equals_scaled_dot_product_attention():
    torch.manual_seed(0)
    mha = MultiHeadAttention(d_in=24, d_out=24, context_length=10, dropout=0.0, num_heads=3, qkv_bias=True)
    x = torch.randn(2, 7, 24)
    torch.testing.assert_close(mha(x), _reference_attention(mha, x), atol=1e-5, rtol=1e-5)


def test_attention_weights_are_causal_and_sum_to_one():
    torch.manual_seed(0)
    mha = MultiHeadAttention(d_in=8, d_out=8, context_length=6, dropout=0.0, num_heads=2)
    w = mha.attention_weights(torch.randn(1, 5, 8))
    assert w.shape == (1, 2, 5, 5)
    assert torch.equal(w.triu(diagonal=1), torch.zeros_like(w))
    torch.testing.assert_close(w.sum(-1), torch.ones(1, 2, 5))


def test_attention_rejects_more_tokens_than_context():
    mha = MultiHeadAttention(d_in=8, d_out=8, context_length=4, dropout=0.0, num_heads=2)
    with pytest.raises(ValueError, match="context_length"):
        mha(torch.randn(1, 5, 8))


def test_block_preserves_shape_and_composes_its_parts(tiny_cfg):
    torch.manual_seed(0)
    block = TransformerBlock(tiny_cfg).eval()
    x = torch.randn(2, 5, tiny_cfg["emb_dim"])
    h = x + block.att(block.norm1(x))
    expected = h + block.ff(block.norm2(h))
    out = block(x)
    assert out.shape == x.shape
    torch.testing.assert_close(out, expected)


def test_model_output_shape(tiny_cfg):
    model = GPTModel(tiny_cfg).eval()
    assert model(torch.randint(0, 101, (3, 8))).shape == (3, 8, 101)


def test_changing_a_later_token_never_changes_earlier_outputs(tiny_cfg):
    torch.manual_seed(0)
    model = GPTModel(tiny_cfg).eval()
    ids = torch.randint(0, 101, (1, 8))
    changed = ids.clone()
    changed[0, 5] = (ids[0, 5] + 1) % 101
    with torch.no_grad():
        a, b = model(ids), model(changed)
    torch.testing.assert_close(a[:, :5], b[:, :5], atol=0, rtol=0)
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_dropout_inactive_in_eval_active_in_train(tiny_cfg):
    tiny_cfg["drop_rate"] = 0.5
    torch.manual_seed(0)
    model = GPTModel(tiny_cfg)
    ids = torch.randint(0, 101, (2, 8))
    model.eval()
    assert torch.equal(model(ids), model(ids))
    model.train()
    assert not torch.equal(model(ids), model(ids))


def test_positions_matter(tiny_cfg):
    torch.manual_seed(0)
    model = GPTModel(tiny_cfg).eval()
    ids = torch.tensor([[5, 5, 5, 5]])
    logits = model(ids)
    assert not torch.allclose(logits[0, 0], logits[0, 3])  # same token, different position


def test_structure_and_names_follow_the_seed(tiny_cfg):
    model = GPTModel(tiny_cfg)
    names = [n for n, _ in model.named_parameters()]
    assert names[:2] == ["tok_emb.weight", "pos_emb.weight"]
    assert names[2:11] == [
        "trf_blocks.0.att.W_query.weight", "trf_blocks.0.att.W_key.weight", "trf_blocks.0.att.W_value.weight",
        "trf_blocks.0.att.out_proj.weight", "trf_blocks.0.att.out_proj.bias",
        "trf_blocks.0.ff.layers.0.weight", "trf_blocks.0.ff.layers.0.bias",
        "trf_blocks.0.ff.layers.2.weight", "trf_blocks.0.ff.layers.2.bias",
    ]
    assert names[11:15] == ["trf_blocks.0.norm1.scale", "trf_blocks.0.norm1.shift",
                            "trf_blocks.0.norm2.scale", "trf_blocks.0.norm2.shift"]
    assert names[-3:] == ["final_norm.scale", "final_norm.shift", "out_head.weight"]
    dummy = [n for n, _ in DummyGPTModel(tiny_cfg).named_parameters()]
    assert dummy == ["tok_emb.weight", "pos_emb.weight", "out_head.weight"]


def test_default_initializers_are_pytorchs(tiny_cfg):
    """The seed relies on PyTorch defaults: N(0, 1) embeddings, Kaiming-uniform linears, LayerNorm 1/0."""
    torch.manual_seed(0)
    model = GPTModel({**tiny_cfg, "vocab_size": 4000, "emb_dim": 64})
    emb = model.tok_emb.weight
    assert abs(emb.mean().item()) < 0.02 and abs(emb.std().item() - 1) < 0.02
    bound = 1 / math.sqrt(64)
    w = model.trf_blocks[0].att.W_query.weight
    assert w.abs().max().item() <= bound and w.abs().max().item() > 0.9 * bound
    assert torch.equal(model.final_norm.scale, torch.ones(64))
    assert torch.equal(model.final_norm.shift, torch.zeros(64))


def test_same_seed_same_weights_and_dummy_logits():
    batch = torch.tensor([[6109, 3626, 6100, 345], [6109, 1110, 6622, 257]])
    torch.manual_seed(123)
    a = DummyGPTModel(GPT_CONFIG_124M).eval()
    torch.manual_seed(123)
    b = DummyGPTModel(GPT_CONFIG_124M).eval()
    logits = a(batch)
    assert logits.shape == (2, 4, 50257)
    # The dummy blocks do nothing, so logits are just (tok + pos embedding) @ out_head.
    expected = (a.tok_emb.weight[batch] + a.pos_emb.weight[:4]) @ a.out_head.weight.T
    torch.testing.assert_close(logits, expected)
    assert torch.equal(logits, b(batch))
