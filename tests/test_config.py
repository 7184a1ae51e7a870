import pytest

from gpt_from_scratch import (
    GPT2_CONFIGS, GPT_CONFIG_124M, DummyGPTModel, GPTModel, MultiHeadAttention, validate_config,
)


def test_gpt2_124m_config_is_the_seeds():
    assert GPT_CONFIG_124M == {
        "vocab_size": 50257, "context_length": 1024, "emb_dim": 768, "n_heads": 12,
        "n_layers": 12, "drop_rate": 0.1, "qkv_bias": False,
    }


@pytest.mark.parametrize(
    "name,width,depth,heads",
    [("gpt2-medium (355M)", 1024, 24, 16), ("gpt2-large (774M)", 1280, 36, 20), ("gpt2-xl (1558M)", 1600, 48, 25)],
)
def test_larger_presets(name, width, depth, heads):
    cfg = GPT2_CONFIGS[name]
    assert (cfg["emb_dim"], cfg["n_layers"], cfg["n_heads"]) == (width, depth, heads)
    validate_config(cfg)


@pytest.mark.parametrize(
    "change,error,words",
    [
        ({"emb_dim": 770}, ValueError, "divisible"),
        ({"n_heads": 0}, ValueError, "n_heads"),
        ({"n_layers": -1}, ValueError, "n_layers"),
        ({"vocab_size": 0}, ValueError, "vocab_size"),
        ({"context_length": 0}, ValueError, "context_length"),
        ({"drop_rate": 1.0}, ValueError, "drop_rate"),
        ({"drop_rate": -0.1}, ValueError, "drop_rate"),
        ({"drop_rate": "0.1"}, TypeError, "drop_rate"),
        ({"emb_dim": 768.0}, TypeError, "emb_dim"),
        ({"qkv_bias": "no"}, TypeError, "qkv_bias"),
    ],
)
def test_invalid_config_names_the_key(tiny_cfg, change, error, words):
    cfg = {**tiny_cfg, **change}
    for build in (GPTModel, DummyGPTModel):
        with pytest.raises(error, match=words):
            build(cfg)


def test_missing_key_and_non_dict(tiny_cfg):
    del tiny_cfg["n_heads"]
    with pytest.raises(ValueError, match="n_heads"):
        GPTModel(tiny_cfg)
    with pytest.raises(TypeError, match="dict"):
        GPTModel([("emb_dim", 8)])


def test_attention_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(d_in=8, d_out=10, context_length=4, dropout=0.0, num_heads=3)
