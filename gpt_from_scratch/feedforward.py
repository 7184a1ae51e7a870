"""Notebook 03: the GELU activation and the position-wise feed-forward network."""

import torch
import torch.nn as nn

from .checks import check_features
from .config import validate_config


class GELU(nn.Module):
    """GELU with the tanh approximation that GPT-2 was trained with."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        check_features(x)
        # The seed code's expression order (a float32 constant sqrt(2/pi), then 0.5 * x * (...)): the same
        # order gives bit-identical outputs *and* gradients to the reference implementation.
        return 0.5 * x * (1 + torch.tanh(
            torch.sqrt(torch.tensor(2.0 / torch.pi)) * (x + 0.044715 * torch.pow(x, 3))
        ))


class FeedForward(nn.Module):
    """Expand each token to 4 * emb_dim, apply GELU, project back to emb_dim."""

    def __init__(self, cfg):
        super().__init__()
        validate_config(cfg, required=["emb_dim"])
        self.layers = nn.Sequential(
            nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"]),  # (batch, seq, emb) -> (batch, seq, 4*emb)
            GELU(),
            nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"]),  # (batch, seq, 4*emb) -> (batch, seq, emb)
        )

    def forward(self, x):
        check_features(x, self.layers[0])
        return self.layers(x)
