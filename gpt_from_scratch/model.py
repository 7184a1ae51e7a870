"""Notebook 07: the full GPT model."""

import torch
import torch.nn as nn

from .block import TransformerBlock
from .checks import check_token_ids
from .config import validate_config
from .layernorm import LayerNorm


class GPTModel(nn.Module):
    """Token ids -> embeddings -> n_layers transformer blocks -> final norm -> one logit per vocabulary entry."""

    def __init__(self, cfg):
        super().__init__()
        validate_config(cfg)
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.Sequential(*[TransformerBlock(cfg) for _ in range(cfg["n_layers"])])
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)

    def forward(self, in_idx):
        check_token_ids(in_idx, self.tok_emb.num_embeddings, self.pos_emb.num_embeddings)
        batch_size, seq_len = in_idx.shape
        tok_embeds = self.tok_emb(in_idx)                                     # (batch, seq, emb_dim)
        pos_embeds = self.pos_emb(torch.arange(seq_len, device=in_idx.device))  # (seq, emb_dim)
        x = self.drop_emb(tok_embeds + pos_embeds)  # the positions broadcast over the batch
        x = self.trf_blocks(x)                      # (batch, seq, emb_dim)
        x = self.final_norm(x)
        return self.out_head(x)                     # (batch, seq, vocab_size)

    @classmethod
    def from_pretrained(cls, path, device=None):
        """GPT-2 weights from a Hugging Face-format checkpoint directory (config.json + model.safetensors).

        Returns a model in eval mode on `device` (default CPU); see gpt_from_scratch.pretrained.
        """
        from .pretrained import load_gpt2  # imported here: pretrained.py builds GPTModel itself

        return load_gpt2(path, device=device)
