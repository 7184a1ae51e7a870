"""Notebook 11: choosing the next token -- greedy, temperature, top-k, top-p -- and `generate`.

`generate` is the general generator of the series. With `temperature=0` it picks the most likely
token at each step and, with or without the KV cache, returns exactly the tokens
`generate_text_simple(model, idx, max_new_tokens, context_size=context_length)` returns.

Batch semantics of `eos_id`: a sequence that has produced `eos_id` is finished; in later steps it
receives `eos_id` again (padding), whatever the model predicts, and generation stops as soon as
every sequence of the batch is finished. The returned tensor may therefore be shorter than
prompt + max_new_tokens; the `eos_id` tokens are included. For batch 1 this means: stop right
after the first `eos_id`.

`generate` does not switch the model to eval mode: call `model.eval()` first. In training mode the
path without cache applies dropout (random output) and the cache path raises a ValueError.
"""

import torch

from .checks import (
    book_arguments,
    check_bool,
    check_non_negative_int,
    check_sample_args,
    check_sampling_args,
    check_token_ids,
    check_top_k_filter_args,
    check_top_p_filter_args,
    has_attention_blocks,
)
from .kv_cache import KVCache, check_cache_ready, forward_with_cache, prefill


def top_k_filter(logits, top_k):
    """Keep the `top_k` largest logits of each row, set the rest to -inf (ties with the k-th are kept)."""
    check_top_k_filter_args(logits, top_k)
    if top_k >= logits.shape[-1]:
        return logits
    kth_largest = torch.topk(logits, top_k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth_largest, -torch.inf)


def top_p_filter(logits, top_p):
    """Keep the smallest set of most likely tokens whose probabilities add up to at least `top_p`."""
    check_top_p_filter_args(logits, top_p)
    if top_p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    # In float64 on the CPU: a float32 running sum over thousands of tokens can put the boundary token
    # on the wrong side of top_p, and every device then draws the same boundary.
    probs = torch.softmax(sorted_logits.to("cpu", torch.float64), dim=-1)
    mass_before = torch.cumsum(probs, dim=-1) - probs  # probability of the more likely tokens
    drop_sorted = (mass_before >= top_p).to(logits.device)  # the set already had enough mass without it
    drop_sorted[..., 0] = False                        # the most likely token always stays
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, -torch.inf)


def next_token_probs(logits, temperature=1.0, top_k=None, top_p=None):
    """The distribution a sampler draws from: softmax(logits / temperature) after top-k, then top-p."""
    check_sampling_args(temperature, top_k, top_p, logits)
    if temperature == 0:
        raise ValueError("temperature 0 means greedy decoding (argmax); there is no distribution to sample")
    # Subtracting each row's largest logit changes no probability, and the largest becomes 0, so even a
    # tiny temperature cannot push it to +inf (-inf for the others is fine: their probability is 0).
    logits = (logits - logits.amax(dim=-1, keepdim=True)) / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return torch.softmax(logits, dim=-1)


def sample_next_token(logits, temperature=0.0, top_k=None, top_p=None, generator=None):
    """Next token ids (batch, 1) for logits (batch, vocab_size): argmax if temperature is 0, else a sample.

    With temperature 0, top_k and top_p change nothing (the most likely token always survives them).
    The sample is drawn on the generator's device, so a CPU generator also works with CUDA logits.
    """
    check_sample_args(logits, temperature, top_k, top_p, generator)
    if temperature == 0:
        return torch.argmax(logits, dim=-1, keepdim=True)
    probs = next_token_probs(logits, temperature, top_k, top_p)
    if generator is None:
        return torch.multinomial(probs, 1)
    # Draw where the generator lives (a no-op move if that is where probs are): a CPU generator
    # then gives the same tokens for a model on the CPU or on a GPU.
    return torch.multinomial(probs.to(generator.device), 1, generator=generator).to(logits.device)


def check_generate_call(model, idx, max_new_tokens, temperature, top_k, top_p, eos_id, use_cache, generator):
    """Validate every argument of `generate` before the first forward pass."""
    if not (isinstance(model, torch.nn.Module) and hasattr(model, "tok_emb") and hasattr(model, "pos_emb")):
        raise TypeError(f"model must be a GPTModel (with tok_emb and pos_emb), got {type(model).__name__}")
    check_bool(use_cache, "use_cache")
    check_non_negative_int(max_new_tokens, "max_new_tokens")
    vocab_size = model.tok_emb.num_embeddings
    check_token_ids(idx, vocab_size, name="idx")
    weight_device = model.tok_emb.weight.device
    if idx.device != weight_device:
        raise ValueError(f"idx is on {idx.device} but the model is on {weight_device}; move idx with idx.to(...)")
    check_sampling_args(temperature, top_k, top_p)
    if eos_id is not None:
        if isinstance(eos_id, bool) or not isinstance(eos_id, int):
            raise TypeError(f"eos_id must be None or an int token id, got {type(eos_id).__name__}")
        if not 0 <= eos_id < vocab_size:
            raise ValueError(f"eos_id {eos_id} is outside the vocabulary [0, {vocab_size})")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")


@book_arguments(max_positional=3, positional_hint=" (temperature=..., top_k=...); the book's 4th argument, "
                "context_size, is not needed: the model's own context_length is used",
                context_size="generate reads the model's own context_length (pos_emb.num_embeddings); leave it out")
def generate(model, idx, max_new_tokens, *, temperature=0.0, top_k=None, top_p=None, eos_id=None,
             use_cache=True, generator=None):
    """Append up to `max_new_tokens` tokens to idx (batch, n_tokens) and return the longer tensor.

    temperature 0 -> greedy; > 0 -> sample from softmax(logits / temperature) after optional top-k,
    then top-p filtering, drawing with `generator` when given (reproducible). The options after
    max_new_tokens are keyword-only: the book's generate(model, idx, 5, 32) meant context_size=32 and
    would here have been temperature 32, so it is refused with a message. The model reads at most
    its context_length last tokens. See the module docstring for `eos_id` and for train/eval mode.
    Each call builds a fresh KV cache; a model without attention blocks (DummyGPTModel) runs without one.
    """
    check_generate_call(model, idx, max_new_tokens, temperature, top_k, top_p, eos_id, use_cache, generator)
    if max_new_tokens == 0:
        return idx
    use_cache = use_cache and has_attention_blocks(model)  # DummyGPTModel has no keys and values to cache
    context_length = model.pos_emb.num_embeddings
    finished = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
    with torch.no_grad():
        if use_cache:
            check_cache_ready(model)
            capacity = min(context_length, idx.shape[1] + max_new_tokens)
            cache = KVCache.for_model(model, idx.shape[0], capacity)
        for step in range(max_new_tokens):
            if not use_cache:
                logits = model(idx[:, -context_length:])[:, -1, :]
            elif step > 0 and cache.length < context_length:
                logits = forward_with_cache(model, idx[:, -1:], cache)  # one new position
            else:  # first step, or the window slid: every position moved, rebuild the cache
                logits = prefill(model, idx[:, -context_length:], cache)
            idx_next = sample_next_token(logits, temperature, top_k, top_p, generator)  # (batch, 1)
            if eos_id is not None:
                idx_next = idx_next.masked_fill(finished.unsqueeze(1), eos_id)  # pad finished sequences
                finished = finished | (idx_next[:, 0] == eos_id)
            idx = torch.cat((idx, idx_next), dim=1)
            if eos_id is not None and bool(finished.all()):
                break
    return idx
