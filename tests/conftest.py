import pytest
import torch

TINY = {
    "vocab_size": 101,
    "context_length": 8,
    "emb_dim": 16,
    "n_heads": 4,
    "n_layers": 2,
    "drop_rate": 0.1,
    "qkv_bias": False,
}


@pytest.fixture
def tiny_cfg():
    return dict(TINY)


@pytest.fixture(scope="session")
def gpt124m():
    """GPT-2 124M with the seed's initialization, in eval mode; built once (about 2 s)."""
    from gpt_from_scratch import GPT_CONFIG_124M, GPTModel

    torch.manual_seed(123)
    return GPTModel(GPT_CONFIG_124M).eval()
