"""GELU is written in the seed code's expression order, so it matches the reference bit for bit.

The reference implementation (the seed material) computes
0.5 * x * (1 + tanh(sqrt(tensor(2 / pi)) * (x + 0.044715 * x**3))), with sqrt(2 / pi) as a float32
tensor. Floating-point arithmetic is not associative, so a formula that is equal on paper but written in
another order (for example with math.sqrt, a float64 constant) can give the same outputs and still
different gradients. Below, the reference is restated independently and compared exactly.
"""

import math

import torch

from gpt_from_scratch import GELU


def reference_gelu(x):
    """The seed code's expression, restated here on purpose (not imported from the package).

    It is one expression on purpose: x is used three times, and autograd adds the three gradient
    contributions in the order the operations were recorded, so even naming a sub-term first changes
    the last bits of the gradient.
    """
    return 0.5 * x * (1 + torch.tanh(torch.sqrt(torch.tensor(2.0 / torch.pi)) * (x + 0.044715 * torch.pow(x, 3))))


def other_order_gelu(x):
    """Equal on paper, different in floating point: the inner term is recorded before 0.5 * x."""
    inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3))
    return 0.5 * x * (1.0 + torch.tanh(inner))


def outputs_and_grads(fn, x, upstream):
    x = x.clone().requires_grad_(True)
    y = fn(x)
    y.backward(upstream)
    return y.detach(), x.grad


def test_gelu_outputs_and_gradients_are_bit_identical_to_the_reference():
    torch.manual_seed(123)
    x = torch.randn(4, 1000) * 4
    upstream = torch.randn(4, 1000)
    ours_y, ours_g = outputs_and_grads(GELU(), x, upstream)
    ref_y, ref_g = outputs_and_grads(reference_gelu, x, upstream)
    assert torch.equal(ours_y, ref_y)
    assert torch.equal(ours_g, ref_g)


def test_the_comparison_can_tell_expression_orders_apart():
    """The exact comparison above is strict enough to notice a reordered formula."""
    torch.manual_seed(123)
    x = torch.randn(4, 1000) * 4
    upstream = torch.randn(4, 1000)
    _, ref_g = outputs_and_grads(reference_gelu, x, upstream)
    _, other_g = outputs_and_grads(other_order_gelu, x, upstream)
    assert not torch.equal(ref_g, other_g)
    assert torch.allclose(ref_g, other_g, atol=1e-6)
