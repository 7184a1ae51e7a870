"""Notebook 09: greedy text generation, one token at a time."""

import torch

from .checks import check_non_negative_int, check_positive_int, check_token_ids


def generate_text_simple(model, idx, max_new_tokens, context_size):
    """Append `max_new_tokens` greedily chosen tokens to `idx` (batch, n_tokens) and return the result."""
    _check_generate_args(model, idx, max_new_tokens, context_size)
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]  # the model cannot read more than its context
        with torch.no_grad():
            logits = model(idx_cond)       # (batch, n_tokens, vocab_size)
        logits = logits[:, -1, :]          # only the last position predicts the next token
        probas = torch.softmax(logits, dim=-1)
        idx_next = torch.argmax(probas, dim=-1, keepdim=True)  # (batch, 1)
        idx = torch.cat((idx, idx_next), dim=1)                # (batch, n_tokens + 1)
    return idx


def _check_generate_args(model, idx, max_new_tokens, context_size):
    check_non_negative_int(max_new_tokens, "max_new_tokens")
    check_positive_int(context_size, "context_size")
    vocab_size = model.tok_emb.num_embeddings if hasattr(model, "tok_emb") else None
    check_token_ids(idx, vocab_size if vocab_size is not None else float("inf"), name="idx")
    if hasattr(model, "pos_emb") and context_size > model.pos_emb.num_embeddings:
        raise ValueError(
            f"context_size ({context_size}) is larger than the model's context_length "
            f"({model.pos_emb.num_embeddings})"
        )
