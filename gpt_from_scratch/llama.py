"""Notebook 14: from GPT-2 to a Llama-style model, one change at a time.

Every model a learner meets today (Llama 3, Qwen 3, Mistral, Gemma, OLMo) is the GPT of notebooks
01-13 with a handful of changes. Each change is a class here, and `LlamaModel`'s config switches
them on one at a time, so the same class is the series' GPT, every step in between, and Llama:

| config key       | GPT-2 (notebook 07)           | Llama                                  |
| ---------------- | ----------------------------- | -------------------------------------- |
| "norm"           | "layernorm": LayerNorm        | "rmsnorm": RMSNorm (no mean, no shift) |
| "positions"      | "learned": a pos_emb table    | "rope": rotate queries and keys        |
| "feed_forward"   | "gelu": FeedForward           | "swiglu": SwiGLUFeedForward            |
| "n_kv_heads"     | = n_heads (multi-head)        | < n_heads (grouped-query attention)    |
| "bias"           | True (biases everywhere)      | False (no bias terms)                  |
| "tie_embeddings" | False here (GPT-2 ties)       | False for Llama 3 8B, True for 1B      |

The model can carry its own key/value cache (`new_cache`, and `forward(idx, cache=...)`): it keeps
only n_kv_heads keys and values per layer, in the series' `KVCache` (notebook 12). `generate`
(notebook 11) uses it.

`LlamaModel.from_pretrained(path)` reads a Hugging Face `LlamaForCausalLM` checkpoint directory
(config.json + model.safetensors, never a pickle) and `save_llama_checkpoint(model, directory)`
writes one; the two directions are tested against transformers' own implementation.

RoPE pairs dimension i of a head with dimension i + head_dim/2 (the "rotate half" layout of Meta's
and Hugging Face's code); RoFormer's paper pairs neighbours (2i, 2i + 1). Both rotate the same
amounts; the weights of one layout are a fixed permutation of the other's.
"""

import difflib
import json
import os
from pathlib import Path

import torch
import torch.nn as nn

from .checks import (
    check_bool,
    check_context_length,
    check_features,
    check_positive_int,
    check_positive_number,
    check_token_ids,
)
from .feedforward import GELU
from .kv_cache import KVCache
from .layernorm import LayerNorm

# ----------------------------------------------------------------------------- configuration

LLAMA_CONFIG_KEYS = ("vocab_size", "context_length", "emb_dim", "n_heads", "n_kv_heads", "n_layers",
                     "hidden_dim", "head_dim", "norm", "positions", "feed_forward", "bias",
                     "tie_embeddings", "rope_theta", "norm_eps")
_CHOICES = {"norm": ("rmsnorm", "layernorm"), "positions": ("rope", "learned"), "feed_forward": ("swiglu", "gelu")}
# What a config may leave out: the Llama choices.
LLAMA_DEFAULTS = {"head_dim": None, "norm": "rmsnorm", "positions": "rope", "feed_forward": "swiglu",
                  "bias": False, "tie_embeddings": False, "rope_theta": 10_000.0, "norm_eps": 1e-5}


def llama_config(cfg):
    """The full, checked config of a LlamaModel: `cfg` with the defaults filled in (a new dict).

    A ValueError/TypeError names the first key that cannot build a model, a misspelt key included.
    """
    if not isinstance(cfg, dict):
        raise TypeError(f"config must be a dict, got {type(cfg).__name__}")
    unknown = [key for key in cfg if key not in LLAMA_CONFIG_KEYS]
    if unknown:
        hints = [f"{k!r}" + (f" (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(str(k), LLAMA_CONFIG_KEYS, 1))
                             else "") for k in unknown]
        raise ValueError(f"config has unknown key(s) {', '.join(hints)}; the keys are {', '.join(LLAMA_CONFIG_KEYS)}")
    missing = [key for key in LLAMA_CONFIG_KEYS if key not in cfg and key not in LLAMA_DEFAULTS]
    if missing:
        raise ValueError(f"config is missing key(s): {', '.join(missing)}")
    cfg = {**LLAMA_DEFAULTS, **cfg}
    for key in ("vocab_size", "emb_dim", "n_heads", "n_kv_heads", "n_layers", "hidden_dim"):
        check_positive_int(cfg[key], f"config['{key}']")
    check_context_length(cfg["context_length"], "config['context_length']")
    for key, choices in _CHOICES.items():
        if cfg[key] not in choices:
            raise ValueError(f"config['{key}'] must be one of {', '.join(map(repr, choices))}, got {cfg[key]!r}")
    for key in ("bias", "tie_embeddings"):
        check_bool(cfg[key], f"config['{key}']")
    for key in ("rope_theta", "norm_eps"):
        check_positive_number(cfg[key], f"config['{key}']")
    if cfg["head_dim"] is None:
        if cfg["emb_dim"] % cfg["n_heads"] != 0:
            raise ValueError(f"config['emb_dim'] ({cfg['emb_dim']}) must be divisible by config['n_heads'] "
                             f"({cfg['n_heads']}), or give config['head_dim']")
        cfg["head_dim"] = cfg["emb_dim"] // cfg["n_heads"]
    check_positive_int(cfg["head_dim"], "config['head_dim']")
    if cfg["n_heads"] % cfg["n_kv_heads"] != 0:
        raise ValueError(f"config['n_heads'] ({cfg['n_heads']}) must be a multiple of config['n_kv_heads'] "
                         f"({cfg['n_kv_heads']}): each key/value head serves a whole group of query heads")
    if cfg["positions"] == "rope" and cfg["head_dim"] % 2 != 0:
        raise ValueError(f"config['head_dim'] ({cfg['head_dim']}) must be even for RoPE, which rotates pairs of dimensions")
    return cfg


def swiglu_hidden_dim(emb_dim, multiple_of=8):
    """About 8/3 * emb_dim, rounded up to a multiple: a SwiGLU of this width has ~ the parameters of a 4x GELU net."""
    check_positive_int(emb_dim, "emb_dim")
    check_positive_int(multiple_of, "multiple_of")
    hidden = int(8 * emb_dim / 3)
    return multiple_of * -(-hidden // multiple_of)


# ----------------------------------------------------------------------------- the four changes


class RMSNorm(nn.Module):
    """LayerNorm without the mean and without the shift: divide each vector by its root mean square, rescale."""

    def __init__(self, emb_dim, eps=1e-5):
        super().__init__()
        check_positive_int(emb_dim, "emb_dim")
        check_positive_number(eps, "eps")
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(emb_dim))

    def forward(self, x):
        check_features(x, self.scale)
        # float32 for the sum of squares even when x is float16/bfloat16, as Llama's code does.
        mean_square = x.float().pow(2).mean(dim=-1, keepdim=True)
        norm_x = x.float() * torch.rsqrt(mean_square + self.eps)
        return self.scale * norm_x.to(x.dtype)


def rotate_half(x):
    """(x1, x2) -> (-x2, x1) on the two halves of the last dimension: a 90-degree turn of every pair (i, i + d/2)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x, cos, sin):
    """Rotate each pair (x_i, x_{i+d/2}) of x (batch, heads, seq, head_dim) by its position's angle."""
    return x * cos + rotate_half(x) * sin


class RotaryEmbedding(nn.Module):
    """The cos and sin of the angles position * theta^(-2i / head_dim), one per pair of dimensions."""

    def __init__(self, head_dim, theta=10_000.0):
        super().__init__()
        check_positive_int(head_dim, "head_dim")
        if head_dim % 2 != 0:
            raise ValueError(f"head_dim must be even for RoPE, which rotates pairs of dimensions, got {head_dim}")
        check_positive_number(theta, "theta")
        self.head_dim, self.theta = head_dim, theta

    def forward(self, positions):
        """cos, sin, each (seq, head_dim), for a 1-D tensor of integer positions (any size: no context limit)."""
        # Pair i turns by theta^(-2i/d) radians per position: fast for i = 0, very slowly for the last pair.
        exponents = torch.arange(0, self.head_dim, 2, device=positions.device).float() / self.head_dim
        inv_freq = 1.0 / self.theta ** exponents                       # (head_dim / 2,)
        angles = positions.float()[:, None] * inv_freq[None, :]        # (seq, head_dim / 2)
        angles = torch.cat((angles, angles), dim=-1)                   # the same angle for i and i + d/2
        return angles.cos(), angles.sin()


class SwiGLUFeedForward(nn.Module):
    """down(SiLU(gate(x)) * up(x)): the gate decides, per hidden unit, how much of up(x) passes."""

    def __init__(self, emb_dim, hidden_dim, bias=False):
        super().__init__()
        check_positive_int(emb_dim, "emb_dim")
        check_positive_int(hidden_dim, "hidden_dim")
        check_bool(bias, "bias")
        self.gate = nn.Linear(emb_dim, hidden_dim, bias=bias)  # (batch, seq, emb) -> (batch, seq, hidden)
        self.up = nn.Linear(emb_dim, hidden_dim, bias=bias)
        self.down = nn.Linear(hidden_dim, emb_dim, bias=bias)  # (batch, seq, hidden) -> (batch, seq, emb)

    def forward(self, x):
        check_features(x, self.gate)
        return self.down(nn.functional.silu(self.gate(x)) * self.up(x))


class GELUFeedForward(nn.Module):
    """GPT-2's feed-forward net (notebook 03) with a chosen hidden width and optional biases."""

    def __init__(self, emb_dim, hidden_dim, bias=True):
        super().__init__()
        check_positive_int(emb_dim, "emb_dim")
        check_positive_int(hidden_dim, "hidden_dim")
        check_bool(bias, "bias")
        self.layers = nn.Sequential(nn.Linear(emb_dim, hidden_dim, bias=bias), GELU(),
                                    nn.Linear(hidden_dim, emb_dim, bias=bias))

    def forward(self, x):
        check_features(x, self.layers[0])
        return self.layers(x)


class GroupedQueryAttention(nn.Module):
    """Causal attention in which each group of n_heads / n_kv_heads query heads shares one key and value head.

    n_kv_heads == n_heads is multi-head attention (notebook 05), n_kv_heads == 1 multi-query attention.
    With `rope` (a RotaryEmbedding) queries and keys are rotated by their positions.
    """

    def __init__(self, d_in, n_heads, n_kv_heads, head_dim, rope=None, bias=False):
        super().__init__()
        for value, name in ((d_in, "d_in"), (n_heads, "n_heads"), (n_kv_heads, "n_kv_heads"), (head_dim, "head_dim")):
            check_positive_int(value, name)
        check_bool(bias, "bias")
        if n_heads % n_kv_heads != 0:
            raise ValueError(f"n_heads ({n_heads}) must be a multiple of n_kv_heads ({n_kv_heads})")
        if rope is not None and not isinstance(rope, RotaryEmbedding):
            raise TypeError(f"rope must be a RotaryEmbedding or None, got {type(rope).__name__}")
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, head_dim
        self.group_size = n_heads // n_kv_heads
        self.W_query = nn.Linear(d_in, n_heads * head_dim, bias=bias)
        self.W_key = nn.Linear(d_in, n_kv_heads * head_dim, bias=bias)    # fewer keys ...
        self.W_value = nn.Linear(d_in, n_kv_heads * head_dim, bias=bias)  # ... and values than queries
        self.out_proj = nn.Linear(n_heads * head_dim, d_in, bias=bias)
        self.rope = rope

    def split_heads(self, t, n_heads):
        """(batch, seq, n_heads * head_dim) -> (batch, n_heads, seq, head_dim)"""
        b, num_tokens, _ = t.shape
        return t.view(b, num_tokens, n_heads, self.head_dim).transpose(1, 2)

    def forward(self, x, positions, cache=None, layer=0):
        """x (batch, seq, d_in) at integer `positions` (seq,); with a KVCache, earlier keys/values are read from it."""
        check_features(x, self.W_query)
        b, num_tokens, _ = x.shape
        queries = self.split_heads(self.W_query(x), self.n_heads)  # (batch, n_heads, seq, head_dim)
        keys = self.split_heads(self.W_key(x), self.n_kv_heads)    # (batch, n_kv_heads, seq, head_dim)
        values = self.split_heads(self.W_value(x), self.n_kv_heads)
        if self.rope is not None:  # rotate before caching: a cached key keeps its position's angle
            cos, sin = self.rope(positions)
            queries, keys = apply_rope(queries, cos, sin), apply_rope(keys, cos, sin)
        start = 0
        if cache is not None:
            start = cache.length
            keys, values = cache.store(layer, keys, values)  # (batch, n_kv_heads, start + seq, head_dim)
        # Each key/value head serves group_size query heads: repeat it for them (the cache holds one copy).
        keys = keys.repeat_interleave(self.group_size, dim=1)      # (batch, n_heads, n_keys, head_dim)
        values = values.repeat_interleave(self.group_size, dim=1)
        attn_scores = queries @ keys.transpose(2, 3)               # (batch, n_heads, seq, n_keys)
        # Query k sits at position start + k and may look at keys 0 .. start + k.
        future = torch.ones(num_tokens, keys.shape[2], dtype=torch.bool, device=x.device).triu(start + 1)
        attn_scores = attn_scores.masked_fill(future, -torch.inf)
        attn_weights = torch.softmax(attn_scores / self.head_dim**0.5, dim=-1)
        context = (attn_weights @ values).transpose(1, 2).reshape(b, num_tokens, self.n_heads * self.head_dim)
        return self.out_proj(context)


# ----------------------------------------------------------------------------- block and model


class LlamaBlock(nn.Module):
    """Pre-norm block as in notebook 06: x + attention(norm(x)), then x + feed_forward(norm(x))."""

    def __init__(self, cfg, rope=None):
        super().__init__()
        cfg = llama_config(cfg)
        norm = (lambda: RMSNorm(cfg["emb_dim"], cfg["norm_eps"])) if cfg["norm"] == "rmsnorm" else \
            (lambda: LayerNorm(cfg["emb_dim"]))
        self.att = GroupedQueryAttention(cfg["emb_dim"], cfg["n_heads"], cfg["n_kv_heads"], cfg["head_dim"],
                                         rope=rope, bias=cfg["bias"])
        ff = SwiGLUFeedForward if cfg["feed_forward"] == "swiglu" else GELUFeedForward
        self.ff = ff(cfg["emb_dim"], cfg["hidden_dim"], bias=cfg["bias"])
        self.norm1, self.norm2 = norm(), norm()

    def forward(self, x, positions, cache=None, layer=0):
        # x: (batch, seq, emb_dim) everywhere below
        x = x + self.att(self.norm1(x), positions, cache, layer)  # shortcut around attention
        x = x + self.ff(self.norm2(x))                            # shortcut around the feed-forward net
        return x


class LlamaModel(nn.Module):
    """Token ids -> embeddings -> n_layers LlamaBlocks -> final norm -> logits; see the module docstring."""

    def __init__(self, cfg):
        super().__init__()
        cfg = llama_config(cfg)
        self.cfg = cfg
        self.context_length = cfg["context_length"]  # the longest text it was built (and trained) for
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        if cfg["positions"] == "learned":
            self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        rope = RotaryEmbedding(cfg["head_dim"], cfg["rope_theta"]) if cfg["positions"] == "rope" else None
        self.trf_blocks = nn.ModuleList([LlamaBlock(cfg, rope) for _ in range(cfg["n_layers"])])
        self.final_norm = RMSNorm(cfg["emb_dim"], cfg["norm_eps"]) if cfg["norm"] == "rmsnorm" else LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)
        if cfg["tie_embeddings"]:
            self.out_head.weight = self.tok_emb.weight  # one matrix reads tokens in and writes logits out

    def forward(self, in_idx, cache=None):
        """Logits (batch, seq, vocab_size); with a cache (new_cache), the tokens continue the text it holds."""
        check_token_ids(in_idx, self.tok_emb.num_embeddings)
        if in_idx.device != self.tok_emb.weight.device:
            raise ValueError(f"in_idx is on {in_idx.device} but the model is on {self.tok_emb.weight.device}; "
                             "move in_idx with .to(...)")
        if cache is not None:
            check_llama_cache(self, in_idx, cache)
        start = 0 if cache is None else cache.length
        # Learned positions end at context_length; RoPE can rotate any position (quality is another matter).
        learned = hasattr(self, "pos_emb")
        positions = torch.arange(start, start + in_idx.shape[1], device=in_idx.device)
        if learned and positions[-1] >= self.context_length:
            raise ValueError(f"in_idx reaches position {int(positions[-1])} but the learned position table ends at "
                             f"{self.context_length - 1}; crop it to the last context_length tokens")
        x = self.tok_emb(in_idx)                                   # (batch, seq, emb_dim)
        if learned:
            x = x + self.pos_emb(positions)
        for layer, block in enumerate(self.trf_blocks):
            x = block(x, positions, cache, layer)
        if cache is not None:
            cache.advance(in_idx.shape[1])
        return self.out_head(self.final_norm(x))                   # (batch, seq, vocab_size)

    def new_cache(self, batch_size, capacity=None):
        """An empty KVCache holding n_kv_heads (not n_heads) keys and values per layer; capacity defaults to context_length."""
        capacity = self.context_length if capacity is None else capacity
        check_positive_int(batch_size, "batch_size")
        check_positive_int(capacity, "capacity")
        att, weight = self.trf_blocks[0].att, self.tok_emb.weight
        return KVCache(len(self.trf_blocks), batch_size, att.n_kv_heads, att.head_dim, capacity,
                       dtype=weight.dtype, device=weight.device)

    @classmethod
    def from_pretrained(cls, path, device=None):
        """A LlamaModel (eval mode) from a Hugging Face LlamaForCausalLM checkpoint directory; see load_llama."""
        return load_llama(path, device=device)


def check_llama_cache(model, idx, cache):
    """ValueError unless `cache` (from model.new_cache) fits `model` and can take the tokens idx (batch, n_new)."""
    if not isinstance(cache, KVCache):
        raise TypeError(f"cache must be a KVCache from model.new_cache(batch_size), got {type(cache).__name__}")
    att, keys = model.trf_blocks[0].att, cache.keys[0]
    needed = (len(model.trf_blocks), idx.shape[0], att.n_kv_heads, att.head_dim)
    built = (len(cache.keys), keys.shape[0], keys.shape[1], keys.shape[3])
    if built != needed:
        raise ValueError(f"the cache was built for (n_layers, batch, n_kv_heads, head_dim) = {built}, but this model "
                         f"and idx need {needed}; build it with model.new_cache(batch_size)")
    if keys.device != idx.device:
        raise ValueError(f"the cache is on {keys.device} but idx is on {idx.device}")
    if cache.length + idx.shape[1] > cache.capacity:
        raise ValueError(f"positions {cache.length}..{cache.length + idx.shape[1] - 1} do not fit in a cache of "
                         f"capacity {cache.capacity}; reset() it and run the last context_length tokens")


def kv_cache_bytes_per_token(cfg, bytes_per_value=4):
    """Bytes the KV cache holds per token: 2 (keys, values) * n_layers * n_kv_heads * head_dim * bytes_per_value."""
    cfg = llama_config(cfg)
    check_positive_int(bytes_per_value, "bytes_per_value")
    return 2 * cfg["n_layers"] * cfg["n_kv_heads"] * cfg["head_dim"] * bytes_per_value


# ----------------------------------------------------------------------------- Hugging Face checkpoints

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


def _hf_int(hf, key, path, default=None):
    value = hf.get(key, default)
    if value is None:
        raise ValueError(f"{path} lacks '{key}'")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{path}: '{key}' must be a positive int, got {value!r}")
    return value


def _rope_theta(hf, path):
    params = hf.get("rope_parameters") or {}
    scaling = hf.get("rope_scaling")
    if not isinstance(params, dict):
        raise ValueError(f"{path}: 'rope_parameters' must be a JSON object, got {params!r}")
    rope_type = params.get("rope_type", params.get("type", "default"))
    if scaling not in (None, {}) or rope_type != "default":
        raise ValueError(f"{path}: RoPE scaling ({scaling or rope_type!r}) is not supported; LlamaModel implements "
                         "plain RoPE (rope_type 'default')")
    theta = params.get("rope_theta", hf.get("rope_theta", 10_000.0))
    if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not 0 < theta < float("inf"):
        raise ValueError(f"{path}: rope_theta must be a positive number, got {theta!r}")
    return float(theta)


def config_from_hf_llama(hf, path=CONFIG_FILE):
    """Our config dict from a LlamaForCausalLM config.json dict; a ValueError for what LlamaModel does not implement."""
    if not isinstance(hf, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(hf).__name__}")
    if hf.get("model_type") != "llama":
        raise ValueError(f"{path}: model_type is {hf.get('model_type')!r}, only 'llama' checkpoints can be loaded "
                         "(GPT-2 checkpoints: GPTModel.from_pretrained)")
    if hf.get("hidden_act", "silu") != "silu":
        raise ValueError(f"{path}: hidden_act is {hf['hidden_act']!r}, but SwiGLUFeedForward uses 'silu'")
    for key in ("attention_bias", "mlp_bias"):
        if hf.get(key, False) is not False:
            raise ValueError(f"{path}: {key}={hf[key]!r} is not supported (LlamaModel has no biases)")
    if hf.get("pretraining_tp", 1) != 1:
        raise ValueError(f"{path}: pretraining_tp={hf['pretraining_tp']!r} is not supported (use 1)")
    n_heads = _hf_int(hf, "num_attention_heads", path)
    hidden = _hf_int(hf, "hidden_size", path)
    tie = hf.get("tie_word_embeddings", False)
    if not isinstance(tie, bool):
        raise ValueError(f"{path}: tie_word_embeddings must be true or false, got {tie!r}")
    eps = hf.get("rms_norm_eps", 1e-6)
    cfg = {
        "vocab_size": _hf_int(hf, "vocab_size", path),
        "context_length": _hf_int(hf, "max_position_embeddings", path),
        "emb_dim": hidden, "n_heads": n_heads,
        "n_kv_heads": _hf_int(hf, "num_key_value_heads", path, default=n_heads),
        "n_layers": _hf_int(hf, "num_hidden_layers", path),
        "hidden_dim": _hf_int(hf, "intermediate_size", path),
        "head_dim": _hf_int(hf, "head_dim", path, default=hidden // n_heads if hidden % n_heads == 0 else None),
        "rope_theta": _rope_theta(hf, path), "norm_eps": eps, "tie_embeddings": tie,
    }
    try:
        return llama_config(cfg)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from err


def _hf_names(i):
    """(our name, checkpoint name) of every weight of block i."""
    src = f"model.layers.{i}."
    dst = f"trf_blocks.{i}."
    return [(f"{dst}norm1.scale", f"{src}input_layernorm.weight"),
            (f"{dst}norm2.scale", f"{src}post_attention_layernorm.weight"),
            (f"{dst}att.W_query.weight", f"{src}self_attn.q_proj.weight"),
            (f"{dst}att.W_key.weight", f"{src}self_attn.k_proj.weight"),
            (f"{dst}att.W_value.weight", f"{src}self_attn.v_proj.weight"),
            (f"{dst}att.out_proj.weight", f"{src}self_attn.o_proj.weight"),
            (f"{dst}ff.gate.weight", f"{src}mlp.gate_proj.weight"),
            (f"{dst}ff.up.weight", f"{src}mlp.up_proj.weight"),
            (f"{dst}ff.down.weight", f"{src}mlp.down_proj.weight")]


def _weight_names(n_layers):
    names = [("tok_emb.weight", "model.embed_tokens.weight")]
    for i in range(n_layers):
        names += _hf_names(i)
    return names + [("final_norm.scale", "model.norm.weight"), ("out_head.weight", "lm_head.weight")]


def load_llama(path, device=None):
    """A LlamaModel (eval mode, float32) with the weights of the LlamaForCausalLM checkpoint directory `path`.

    Read with safetensors only (no pickle); every shape, dtype and value is checked, and a tensor the
    model has no place for is refused. Sharded checkpoints (model.safetensors.index.json) work too.
    """
    from .device import get_device
    from .pretrained import _check_directory, _load_json, _owned, read_safetensors
    from .checks import check_weight

    directory = _check_directory(path)
    device = torch.device("cpu") if device is None else get_device(device)
    cfg = config_from_hf_llama(_load_json(directory / CONFIG_FILE), directory / CONFIG_FILE)
    tensors = read_safetensors(directory, device)
    with torch.device("meta"):
        model = LlamaModel(cfg)
    shapes = {name: p.shape for name, p in model.named_parameters(remove_duplicate=False)}
    state_dict = {}
    for ours, theirs in _weight_names(cfg["n_layers"]):
        if theirs == "lm_head.weight" and cfg["tie_embeddings"]:
            tensors.pop(theirs, None)  # a tied head is the embedding; a stored copy is not needed
            continue
        if theirs not in tensors:
            raise ValueError(f"the checkpoint lacks tensor '{theirs}' (expected shape {list(shapes[ours])})")
        value = tensors.pop(theirs)
        check_weight(theirs, value, shapes[ours])
        state_dict[ours] = _owned(value)
    if tensors:
        raise ValueError(f"the checkpoint holds tensors LlamaModel has no place for: {', '.join(sorted(tensors))}")
    model.load_state_dict(state_dict, strict=False, assign=True)
    if cfg["tie_embeddings"]:
        model.out_head.weight = model.tok_emb.weight  # assign=True replaced the shared parameter: tie it again
    return model.to(device).eval()


def save_llama_checkpoint(model, directory):
    """Write a LlamaModel in Llama form (RMSNorm, RoPE, SwiGLU, no biases) as config.json + model.safetensors.

    transformers' LlamaForCausalLM.from_pretrained and LlamaModel.from_pretrained both load the result.
    The directory is created if needed; one that already holds a checkpoint is refused, never overwritten.
    """
    from safetensors.torch import save_file

    # By its parts, not its class: notebook 14 defines its own LlamaModel, equal to this one.
    if not (isinstance(model, nn.Module) and isinstance(getattr(model, "cfg", None), dict) and hasattr(model, "new_cache")):
        raise TypeError(f"model must be a LlamaModel, got {type(model).__name__}")
    cfg = model.cfg
    variant = {key: cfg[key] for key in ("norm", "positions", "feed_forward", "bias")}
    if variant != {"norm": "rmsnorm", "positions": "rope", "feed_forward": "swiglu", "bias": False}:
        raise ValueError(f"only the Llama form can be written as a LlamaForCausalLM checkpoint; this model has {variant}")
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"directory must be a str or os.PathLike, got {type(directory).__name__}")
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise ValueError(f"{directory} is a file; give a directory for {CONFIG_FILE} and {WEIGHTS_FILE}")
    existing = [n for n in (CONFIG_FILE, WEIGHTS_FILE, "model.safetensors.index.json") if os.path.lexists(directory / n)]
    if existing:
        raise FileExistsError(f"{directory} already holds {', '.join(existing)}; choose an empty directory")
    if any(t.is_meta for t in model.state_dict().values()):
        raise ValueError("model is on the meta device: it has shapes but no weights to save")
    sd = model.state_dict()
    tensors = {theirs: sd[ours].detach().to("cpu", torch.float32).contiguous().clone()
               for ours, theirs in _weight_names(cfg["n_layers"])
               if not (theirs == "lm_head.weight" and cfg["tie_embeddings"])}
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "vocab_size": cfg["vocab_size"], "max_position_embeddings": cfg["context_length"],
        "hidden_size": cfg["emb_dim"], "intermediate_size": cfg["hidden_dim"],
        "num_hidden_layers": cfg["n_layers"], "num_attention_heads": cfg["n_heads"],
        "num_key_value_heads": cfg["n_kv_heads"], "head_dim": cfg["head_dim"], "hidden_act": "silu",
        "rms_norm_eps": cfg["norm_eps"], "rope_theta": cfg["rope_theta"],
        "rope_parameters": {"rope_type": "default", "rope_theta": cfg["rope_theta"]},
        "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": cfg["tie_embeddings"],
        "torch_dtype": "float32",
    }
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    save_file(tensors, directory / WEIGHTS_FILE, metadata={"format": "pt"})
    return directory
