"""Model configurations: the GPT-2 sizes as plain dicts, and the check every model runs on its config."""

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


def validate_config(cfg):
    """Raise a ValueError or TypeError naming the first key of `cfg` that cannot build a model."""
    if not isinstance(cfg, dict):
        raise TypeError(f"config must be a dict, got {type(cfg).__name__}")
    missing = [key for key in (*_POSITIVE_INTS, "drop_rate", "qkv_bias") if key not in cfg]
    if missing:
        raise ValueError(f"config is missing key(s): {', '.join(missing)}")
    for key in _POSITIVE_INTS:
        value = cfg[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"config['{key}'] must be an int, got {type(value).__name__}")
        if value <= 0:
            raise ValueError(f"config['{key}'] must be positive, got {value}")
    if cfg["emb_dim"] % cfg["n_heads"] != 0:
        raise ValueError(
            f"config['emb_dim'] ({cfg['emb_dim']}) must be divisible by "
            f"config['n_heads'] ({cfg['n_heads']}) so every head gets the same width"
        )
    rate = cfg["drop_rate"]
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        raise TypeError(f"config['drop_rate'] must be a number, got {type(rate).__name__}")
    if not 0 <= rate < 1:
        raise ValueError(f"config['drop_rate'] must satisfy 0 <= drop_rate < 1, got {rate}")
    if not isinstance(cfg["qkv_bias"], bool):
        raise TypeError(f"config['qkv_bias'] must be True or False, got {cfg['qkv_bias']!r}")
