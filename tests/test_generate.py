import pytest
import torch

from gpt_from_scratch import GPTModel, generate_text_simple, text_to_token_ids, token_ids_to_text


@pytest.fixture
def tiny_model(tiny_cfg):
    torch.manual_seed(0)
    return GPTModel(tiny_cfg).eval()


def greedy_reference(model, idx, steps, context):
    """Independent loop: full forward, argmax of the raw logits (softmax does not change the argmax)."""
    for _ in range(steps):
        with torch.no_grad():
            nxt = model(idx[:, -context:])[:, -1].argmax(-1, keepdim=True)
        idx = torch.cat([idx, nxt], 1)
    return idx


def test_length_prefix_and_determinism(tiny_model):
    idx = torch.tensor([[1, 2, 3], [4, 5, 6]])
    out = generate_text_simple(tiny_model, idx, max_new_tokens=4, context_size=8)
    assert out.shape == (2, 7)
    assert torch.equal(out[:, :3], idx)
    assert torch.equal(out, generate_text_simple(tiny_model, idx, max_new_tokens=4, context_size=8))
    assert torch.equal(out, greedy_reference(tiny_model, idx, 4, 8))


def test_generates_past_the_context_by_cropping(tiny_model):
    idx = torch.tensor([[7, 8, 9]])
    out = generate_text_simple(tiny_model, idx, max_new_tokens=12, context_size=8)
    assert out.shape == (1, 15)
    assert torch.equal(out, greedy_reference(tiny_model, idx, 12, 8))
    # Cropping to a smaller window changes what the model sees, hence (here) what it writes.
    small = generate_text_simple(tiny_model, idx, max_new_tokens=12, context_size=2)
    assert torch.equal(small, greedy_reference(tiny_model, idx, 12, 2))


def test_zero_new_tokens_returns_the_prompt(tiny_model):
    idx = torch.tensor([[1, 2]])
    assert torch.equal(generate_text_simple(tiny_model, idx, 0, 8), idx)


def test_seed_example_hello_i_am(gpt124m):
    ids = text_to_token_ids("Hello, I am")
    assert ids.tolist() == [[15496, 11, 314, 716]]
    out = generate_text_simple(gpt124m, ids, max_new_tokens=6, context_size=1024)
    assert out.shape == (1, 10)
    assert torch.equal(out, greedy_reference(gpt124m, ids, 6, 1024))
    assert token_ids_to_text(out).startswith("Hello, I am")


@pytest.mark.parametrize(
    "kwargs,error,words",
    [
        ({"max_new_tokens": -1}, ValueError, "max_new_tokens"),
        ({"max_new_tokens": 2.0}, TypeError, "max_new_tokens"),
        ({"context_size": 0}, ValueError, "context_size"),
        ({"context_size": 9}, ValueError, "context_length"),
        ({"idx": torch.tensor([1, 2])}, ValueError, r"\[batch, seq\]"),
        ({"idx": torch.tensor([[1.0, 2.0]])}, TypeError, "integer"),
        ({"idx": torch.zeros(1, 0, dtype=torch.long)}, ValueError, "empty"),
        ({"idx": torch.tensor([[1, 101]])}, ValueError, "101"),
        ({"idx": [[1, 2]]}, TypeError, "Tensor"),
    ],
)
def test_bad_generation_arguments(tiny_model, kwargs, error, words):
    args = {"idx": torch.tensor([[1, 2]]), "max_new_tokens": 2, "context_size": 8, **kwargs}
    with pytest.raises(error, match=words):
        generate_text_simple(tiny_model, **args)
