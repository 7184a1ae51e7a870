"""Notebook 05: causal multi-head self-attention."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import check_attention_args, check_sequence


class MultiHeadAttention(nn.Module):
    """Each token mixes in the value vectors of itself and earlier tokens, in `num_heads` parallel heads."""

    def __init__(self, d_in, d_out, context_length, dropout, num_heads, qkv_bias=False, use_sdpa=False):
        super().__init__()
        check_attention_args(d_in, d_out, context_length, dropout, num_heads, qkv_bias, use_sdpa)
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.use_sdpa = use_sdpa  # forward through PyTorch's fused attention (notebook 15)
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)  # mixes what the heads found
        self.dropout = nn.Dropout(dropout)
        # True above the diagonal: position i may not look at any position j > i.
        self.register_buffer(
            "mask", torch.triu(torch.ones(context_length, context_length, dtype=torch.bool), diagonal=1)
        )

    def split_heads(self, t):
        """(batch, seq, d_out) -> (batch, n_heads, seq, head_dim)"""
        b, num_tokens, _ = t.shape
        return t.view(b, num_tokens, self.num_heads, self.head_dim).transpose(1, 2)

    def attention_weights(self, x):
        """Causal attention weights, (batch, n_heads, seq, seq); each row sums to 1."""
        check_sequence(x, self.W_query, self.mask.shape[0])
        num_tokens = x.shape[1]
        queries = self.split_heads(self.W_query(x))            # (batch, n_heads, seq, head_dim)
        keys = self.split_heads(self.W_key(x))                 # (batch, n_heads, seq, head_dim)
        attn_scores = queries @ keys.transpose(2, 3)           # (batch, n_heads, seq, seq)
        future = self.mask[:num_tokens, :num_tokens]
        attn_scores = attn_scores.masked_fill(future, -torch.inf)  # softmax turns -inf into weight 0
        # Dividing by sqrt(head_dim) keeps the scores' spread independent of the head width.
        return torch.softmax(attn_scores / self.head_dim**0.5, dim=-1)

    def forward(self, x):
        check_sequence(x, self.W_query, self.mask.shape[0])
        b, num_tokens, _ = x.shape
        if self.use_sdpa:  # the same result from one fused call; notebook 15 explains this branch
            context = self.sdpa_context(x)
        else:
            attn_weights = self.dropout(self.attention_weights(x))  # (batch, n_heads, seq, seq)
            values = self.split_heads(self.W_value(x))               # (batch, n_heads, seq, head_dim)
            context = attn_weights @ values                          # (batch, n_heads, seq, head_dim)
        # Merge the heads back: (batch, seq, n_heads, head_dim) -> (batch, seq, d_out)
        context = context.transpose(1, 2).contiguous().view(b, num_tokens, self.d_out)
        return self.out_proj(context)

    def sdpa_context(self, x):
        """forward's context vectors from F.scaled_dot_product_attention, (batch, n_heads, seq, head_dim)."""
        queries, keys, values = (self.split_heads(W(x)) for W in (self.W_query, self.W_key, self.W_value))
        dropout_p = self.dropout.p if self.training else 0.0  # the same dropout as the taught path
        return F.scaled_dot_product_attention(queries, keys, values, dropout_p=dropout_p, is_causal=True)
