"""Notebook 09: greedy text generation, one token at a time."""

import torch

from .checks import check_generate_args


def generate_text_simple(model, idx, max_new_tokens, context_size):
    """Append `max_new_tokens` greedily chosen tokens to `idx` (batch, n_tokens) and return the result."""
    check_generate_args(model, idx, max_new_tokens, context_size)
    for _ in range(max_new_tokens):
        idx_cond = idx[:, -context_size:]  # the model cannot read more than its context
        with torch.no_grad():
            logits = model(idx_cond)       # (batch, n_tokens, vocab_size)
        logits = logits[:, -1, :]          # only the last position predicts the next token
        probas = torch.softmax(logits, dim=-1)
        idx_next = torch.argmax(probas, dim=-1, keepdim=True)  # (batch, 1)
        idx = torch.cat((idx, idx_next), dim=1)                # (batch, n_tokens + 1)
    return idx

