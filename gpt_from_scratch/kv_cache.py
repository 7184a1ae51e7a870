"""Notebook 12: a key/value cache, so each new token costs one position of compute.

Without a cache, every generation step runs the whole window of tokens through the model again,
although the keys and values of the earlier tokens have not changed: in a causal model a token
never looks at later tokens, so its key and value in every layer are fixed once it is read.
The functions below run a `GPTModel`'s own submodules (the taught classes are not changed) one
chunk of positions at a time and keep each layer's keys and values, of shape
(batch, n_heads, seq, head_dim), in preallocated tensors that new positions are written into.

Dropout is not applied on this path: it is for inference only. `check_cache_ready` raises if a
dropout layer with a non-zero rate is in training mode; call `model.eval()` first.

Past the context length the cache cannot simply grow: `generate_text_simple` crops the input to
the last `context_length` tokens, so every token moves one position to the left and all keys and
values (which include the position embedding) change. To give exactly the same tokens, the
generator in `sampling.py` then rebuilds the cache from the cropped window with one full forward
pass over `context_length` tokens per new token -- the same cost as generating without a cache.

A cache belongs to one sequence. `forward_with_cache` always *continues* it: tokens passed to it are
placed after the `cache.length` positions already held, whatever text those came from. To start a new
prompt, call `cache.reset()` first, or use `prefill(model, idx, cache)`, which does both; `generate`
builds a fresh cache on every call, so two calls never share positions.
"""

import torch
import torch.nn as nn

from .checks import check_advance, check_cache_args, check_gpt_model, check_positive_int, check_token_ids


class KVCache:
    """Keys and values of every layer, preallocated as (batch, n_heads, capacity, head_dim) each.

    `length` positions (0 .. length-1) are filled. `store` writes the keys and values of new positions
    right after them; `advance` moves `length` on once every layer has stored its share.
    """

    def __init__(self, n_layers, batch_size, n_heads, head_dim, capacity, dtype=torch.float32, device=None):
        check_cache_args(n_layers, batch_size, n_heads, head_dim, capacity, dtype, device)
        shape = (batch_size, n_heads, capacity, head_dim)
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        self.capacity = capacity
        self.length = 0

    @classmethod
    def for_model(cls, model, batch_size, capacity=None):
        """An empty cache that fits `model` (a GPTModel); `capacity` defaults to its context length."""
        check_gpt_model(model, fix="; the KV cache needs attention blocks")
        context_length = model.pos_emb.num_embeddings
        capacity = context_length if capacity is None else capacity
        check_positive_int(capacity, "capacity")
        if capacity > context_length:
            raise ValueError(f"capacity ({capacity}) is larger than the model's context_length ({context_length})")
        att = model.trf_blocks[0].att
        weight = model.tok_emb.weight
        return cls(len(model.trf_blocks), batch_size, att.num_heads, att.head_dim, capacity,
                   dtype=weight.dtype, device=weight.device)

    def store(self, layer, keys, values):
        """Write new (batch, n_heads, n_new, head_dim) keys/values after the cached ones; return all of them."""
        end = self.length + keys.shape[2]
        if end > self.capacity:
            raise ValueError(
                f"the cache holds {self.length} of {self.capacity} positions and cannot take {keys.shape[2]} more; "
                "rebuild it from the cropped window (reset() and run the last context_length tokens)"
            )
        self.keys[layer][:, :, self.length:end] = keys
        self.values[layer][:, :, self.length:end] = values
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, n_new):
        check_advance(self, n_new)
        self.length += n_new

    def reset(self):
        """Forget every position (the tensors are kept and overwritten)."""
        self.length = 0


def check_cache_ready(model):
    """The cache path skips dropout, so it refuses a model with active dropout (training mode)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Dropout) and module.training and module.p > 0:
            raise ValueError(
                f"dropout '{name}' (p={module.p}) is active: call model.eval() before generating "
                "with the KV cache (or pass use_cache=False)"
            )


def check_cache_fits(model, idx, cache):
    """ValueError unless the new tokens idx (batch, n_new) fit both `cache` and `model` (a GPTModel)."""
    check_gpt_model(model, fix="; the KV cache needs attention blocks")
    if not all(hasattr(cache, a) for a in ("keys", "values", "store", "length", "capacity")):  # a KVCache
        raise TypeError(f"cache must be a KVCache (build it with KVCache.for_model(model, batch_size)), got {type(cache).__name__}")
    check_cache_ready(model)
    check_token_ids(idx, model.tok_emb.num_embeddings, name="idx")
    att, keys = model.trf_blocks[0].att, cache.keys[0]
    needed = (len(model.trf_blocks), idx.shape[0], att.num_heads, att.head_dim)
    built = (len(cache.keys), keys.shape[0], keys.shape[1], keys.shape[3])
    if built != needed:
        raise ValueError(
            f"the cache was built for (n_layers, batch, n_heads, head_dim) = {built}, but this model and idx "
            f"need {needed}; build it with KVCache.for_model(model, batch_size)"
        )
    if keys.device != idx.device:
        raise ValueError(f"the cache is on {keys.device} but idx is on {idx.device}")
    weight = model.tok_emb.weight
    if keys.dtype != weight.dtype:
        raise ValueError(f"the cache holds {keys.dtype} but the model computes in {weight.dtype}; build it with "
                         "KVCache.for_model(model, batch_size)")
    end = cache.length + idx.shape[1]
    if end > cache.capacity:
        raise ValueError(f"positions {cache.length}..{end - 1} do not fit in a cache of capacity {cache.capacity}")
    if end > model.pos_emb.num_embeddings:
        raise ValueError(
            f"positions {cache.length}..{end - 1} go past the model's context_length "
            f"({model.pos_emb.num_embeddings}); crop the text and rebuild the cache"
        )


def cached_attention(att, x, cache, layer):
    """MultiHeadAttention `att` for the new positions in x (batch, n_new, d_in), reading earlier ones from the cache."""
    b, num_new, _ = x.shape
    start = cache.length
    queries = att.split_heads(att.W_query(x))                       # (batch, n_heads, n_new, head_dim)
    keys, values = cache.store(layer, att.split_heads(att.W_key(x)), att.split_heads(att.W_value(x)))
    attn_scores = queries @ keys.transpose(2, 3)                    # (batch, n_heads, n_new, start + n_new)
    if num_new > 1:  # a single new token may look at every cached position: nothing to mask
        future = att.mask[start:start + num_new, :start + num_new]
        attn_scores = attn_scores.masked_fill(future, -torch.inf)
    attn_weights = torch.softmax(attn_scores / att.head_dim**0.5, dim=-1)
    context = attn_weights @ values                                  # (batch, n_heads, n_new, head_dim)
    context = context.transpose(1, 2).reshape(b, num_new, att.d_out)
    return att.out_proj(context)


def cached_block(block, x, cache, layer):
    """TransformerBlock `block` for the new positions in x; the shortcut dropout is skipped (eval mode)."""
    x = x + cached_attention(block.att, block.norm1(x), cache, layer)
    x = x + block.ff(block.norm2(x))
    return x


def forward_with_cache(model, idx, cache, last_only=True):
    """Logits for the tokens idx (batch, n_new) placed at positions cache.length, cache.length + 1, ...

    Their keys and values are added to `cache`: the call continues the sequence the cache holds (use
    `prefill` or `cache.reset()` for a new prompt). With `last_only` only the last position goes through
    the final norm and the output head, shape (batch, vocab_size); otherwise (batch, n_new, vocab_size).
    """
    check_cache_fits(model, idx, cache)
    start, num_new = cache.length, idx.shape[1]
    positions = torch.arange(start, start + num_new, device=idx.device)
    x = model.tok_emb(idx) + model.pos_emb(positions)  # (batch, n_new, emb_dim); drop_emb skipped
    for layer, block in enumerate(model.trf_blocks):
        x = cached_block(block, x, cache, layer)
    cache.advance(num_new)
    if last_only:
        x = x[:, -1, :]                                 # only the last position predicts the next token
    return model.out_head(model.final_norm(x))


def prefill(model, idx, cache, last_only=True):
    """Start a new sequence: forget what `cache` holds, then run the prompt idx from position 0.

    The same as `cache.reset()` followed by `forward_with_cache(model, idx, cache, last_only)`; use it
    for every new prompt, so that no keys and values of an earlier text are mixed into the new one.
    """
    if hasattr(cache, "reset"):  # anything that is not a KVCache is refused, with a message, by forward_with_cache
        cache.reset()
    return forward_with_cache(model, idx, cache, last_only)
