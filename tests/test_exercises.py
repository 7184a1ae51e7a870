"""Every exercise checker accepts the reference solution and rejects a typical mistake.

The reference solutions below are the ones in the notebooks' <details> boxes, recomputed here; the
mistakes are the ones learners typically make. Each rejection must say what is off (never just "wrong").
"""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from gpt_from_scratch import exercises as ex


def accepted(feedback):
    return feedback.status == ex.CORRECT


def rejected(feedback, *words):
    """Rejected, with a message that explains (contains every one of `words`)."""
    assert feedback.status == ex.NOT_YET, feedback
    assert len(feedback.message) > 40, feedback.message
    for word in words:
        assert word in feedback.message, (word, feedback.message)
    return True


CHECKERS = sorted(name for name in dir(ex) if name.startswith("check_"))


def test_there_are_checkers():
    assert len(CHECKERS) >= 15


@pytest.mark.parametrize("name", CHECKERS)
def test_not_attempted_is_kind_and_stable(name, capsys):
    feedback = getattr(ex, name)(None)
    assert feedback.status == ex.NOT_ATTEMPTED
    printed = capsys.readouterr().out
    assert printed.startswith("Not attempted yet")
    assert getattr(ex, name)(None).message == feedback.message


# 00 ---------------------------------------------------------------------------------------------------


def test_00_1():
    product = tuple((torch.ones(2, 4, 3) @ torch.ones(3, 5)).shape)
    summed = tuple((torch.ones(2, 4, 5) + torch.ones(4, 5)).shape)
    assert accepted(ex.check_00_1((product, summed, False)))
    assert rejected(ex.check_00_1(((2, 4, 3), summed, False)), "last dimension")
    assert rejected(ex.check_00_1((product, summed, True)), "neither is 1")


def test_00_2():
    x2, y2 = torch.tensor([-0.5]), torch.tensor([0.0])
    w2 = torch.tensor([1.0], requires_grad=True)
    b2 = torch.tensor([0.5], requires_grad=True)
    F.binary_cross_entropy(torch.sigmoid(x2 * w2 + b2), y2).backward()
    assert accepted(ex.check_00_2((w2.grad, b2.grad)))
    assert rejected(ex.check_00_2((0.25, -0.5)), "signs")


def test_00_3():
    w3 = torch.tensor([2.2], requires_grad=True)
    for _ in range(2):
        F.binary_cross_entropy(torch.sigmoid(torch.tensor([1.1]) * w3), torch.tensor([1.0])).backward()
    assert accepted(ex.check_00_3(w3.grad))
    assert rejected(ex.check_00_3(w3.grad / 2), "single pass")


# 01 ---------------------------------------------------------------------------------------------------


def test_01_1():
    from gpt_from_scratch import GPT_CONFIG_124M, DummyGPTModel

    counts = []
    for n_layers in (12, 48):
        with torch.device("meta"):
            skeleton = DummyGPTModel({**GPT_CONFIG_124M, "n_layers": n_layers})
        counts.append(sum(p.numel() for p in skeleton.parameters()))
    assert accepted(ex.check_01_1(tuple(counts)))
    assert rejected(ex.check_01_1((counts[0], 4 * counts[0])), "own any parameters")


def test_01_2():
    from gpt_from_scratch import GPT_CONFIG_124M, DummyGPTModel

    with torch.device("meta"):
        model = DummyGPTModel(GPT_CONFIG_124M)
    try:
        model(torch.zeros(1, 1025, dtype=torch.long))
    except ValueError as err:
        answer = err
    assert accepted(ex.check_01_2(answer))
    assert rejected(ex.check_01_2(IndexError("index out of range in self")), "without")


def test_01_3():
    from gpt_from_scratch import get_tokenizer

    single = torch.tensor([get_tokenizer().encode("Every effort moves you forward")])
    assert accepted(ex.check_01_3((*single.shape, 50257)))
    assert rejected(ex.check_01_3((5, 50257)), "batch")
    assert rejected(ex.check_01_3((1, 4, 50257)), "tokens")


# 02 ---------------------------------------------------------------------------------------------------


def test_02_1():
    from gpt_from_scratch import LayerNorm

    with torch.no_grad():
        values = LayerNorm(4)(torch.tensor([[1.0, 2.0, 3.0, 4.0]]))
    assert accepted(ex.check_02_1(values))
    assert accepted(ex.check_02_1([-1.3416, -0.4472, 0.4472, 1.3416]))
    v = torch.tensor([1.0, 2.0, 3.0, 4.0])
    assert rejected(ex.check_02_1((v - v.mean()) / v.std()), "n - 1")


def test_02_2():
    assert accepted(ex.check_02_2(25 * 1536))
    assert rejected(ex.check_02_2(24 * 1536), "final norm")


def test_02_3():
    from gpt_from_scratch import LayerNorm

    torch.manual_seed(123)
    x = torch.randn(2, 4, 768) * 3 + 5
    ours = LayerNorm(768)
    with torch.no_grad():
        assert accepted(ex.check_02_3((ours(10 * x + 3) - ours(x)).abs().max()))
        assert rejected(ex.check_02_3((ours(10 * x + 3) - (10 * ours(x) + 3)).abs().max()), "10 * LayerNorm")


# 03 ---------------------------------------------------------------------------------------------------


def test_03_1():
    d = 1600
    assert accepted(ex.check_03_1(8 * d**2 + 5 * d))
    assert rejected(ex.check_03_1(8 * d**2), "bias")


def test_03_2():
    from gpt_from_scratch import GELU

    pts = torch.tensor([-1.0, -2.0], requires_grad=True)
    GELU()(pts).sum().backward()
    assert accepted(ex.check_03_2(tuple(pts.grad)))
    with torch.no_grad():
        assert rejected(ex.check_03_2(tuple(GELU()(torch.tensor([-1.0, -2.0])))), "values")


def test_03_3():
    torch.manual_seed(123)
    layers = nn.Sequential(nn.Linear(4, 16), nn.Identity(), nn.Linear(16, 4))
    with torch.no_grad():
        W = layers[2].weight @ layers[0].weight
        bias = layers[2].weight @ layers[0].bias + layers[2].bias
    assert accepted(ex.check_03_3((W, bias)))
    assert rejected(ex.check_03_3((W, layers[2].bias.detach())), "W2 @ b1 + b2")


# 04 ---------------------------------------------------------------------------------------------------


def test_04_1():
    from gpt_from_scratch import ExampleDeepNeuralNetwork, layer_gradients

    sample_input, target = torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0]])

    def first(sizes):
        out = {}
        for use_shortcut in (False, True):
            torch.manual_seed(123)
            deep = ExampleDeepNeuralNetwork(sizes, use_shortcut)
            out[use_shortcut] = layer_gradients(deep, sample_input, target)["layers.0.0.weight"]
        return math.log10(out[True] / out[False])

    assert accepted(ex.check_04_1(first([3] * 10 + [1])))
    assert rejected(ex.check_04_1(first([3] * 5 + [1])), "five-layer")


def test_04_2():
    x = torch.tensor(2.0, requires_grad=True)
    (x + torch.tanh(x)).backward()
    assert accepted(ex.check_04_2(x.grad))
    assert rejected(ex.check_04_2(1 - math.tanh(2.0) ** 2), "adds exactly 1")


# 05 ---------------------------------------------------------------------------------------------------


def test_05_1():
    d = 768
    assert accepted(ex.check_05_1((4 * d * d + d, 4 * d * d + d + 3 * d)))
    assert rejected(ex.check_05_1((4 * d * d, 4 * d * d + 3 * d)), "bias")


def test_05_2():
    from gpt_from_scratch import MultiHeadAttention

    torch.manual_seed(123)
    mha4 = MultiHeadAttention(8, 8, context_length=1024, dropout=0.0, num_heads=4)
    with torch.no_grad():
        w4 = mha4.attention_weights(torch.rand(1, 6, 8))
    assert accepted(ex.check_05_2(w4.shape))
    assert rejected(ex.check_05_2((1, 6, 6)), "head")


def test_05_3():
    context_h = torch.rand(1, 4, 6, 2)
    try:
        context_h.transpose(1, 2).view(1, 6, 8)
    except RuntimeError as err:
        answer = err
    assert accepted(ex.check_05_3(answer))
    assert rejected(ex.check_05_3(ValueError("no")), "catch")


def test_05_4():
    torch.manual_seed(123)
    q, k = torch.randn(6, 64), torch.randn(6, 64)
    mask = torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)
    scores = (q @ k.T).masked_fill(mask, -torch.inf)

    def entropy(w):
        return (-torch.special.xlogy(w, w).sum(dim=-1)).mean()

    scaled, unscaled = entropy(torch.softmax(scores / 8, dim=-1)), entropy(torch.softmax(scores, dim=-1))
    assert scaled > unscaled
    assert accepted(ex.check_05_4((scaled, unscaled)))
    assert rejected(ex.check_05_4((unscaled, scaled)), "swapped")


def test_05_5():
    from gpt_from_scratch import MultiHeadAttention

    torch.manual_seed(123)
    mha = MultiHeadAttention(8, 8, context_length=6, dropout=0.0, num_heads=2).eval()
    torch.manual_seed(123)
    x = torch.rand(1, 6, 8)
    changed = x.clone()
    changed[0, -1] = 0.0
    with torch.no_grad():
        causal = (~torch.isclose(mha(x)[0, :5], mha(changed)[0, :5], atol=1e-6).all(dim=-1)).sum()
        mha.mask.fill_(False)
        unmasked = (~torch.isclose(mha(x)[0, :5], mha(changed)[0, :5], atol=1e-6).all(dim=-1)).sum()
    assert accepted(ex.check_05_5(unmasked))
    assert rejected(ex.check_05_5(causal), "Remove the mask")
