"""Notebook 01: a placeholder GPT whose blocks and norm do nothing yet."""

import torch
import torch.nn as nn

from .checks import check_token_ids
from .config import validate_config


class DummyTransformerBlock(nn.Module):
    """Stands in for TransformerBlock (notebook 06): returns its input unchanged."""

    def __init__(self, cfg):
        super().__init__()

    def forward(self, x):
        return x


class DummyLayerNorm(nn.Module):
    """Stands in for LayerNorm (notebook 02); takes the same arguments, returns its input unchanged."""

    def __init__(self, normalized_shape, eps=1e-5):
        super().__init__()

    def forward(self, x):
        return x


class DummyGPTModel(nn.Module):
    """The GPT skeleton: real embeddings and output head around placeholder blocks and norm."""

    def __init__(self, cfg):
        super().__init__()
        validate_config(cfg)
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(*[DummyTransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = DummyLayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx):
        check_token_ids(in_idx, self.tok_emb.num_embeddings, self.pos_emb.num_embeddings)
        batch_size, seq_len = in_idx.shape
        tok_embeds = self.tok_emb(in_idx)                                     # (batch, seq, emb_dim)
        pos_embeds = self.pos_emb(torch.arange(seq_len, device=in_idx.device))  # (seq, emb_dim)
        x = self.drop_emb(tok_embeds + pos_embeds)
        x = self.trf_blocks(x)
        x = self.final_norm(x)
        return self.out_head(x)                                               # (batch, seq, vocab_size)
