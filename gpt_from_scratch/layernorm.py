"""Notebook 02: layer normalization."""

import torch
import torch.nn as nn

from .checks import check_features, check_positive_int


class LayerNorm(nn.Module):
    """Normalize each token's vector to mean 0 and variance 1, then rescale it with learned weights."""

    def __init__(self, emb_dim):
        super().__init__()
        check_positive_int(emb_dim, "emb_dim")
        self.eps = 1e-5  # keeps the division finite when a vector has (almost) no variance
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x):
        check_features(x, self.scale)
        mean = x.mean(dim=-1, keepdim=True)
        # Biased variance (divide by n, not n - 1): we normalize one vector, we do not estimate a population.
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        norm_x = (x - mean) / torch.sqrt(var + self.eps)
        return self.scale * norm_x + self.shift
