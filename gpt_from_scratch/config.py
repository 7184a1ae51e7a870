"""Model configurations: the GPT-2 sizes as plain dicts, and the check every model runs on its config."""

import difflib

from .checks import check_bool, check_context_length, check_mask_memory, check_positive_int, check_rate

GPT_CONFIG_124M = {
    "vocab_size": 50257,     # tokens the BPE tokenizer knows
    "context_length": 1024,  # longest sequence the model can read
    "emb_dim": 768,          # size of each token's vector
    "n_heads": 12,           # attention heads per block
    "n_layers": 12,          # transformer blocks
    "drop_rate": 0.1,        # share of activations dropout zeroes while training
    "qkv_bias": False,       # bias in the query/key/value projections
}

# The larger GPT-2 models differ only in width, depth and number of heads.
GPT_CONFIG_355M = {**GPT_CONFIG_124M, "emb_dim": 1024, "n_layers": 24, "n_heads": 16}
GPT_CONFIG_774M = {**GPT_CONFIG_124M, "emb_dim": 1280, "n_layers": 36, "n_heads": 20}
GPT_CONFIG_1558M = {**GPT_CONFIG_124M, "emb_dim": 1600, "n_layers": 48, "n_heads": 25}

GPT2_CONFIGS = {
    "gpt2-small (124M)": GPT_CONFIG_124M,
    "gpt2-medium (355M)": GPT_CONFIG_355M,
    "gpt2-large (774M)": GPT_CONFIG_774M,
    "gpt2-xl (1558M)": GPT_CONFIG_1558M,
}

_POSITIVE_INTS = ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers")
CONFIG_KEYS = (*_POSITIVE_INTS, "drop_rate", "qkv_bias")
# Keys a config may leave out: a model without them is the taught one.
OPTIONAL_KEYS = ("use_sdpa",)  # True: attention through F.scaled_dot_product_attention (notebook 15)


def validate_config(cfg, required=CONFIG_KEYS):
    """Raise a ValueError or TypeError naming the first key of `cfg` that cannot build a model.

    `required` lists the keys that must be present (all of them for a model; a part such as
    FeedForward needs only emb_dim). Keys that are present are checked either way, and a key that is
    not a config key at all (a misspelling such as n_head) is refused rather than ignored.
    """
    if not isinstance(cfg, dict):
        raise TypeError(f"config must be a dict, got {type(cfg).__name__}")
    missing = [key for key in required if key not in cfg]
    if missing:
        raise ValueError(f"config is missing key(s): {', '.join(missing)}")
    known = (*CONFIG_KEYS, *OPTIONAL_KEYS)
    unknown = [key for key in cfg if key not in known]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(str(key), known, n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ValueError(f"config has unknown key(s) {', '.join(hints)}; the keys are {', '.join(known)}")
    for key in _POSITIVE_INTS:
        if key in cfg:
            check_positive_int(cfg[key], f"config['{key}']")
    if "context_length" in cfg:
        check_context_length(cfg["context_length"], "config['context_length']")
        if "n_layers" in cfg:  # one causal mask per layer: bound them all together, before any is built
            check_mask_memory(cfg["context_length"], cfg["n_layers"])
    if "emb_dim" in cfg and "n_heads" in cfg and cfg["emb_dim"] % cfg["n_heads"] != 0:
        raise ValueError(
            f"config['emb_dim'] ({cfg['emb_dim']}) must be divisible by "
            f"config['n_heads'] ({cfg['n_heads']}) so every head gets the same width"
        )
    if "drop_rate" in cfg:
        check_rate(cfg["drop_rate"], "config['drop_rate']", "drop_rate")
    for key in ("qkv_bias", "use_sdpa"):
        if key in cfg:
            check_bool(cfg[key], f"config['{key}']")
