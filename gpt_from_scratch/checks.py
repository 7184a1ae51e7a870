"""Input checks shared by the models and the generators.

They turn what would be an IndexError or a device-side assert deep inside torch into a
ValueError/TypeError that says what was wrong with the input.
"""

import torch


def check_token_ids(idx, vocab_size, context_length=None, name="in_idx"):
    """Check that `idx` is a [batch, seq] tensor of integer token ids the model can embed."""
    if not isinstance(idx, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of token ids, got {type(idx).__name__}")
    if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer token ids (e.g. torch.long), got dtype {idx.dtype}")
    if idx.dim() != 2:
        raise ValueError(
            f"{name} must have shape [batch, seq], got {idx.dim()}-D shape {list(idx.shape)}"
            + ("; add a batch dimension with .unsqueeze(0)" if idx.dim() == 1 else "")
        )
    if idx.shape[0] == 0 or idx.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {list(idx.shape)}); give at least one token")
    if context_length is not None and idx.shape[1] > context_length:
        raise ValueError(
            f"{name} has {idx.shape[1]} tokens but the model's context_length is {context_length}; "
            "crop it to the last context_length tokens"
        )
    low, high = int(idx.min()), int(idx.max())
    if low < 0 or high >= vocab_size:
        bad = low if low < 0 else high
        raise ValueError(f"{name} holds token id {bad}, outside the vocabulary [0, {vocab_size})")


def check_non_negative_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")


def check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")


def check_generate_args(model, idx, max_new_tokens, context_size):
    """Validate the arguments of generate_text_simple before the first forward pass."""
    check_non_negative_int(max_new_tokens, "max_new_tokens")
    check_positive_int(context_size, "context_size")
    vocab_size = model.tok_emb.num_embeddings if hasattr(model, "tok_emb") else float("inf")
    check_token_ids(idx, vocab_size, name="idx")
    if hasattr(model, "pos_emb") and context_size > model.pos_emb.num_embeddings:
        raise ValueError(
            f"context_size ({context_size}) is larger than the model's context_length "
            f"({model.pos_emb.num_embeddings})"
        )
