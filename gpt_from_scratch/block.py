"""Notebook 06: the transformer block."""

import torch.nn as nn

from .checks import check_sequence
from .config import validate_config
from .attention import MultiHeadAttention
from .feedforward import FeedForward
from .layernorm import LayerNorm


class TransformerBlock(nn.Module):
    """Pre-LayerNorm block: x + attention(norm(x)), then x + feed_forward(norm(x)); shape is preserved."""

    def __init__(self, cfg):
        super().__init__()
        validate_config(cfg)
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            dropout=cfg["drop_rate"],
            num_heads=cfg["n_heads"],
            qkv_bias=cfg["qkv_bias"],
            use_sdpa=cfg.get("use_sdpa", False),  # optional key: the fused attention of notebook 15
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(self, x):
        check_sequence(x, self.att.W_query, self.att.mask.shape[0])
        # x: (batch, seq, emb_dim) everywhere below
        x = x + self.drop_shortcut(self.att(self.norm1(x)))  # shortcut around attention
        x = x + self.drop_shortcut(self.ff(self.norm2(x)))   # shortcut around the feed-forward net
        return x
