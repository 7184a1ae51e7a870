"""Parameter counts: counted from the modules, checked against the closed-form formula of seed 001."""

import pytest
import torch

from gpt_from_scratch import (
    GPT2_CONFIGS, count_parameters, count_parameters_tied, gpt2_size_table, meta_model,
    model_size_mb, parameter_breakdown,
)


def formula(cfg):
    """Closed form, written from the layer shapes alone (no model involved)."""
    d, v, t, n = cfg["emb_dim"], cfg["vocab_size"], cfg["context_length"], cfg["n_layers"]
    qkv = 3 * (d * d + (d if cfg["qkv_bias"] else 0))
    attention = qkv + d * d + d
    feed_forward = (d * 4 * d + 4 * d) + (4 * d * d + d)
    norms = 2 * 2 * d
    return {
        "token embedding": v * d,
        "position embedding": t * d,
        "attention (all blocks)": n * attention,
        "feed-forward (all blocks)": n * feed_forward,
        "layer norms (all blocks)": n * norms,
        "final norm": 2 * d,
        "output head": d * v,
    }


def test_seed_figures_for_124m(gpt124m):
    assert count_parameters(gpt124m) == 163_009_536
    assert count_parameters_tied(gpt124m) == 124_412_160
    assert round(model_size_mb(gpt124m), 2) == 621.83
    parts = parameter_breakdown(gpt124m)
    assert parts["token embedding"] + parts["position embedding"] == 39_383_808
    assert parts["attention (all blocks)"] == 12 * 2_360_064
    assert parts["feed-forward (all blocks)"] == 12 * 4_722_432
    assert parts["layer norms (all blocks)"] == 12 * 3_072
    assert parts["final norm"] == 1_536 and parts["output head"] == 38_597_376


@pytest.mark.parametrize("name", list(GPT2_CONFIGS))
def test_breakdown_matches_formula_for_every_size(name):
    cfg = GPT2_CONFIGS[name]
    model = meta_model(cfg)
    assert all(p.is_meta for p in model.parameters())
    assert parameter_breakdown(model) == formula(cfg)
    assert count_parameters(model) == sum(formula(cfg).values())
    total, tied, mb = gpt2_size_table({name: cfg})[name]
    assert (total, tied) == (sum(formula(cfg).values()), sum(formula(cfg).values()) - cfg["emb_dim"] * cfg["vocab_size"])
    assert mb == total * 4 / 1024**2


def test_tied_counts_with_qkv_bias_match_hugging_face_gpt2():
    """OpenAI's GPT-2 has qkv biases and a tied head; Hugging Face reports these parameter counts."""
    published = [124_439_808, 354_823_168, 774_030_080, 1_557_611_200]
    configs = {name: {**cfg, "qkv_bias": True} for name, cfg in GPT2_CONFIGS.items()}
    assert [tied for _, tied, _ in gpt2_size_table(configs).values()] == published


def test_model_size_for_other_dtypes(gpt124m):
    assert model_size_mb(gpt124m, torch.bfloat16) == model_size_mb(gpt124m) / 2
    with pytest.raises(TypeError, match="dtype"):
        model_size_mb(gpt124m, "float16")
