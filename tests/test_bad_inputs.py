"""Bad input to the models gets a ValueError/TypeError that names the problem, never an IndexError."""

import pytest
import torch

from gpt_from_scratch import DummyGPTModel, GPTModel, get_device, set_seed


@pytest.fixture(params=[GPTModel, DummyGPTModel], ids=["GPTModel", "DummyGPTModel"])
def model(request, tiny_cfg):
    return request.param(tiny_cfg).eval()


@pytest.mark.parametrize(
    "ids,error,words",
    [
        (torch.tensor([[1, 2, 101]]), ValueError, r"101.*\[0, 101\)"),
        (torch.tensor([[-1, 2]]), ValueError, "-1"),
        (torch.tensor([1, 2, 3]), ValueError, r"1-D.*unsqueeze"),
        (torch.zeros(1, 2, 3, dtype=torch.long), ValueError, "3-D"),
        (torch.tensor([[1.0, 2.0]]), TypeError, "float32"),
        (torch.tensor([[True, False]]), TypeError, "bool"),
        (torch.zeros(1, 9, dtype=torch.long), ValueError, "9 tokens.*context_length is 8"),
        (torch.zeros(0, 3, dtype=torch.long), ValueError, "empty"),
        ([[1, 2]], TypeError, "torch.Tensor"),
    ],
)
def test_forward_rejects_bad_token_ids(model, ids, error, words):
    with pytest.raises(error, match=words):
        model(ids)


def test_valid_int32_ids_are_accepted(model):
    assert model(torch.tensor([[0, 100]], dtype=torch.int32)).shape == (1, 2, 101)


@pytest.mark.parametrize("name,error", [("gpu", ValueError), ("tpu", ValueError), (3.5, TypeError)])
def test_unknown_device_names(name, error):
    with pytest.raises(error, match="device"):
        get_device(name)


def test_device_selection():
    assert get_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert get_device().type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            get_device("cuda")


def test_set_seed_repeats_random_numbers():
    set_seed(7)
    a = torch.rand(3)
    set_seed(7)
    assert torch.equal(a, torch.rand(3))
    with pytest.raises(TypeError, match="seed"):
        set_seed("7")
