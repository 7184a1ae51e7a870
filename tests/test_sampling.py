"""gpt_from_scratch.sampling: greedy == generate_text_simple, temperature / top-k / top-p, generators, eos_id, bad inputs."""

import pytest
import torch
import torch.nn as nn

from gpt_from_scratch import GPTModel, generate_text_simple
from gpt_from_scratch.sampling import generate, next_token_probs, sample_next_token, top_k_filter, top_p_filter


@pytest.fixture
def tiny_model(tiny_cfg):
    torch.manual_seed(0)
    return GPTModel(tiny_cfg).eval()


class Counter(nn.Module):
    """A stand-in model whose next token is always (last token + 1) % vocab, so eos tests are exact."""

    def __init__(self, vocab_size=10, context_length=8):
        super().__init__()
        self.tok_emb = nn.Embedding(vocab_size, 1)
        self.pos_emb = nn.Embedding(context_length, 1)

    def forward(self, idx):
        vocab = self.tok_emb.num_embeddings
        return nn.functional.one_hot((idx + 1) % vocab, vocab).float() * 10.0  # (batch, seq, vocab)


# ---------- greedy ----------

@pytest.mark.parametrize("use_cache", [True, False])
@pytest.mark.parametrize("steps", [0, 1, 5, 20])
def test_greedy_equals_generate_text_simple(tiny_model, use_cache, steps):
    idx = torch.tensor([[1, 2, 3], [4, 5, 6]])
    expected = generate_text_simple(tiny_model, idx, steps, context_size=8)
    assert torch.equal(generate(tiny_model, idx, steps, use_cache=use_cache), expected)


def test_greedy_ignores_top_k_top_p_and_generator(tiny_model):
    idx = torch.tensor([[7, 8]])
    plain = generate(tiny_model, idx, 6)
    filtered = generate(tiny_model, idx, 6, top_k=3, top_p=0.5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(plain, filtered)


def test_top_k_1_samples_the_argmax(tiny_model):
    idx = torch.tensor([[7, 8], [1, 1]])
    greedy = generate(tiny_model, idx, 10)
    sampled = generate(tiny_model, idx, 10, temperature=2.0, top_k=1, generator=torch.Generator().manual_seed(5))
    assert torch.equal(greedy, sampled)


# ---------- the filters and the distribution ----------

LOGITS = torch.tensor([[2.0, 1.0, 0.5, -1.0, 3.0]])


def test_top_k_filter_keeps_the_k_largest():
    out = top_k_filter(LOGITS, 2)
    assert torch.isfinite(out).tolist() == [[True, False, False, False, True]]
    assert torch.equal(out[torch.isfinite(out)], LOGITS[torch.isfinite(out)])
    assert torch.equal(top_k_filter(LOGITS, 5), LOGITS)
    assert torch.equal(top_k_filter(LOGITS, 500), LOGITS)


def test_top_p_filter_keeps_the_smallest_set_with_enough_mass():
    probs = torch.tensor([[0.1, 0.5, 0.05, 0.35]])
    logits = probs.log()
    kept = lambda p: torch.isfinite(top_p_filter(logits, p)).tolist()[0]  # noqa: E731
    assert kept(0.3) == [False, True, False, False]   # 0.5 alone already covers 0.3
    assert kept(0.7) == [False, True, False, True]    # 0.5 + 0.35
    assert kept(0.9) == [True, True, False, True]     # 0.5 + 0.35 + 0.1
    assert kept(0.97) == [True, True, True, True]
    assert kept(1.0) == [True, True, True, True]
    assert kept(1e-9) == [False, True, False, False]  # the most likely token always stays


def test_filters_work_row_by_row():
    logits = torch.tensor([[0.0, 5.0, 1.0], [3.0, 0.0, 2.9]])
    assert torch.isfinite(top_k_filter(logits, 1)).tolist() == [[False, True, False], [True, False, False]]
    assert torch.isfinite(top_p_filter(logits, 0.9)).tolist() == [[False, True, False], [True, False, True]]


def test_temperature_scales_the_logits():
    for t in (0.5, 1.0, 3.0):
        assert torch.allclose(next_token_probs(LOGITS, temperature=t), torch.softmax(LOGITS / t, -1))
    cold, hot = next_token_probs(LOGITS, 0.1), next_token_probs(LOGITS, 10.0)
    assert cold.max() > 0.99 and hot.max() < 0.3  # low temperature -> peaked, high -> flat
    probs = next_token_probs(LOGITS, 1.0, top_k=3, top_p=0.8)
    assert torch.allclose(probs.sum(-1), torch.ones(1))
    # top_k=3 keeps tokens 4, 0, 1 (probabilities 0.67, 0.24, 0.09); top_p=0.8 then drops token 1.
    assert (probs > 0).tolist() == [[True, False, False, False, True]]


def test_top_k_then_top_p_order():
    # top_k=2 leaves {4: 3.0, 0: 2.0} -> renormalized 0.73 / 0.27; top_p=0.7 then keeps only token 4.
    probs = next_token_probs(LOGITS, 1.0, top_k=2, top_p=0.7)
    assert probs.tolist()[0] == [0.0, 0.0, 0.0, 0.0, 1.0]


def test_sampling_follows_the_distribution():
    g = torch.Generator().manual_seed(0)
    logits = torch.tensor([[1.0, 0.0, 2.0, -1.0]]).repeat(4000, 1)
    draws = sample_next_token(logits, temperature=1.0, generator=g)[:, 0]
    freq = torch.bincount(draws, minlength=4).double() / draws.numel()
    assert torch.allclose(freq, torch.softmax(logits[0].double(), -1), atol=0.03)
    restricted = sample_next_token(logits, temperature=1.0, top_k=2, generator=g)[:, 0]
    assert set(restricted.tolist()) == {0, 2}


def test_seeded_generator_reproduces_and_seeds_differ(tiny_model):
    idx = torch.tensor([[1, 2], [3, 4]])
    run = lambda seed, **kw: generate(  # noqa: E731
        tiny_model, idx, 12, temperature=1.5, generator=torch.Generator().manual_seed(seed), **kw
    )
    assert torch.equal(run(7), run(7))
    assert torch.equal(run(7), run(7, use_cache=False))  # the cache changes nothing in what is sampled
    assert not torch.equal(run(7), run(8))
    # A seeded generator is independent of the global RNG.
    torch.manual_seed(1)
    a = run(3)
    torch.manual_seed(2)
    assert torch.equal(a, run(3))


def test_sampled_tokens_stay_in_the_filtered_set(tiny_model):
    idx = torch.tensor([[5]])
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        allowed = torch.topk(tiny_model(idx)[0, -1], 3).indices.tolist()
    for _ in range(20):
        out = generate(tiny_model, idx, 1, temperature=1.0, top_k=3, generator=g)
        assert out[0, -1].item() in allowed


# ---------- eos_id ----------

def test_eos_stops_a_single_sequence():
    out = generate(Counter(), torch.tensor([[2]]), 10, eos_id=5, use_cache=False)
    assert out.tolist() == [[2, 3, 4, 5]]  # the eos token is kept, nothing after it


def test_eos_pads_finished_sequences_until_all_are_done():
    out = generate(Counter(), torch.tensor([[3], [1]]), 10, eos_id=5, use_cache=False)
    assert out.tolist() == [[3, 4, 5, 5, 5], [1, 2, 3, 4, 5]]


def test_eos_never_reached_gives_max_new_tokens():
    out = generate(Counter(), torch.tensor([[1]]), 3, eos_id=9, use_cache=False)
    assert out.tolist() == [[1, 2, 3, 4]]


def test_eos_with_a_gpt_model(tiny_model):
    idx = torch.tensor([[1, 2, 3]])
    free = generate(tiny_model, idx, 10)
    eos = free[0, 5].item()  # the third generated token
    first = free[0, 3:].tolist().index(eos) + 3
    assert torch.equal(generate(tiny_model, idx, 10, eos_id=eos), free[:, : first + 1])


# ---------- train/eval mode ----------

def test_mode_is_left_alone(tiny_model, tiny_cfg):
    generate(tiny_model, torch.tensor([[1]]), 2)
    assert not tiny_model.training
    tiny_model.train()
    generate(tiny_model, torch.tensor([[1]]), 2, use_cache=False)
    assert tiny_model.training
    with pytest.raises(ValueError, match=r"model\.eval\(\)"):
        generate(tiny_model, torch.tensor([[1]]), 2)
    assert tiny_model.training
    torch.manual_seed(0)
    no_dropout = GPTModel({**tiny_cfg, "drop_rate": 0.0})  # training mode but nothing random: cache is fine
    idx = torch.tensor([[1, 2]])
    assert torch.equal(generate(no_dropout, idx, 9), generate_text_simple(no_dropout, idx, 9, 8))


# ---------- bad inputs ----------

@pytest.mark.parametrize(
    "kwargs,error,words",
    [
        ({"temperature": -0.1}, ValueError, "temperature"),
        ({"temperature": float("nan")}, ValueError, "temperature"),
        ({"temperature": "hot"}, TypeError, "temperature"),
        ({"temperature": True}, TypeError, "temperature"),
        ({"top_k": 0}, ValueError, "top_k"),
        ({"top_k": 2.0}, TypeError, "top_k"),
        ({"top_k": True}, TypeError, "top_k"),
        ({"top_p": 0.0}, ValueError, "top_p"),
        ({"top_p": 1.5}, ValueError, "top_p"),
        ({"top_p": float("nan")}, ValueError, "top_p"),
        ({"top_p": "0.9"}, TypeError, "top_p"),
        ({"max_new_tokens": -1}, ValueError, "max_new_tokens"),
        ({"max_new_tokens": 2.0}, TypeError, "max_new_tokens"),
        ({"idx": torch.tensor([1, 2])}, ValueError, r"\[batch, seq\]"),
        ({"idx": torch.tensor([[1.0, 2.0]])}, TypeError, "integer"),
        ({"idx": torch.zeros(1, 0, dtype=torch.long)}, ValueError, "empty"),
        ({"idx": torch.tensor([[1, 101]])}, ValueError, "101"),
        ({"idx": [[1, 2]]}, TypeError, "Tensor"),
        ({"eos_id": 101}, ValueError, "eos_id"),
        ({"eos_id": -1}, ValueError, "eos_id"),
        ({"eos_id": 1.0}, TypeError, "eos_id"),
        ({"generator": 123}, TypeError, "generator"),
        ({"use_cache": "yes"}, TypeError, "use_cache"),
    ],
)
def test_bad_arguments(tiny_model, kwargs, error, words):
    args = {"idx": torch.tensor([[1, 2]]), "max_new_tokens": 2, **kwargs}
    with pytest.raises(error, match=words):
        generate(tiny_model, **args)


def test_bad_model():
    with pytest.raises(TypeError, match="GPTModel"):
        generate(nn.Linear(2, 2), torch.tensor([[1]]), 1)


def test_sample_next_token_checks_its_arguments():
    with pytest.raises(TypeError, match="generator"):
        sample_next_token(LOGITS, 1.0, generator="seed")
    with pytest.raises(ValueError, match="greedy"):
        next_token_probs(LOGITS, 0.0)
