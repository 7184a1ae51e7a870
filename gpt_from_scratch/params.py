"""Notebook 08: counting parameters and the memory they need."""

import torch

from .checks import check_gpt_model, check_model
from .config import validate_config
from .model import GPTModel


def count_parameters(model):
    """Number of scalars in all of the model's parameters."""
    check_model(model)
    return sum(p.numel() for p in model.parameters())


def count_parameters_tied(model):
    """Parameter count if the output head reused the token embedding matrix, as GPT-2 does."""
    if not hasattr(model, "out_head"):
        raise TypeError(f"model must be a GPTModel (with an out_head), got {type(model).__name__}")
    return count_parameters(model) - model.out_head.weight.numel()


def meta_model(cfg):
    """A GPTModel whose tensors live on the 'meta' device: shapes only, no memory, instant to build."""
    with torch.device("meta"):
        return GPTModel(cfg)


def parameter_breakdown(model):
    """Parameters per component, in the order seed 001 adds them up; the values sum to the total."""
    check_gpt_model(model, fix="; count_parameters(model) works for any model")
    blocks = list(model.trf_blocks)
    return {
        "token embedding": model.tok_emb.weight.numel(),
        "position embedding": model.pos_emb.weight.numel(),
        "attention (all blocks)": sum(count_parameters(b.att) for b in blocks),
        "feed-forward (all blocks)": sum(count_parameters(b.ff) for b in blocks),
        "layer norms (all blocks)": sum(count_parameters(b.norm1) + count_parameters(b.norm2) for b in blocks),
        "final norm": count_parameters(model.final_norm),
        "output head": count_parameters(model.out_head),
    }


def model_size_mb(model, dtype=torch.float32):
    """Memory for the parameters in megabytes (1 MB = 1024**2 bytes) when stored as `dtype`."""
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"dtype must be a torch.dtype such as torch.float32, got {dtype!r}")
    bytes_per_param = torch.empty((), dtype=dtype).element_size()
    return count_parameters(model) * bytes_per_param / 1024**2


def gpt2_size_table(configs):
    """{name: (total, tied total, float32 MB)} for each config, built on the meta device."""
    if not isinstance(configs, dict):
        raise TypeError(f"configs must be a dict of name -> config, such as GPT2_CONFIGS, got {type(configs).__name__}")
    table = {}
    for name, cfg in configs.items():
        validate_config(cfg)
        model = meta_model(cfg)
        table[name] = (count_parameters(model), count_parameters_tied(model), model_size_mb(model))
    return table
