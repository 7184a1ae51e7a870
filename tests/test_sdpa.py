"""The fused-attention option (use_sdpa): the same model, the same weights, the same results as the taught path."""

import pytest
import torch

from gpt_from_scratch import GPTModel, KVCache, MultiHeadAttention, TransformerBlock, validate_config
from gpt_from_scratch.kv_cache import forward_with_cache
from gpt_from_scratch.widgets import attention_maps


def pair_of_models(cfg, seed=123):
    """The taught model and the use_sdpa model, built after the same seed."""
    torch.manual_seed(seed)
    taught = GPTModel(cfg)
    torch.manual_seed(seed)
    fused = GPTModel({**cfg, "use_sdpa": True})
    return taught, fused


def test_the_option_changes_no_parameter_or_buffer(tiny_cfg):
    taught, fused = pair_of_models(tiny_cfg)
    assert list(taught.state_dict()) == list(fused.state_dict())
    for name, tensor in taught.state_dict().items():
        assert torch.equal(tensor, fused.state_dict()[name]), name
    assert [b.att.use_sdpa for b in fused.trf_blocks] == [True] * tiny_cfg["n_layers"]
    assert [b.att.use_sdpa for b in taught.trf_blocks] == [False] * tiny_cfg["n_layers"]


@pytest.mark.parametrize("dropout", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("num_tokens", [1, 5, 12])
def test_attention_equals_the_taught_attention_in_eval_mode(dropout, num_tokens):
    torch.manual_seed(0)
    taught = MultiHeadAttention(16, 16, context_length=12, dropout=dropout, num_heads=4).eval()
    fused = MultiHeadAttention(16, 16, context_length=12, dropout=dropout, num_heads=4, use_sdpa=True).eval()
    fused.load_state_dict(taught.state_dict())
    x = torch.randn(3, num_tokens, 16)
    torch.testing.assert_close(fused(x), taught(x), rtol=1e-5, atol=1e-6)


def test_without_dropout_training_mode_is_equal_too():
    taught = MultiHeadAttention(16, 16, context_length=8, dropout=0.0, num_heads=4).train()
    fused = MultiHeadAttention(16, 16, context_length=8, dropout=0.0, num_heads=4, use_sdpa=True).train()
    fused.load_state_dict(taught.state_dict())
    x = torch.randn(2, 8, 16)
    torch.testing.assert_close(fused(x), taught(x), rtol=1e-5, atol=1e-6)


def test_dropout_is_applied_in_training_mode_only():
    torch.manual_seed(0)
    fused = MultiHeadAttention(16, 16, context_length=8, dropout=0.5, num_heads=4, use_sdpa=True)
    x = torch.randn(2, 8, 16)
    fused.train()
    noisy = fused(x)
    fused.eval()
    assert not torch.allclose(noisy, fused(x))
    assert torch.equal(fused(x), fused(x))


@pytest.mark.parametrize("drop_rate", [0.0, 0.1])
def test_whole_model_logits_and_gradients_agree(tiny_cfg, drop_rate):
    taught, fused = pair_of_models({**tiny_cfg, "drop_rate": drop_rate})
    idx = torch.randint(0, tiny_cfg["vocab_size"], (3, tiny_cfg["context_length"]))
    targets = torch.randint(0, tiny_cfg["vocab_size"], idx.shape)
    grads = []
    for model in (taught.eval(), fused.eval()):
        logits = model(idx)
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten()).backward()
        grads.append({n: p.grad for n, p in model.named_parameters()})
    torch.testing.assert_close(fused(idx), taught(idx), rtol=1e-5, atol=1e-5)
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_kv_cache_and_attention_maps_still_work(tiny_cfg):
    taught, fused = pair_of_models({**tiny_cfg, "drop_rate": 0.0})
    taught.eval()
    fused.eval()
    idx = torch.randint(0, tiny_cfg["vocab_size"], (2, 6))
    cache = KVCache.for_model(fused, batch_size=2)
    cached = forward_with_cache(fused, idx, cache, last_only=False)
    torch.testing.assert_close(cached, fused(idx), rtol=1e-5, atol=1e-5)
    maps_taught, maps_fused = attention_maps(taught, idx[:1]), attention_maps(fused, idx[:1])
    assert len(maps_fused) == tiny_cfg["n_layers"]
    for a, b in zip(maps_taught, maps_fused):
        torch.testing.assert_close(a, b)


def test_the_option_is_checked():
    with pytest.raises(TypeError, match="use_sdpa"):
        MultiHeadAttention(16, 16, context_length=8, dropout=0.0, num_heads=4, use_sdpa="yes")
    cfg = {"vocab_size": 11, "context_length": 4, "emb_dim": 8, "n_heads": 2, "n_layers": 1, "drop_rate": 0.0,
           "qkv_bias": False}
    validate_config({**cfg, "use_sdpa": True})
    validate_config(cfg)  # a config without the key stays valid
    with pytest.raises(TypeError, match=r"config\['use_sdpa'\]"):
        TransformerBlock({**cfg, "use_sdpa": 1})
    with pytest.raises(ValueError, match="did you mean 'use_sdpa'"):
        GPTModel({**cfg, "use_spda": True})
