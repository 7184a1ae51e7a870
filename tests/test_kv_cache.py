"""gpt_from_scratch.kv_cache: same logits as the full forward pass, one position of compute per token,
exactly generate_text_simple's tokens (also far past the context length), shapes and errors."""

import pytest
import torch

from gpt_from_scratch import GPTModel, generate_text_simple
from gpt_from_scratch.kv_cache import KVCache, check_cache_ready, forward_with_cache
from gpt_from_scratch.sampling import generate


@pytest.fixture
def tiny_model(tiny_cfg):
    torch.manual_seed(0)
    return GPTModel(tiny_cfg).eval()


def test_cache_shapes(tiny_model):
    cache = KVCache.for_model(tiny_model, batch_size=3)
    assert len(cache.keys) == len(cache.values) == 2
    assert all(t.shape == (3, 4, 8, 4) for t in cache.keys + cache.values)  # (batch, heads, context, head_dim)
    assert cache.length == 0 and cache.capacity == 8
    forward_with_cache(tiny_model, torch.randint(0, 101, (3, 5)), cache)
    assert cache.length == 5
    assert KVCache.for_model(tiny_model, 1, capacity=4).keys[0].shape == (1, 4, 4, 4)


def test_prefill_gives_the_full_forward_logits(tiny_model):
    torch.manual_seed(1)
    idx = torch.randint(0, 101, (2, 8))
    with torch.no_grad():
        full = tiny_model(idx)
        cache = KVCache.for_model(tiny_model, 2)
        cached = forward_with_cache(tiny_model, idx, cache, last_only=False)
        last = forward_with_cache(tiny_model, idx, KVCache.for_model(tiny_model, 2))
    assert cached.shape == full.shape and last.shape == (2, 101)
    assert torch.allclose(cached, full, atol=1e-5)
    assert torch.allclose(last, full[:, -1], atol=1e-5)


def test_token_by_token_and_in_chunks_equal_the_full_forward(tiny_model):
    torch.manual_seed(2)
    idx = torch.randint(0, 101, (2, 8))
    with torch.no_grad():
        full = tiny_model(idx)
        one_by_one = KVCache.for_model(tiny_model, 2)
        for pos in range(8):
            logits = forward_with_cache(tiny_model, idx[:, pos:pos + 1], one_by_one)
            assert torch.allclose(logits, full[:, pos], atol=1e-5), pos
        chunks = KVCache.for_model(tiny_model, 2)
        forward_with_cache(tiny_model, idx[:, :3], chunks)
        middle = forward_with_cache(tiny_model, idx[:, 3:6], chunks, last_only=False)  # masked, start > 0
        assert torch.allclose(middle, full[:, 3:6], atol=1e-5)
    for layer in range(2):
        assert torch.allclose(one_by_one.keys[layer][:, :, :6], chunks.keys[layer][:, :, :6], atol=1e-6)


def test_each_new_token_costs_one_position(tiny_model):
    seen = []
    hook = tiny_model.trf_blocks[0].att.W_query.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[1]))
    try:
        generate(tiny_model, torch.tensor([[1, 2, 3]]), 5)  # 3 + 5 = 8 = context_length: no rebuild
        assert seen == [3, 1, 1, 1, 1]
        seen.clear()
        generate(tiny_model, torch.tensor([[1, 2, 3]]), 8, use_cache=False)
        assert seen == [3, 4, 5, 6, 7, 8, 8, 8]
        seen.clear()
        # Past the context every position shifts, so the cache is rebuilt from the last 8 tokens.
        generate(tiny_model, torch.tensor([[1, 2, 3]]), 8)
        assert seen == [3, 1, 1, 1, 1, 1, 8, 8]
    finally:
        hook.remove()


@pytest.mark.parametrize("prompt_len,steps", [(1, 7), (3, 5), (3, 40), (8, 3), (12, 6)])
def test_generate_with_cache_equals_generate_text_simple(tiny_model, prompt_len, steps):
    torch.manual_seed(prompt_len)
    idx = torch.randint(0, 101, (2, prompt_len))
    expected = generate_text_simple(tiny_model, idx, steps, context_size=8)
    assert torch.equal(generate(tiny_model, idx, steps, use_cache=True), expected)
    assert torch.equal(generate(tiny_model, idx, steps, use_cache=False), expected)


def test_far_past_a_tiny_context_with_qkv_bias(tiny_cfg):
    cfg = {**tiny_cfg, "context_length": 4, "qkv_bias": True, "n_layers": 3, "vocab_size": 37}
    torch.manual_seed(3)
    model = GPTModel(cfg).eval()
    idx = torch.tensor([[1, 2], [30, 31], [5, 5]])
    expected = generate_text_simple(model, idx, 50, context_size=4)
    assert expected.shape == (3, 52)
    assert torch.equal(generate(model, idx, 50), expected)


def test_gpt2_124m_a_handful_of_tokens(gpt124m):
    idx = torch.tensor([[15496, 11, 314, 716], [464, 2068, 7586, 21831]])
    expected = generate_text_simple(gpt124m, idx, 6, context_size=1024)
    assert torch.equal(generate(gpt124m, idx, 6), expected)


def test_errors(tiny_model):
    cache = KVCache.for_model(tiny_model, 1, capacity=4)
    forward_with_cache(tiny_model, torch.tensor([[1, 2, 3]]), cache)
    with pytest.raises(ValueError, match="capacity 4"):
        forward_with_cache(tiny_model, torch.tensor([[1, 2]]), cache)
    with pytest.raises(ValueError, match="cannot take"):
        cache.store(0, torch.zeros(1, 4, 2, 4), torch.zeros(1, 4, 2, 4))
    cache.reset()
    assert cache.length == 0
    forward_with_cache(tiny_model, torch.tensor([[1, 2, 3, 4]]), cache)  # fits again after reset()
    with pytest.raises(ValueError, match="context_length"):
        KVCache.for_model(tiny_model, 1, capacity=9)
    with pytest.raises(ValueError, match="capacity"):
        KVCache.for_model(tiny_model, 1, capacity=0)
    with pytest.raises(ValueError, match="101"):
        forward_with_cache(tiny_model, torch.tensor([[101]]), KVCache.for_model(tiny_model, 1))
    tiny_model.train()
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        check_cache_ready(tiny_model)
    tiny_model.eval()
    check_cache_ready(tiny_model)


def test_a_cache_that_does_not_fit_the_model_or_batch_is_refused(tiny_model, tiny_cfg):
    idx = torch.tensor([[1, 2, 3]])
    with pytest.raises(ValueError, match=r"\(n_layers, batch, n_heads, head_dim\) = \(2, 2, 4, 4\).*\(2, 1, 4, 4\)"):
        forward_with_cache(tiny_model, idx, KVCache.for_model(tiny_model, batch_size=2))
    other = GPTModel({**tiny_cfg, "n_layers": 3}).eval()
    with pytest.raises(ValueError, match="KVCache.for_model"):
        forward_with_cache(tiny_model, idx, KVCache.for_model(other, batch_size=1))


def test_a_hand_built_cache_cannot_go_past_the_context(tiny_model):
    cache = KVCache(n_layers=2, batch_size=1, n_heads=4, head_dim=4, capacity=12)  # context_length is 8
    forward_with_cache(tiny_model, torch.tensor([[1, 2, 3, 4, 5, 6]]), cache)
    with pytest.raises(ValueError, match=r"positions 6\.\.8 go past the model's context_length \(8\)"):
        forward_with_cache(tiny_model, torch.tensor([[7, 8, 9]]), cache)
