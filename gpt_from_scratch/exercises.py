"""Checkers for the notebooks' exercises: `check_NN_k(answer)` for exercise k of notebook NN.

Each checker recomputes the right answer on its own (from PyTorch and the package, never from the
learner's variables), prints what is right or what is off, and returns a `Feedback`. An answer left
at `None` is reported as not attempted yet. The reference solutions stay in the notebooks, inside
<details>, and tests/test_exercises.py checks that every checker accepts them and rejects a typical
mistake.
"""

import functools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NOT_ATTEMPTED = "not attempted"
CORRECT = "correct"
NOT_YET = "not yet"


class Feedback:
    """What a checker found: `status` is 'correct', 'not yet' or 'not attempted'; `message` says why."""

    def __init__(self, status, message):
        self.status = status
        self.message = message

    @property
    def ok(self):
        return self.status == CORRECT

    def __repr__(self):
        return f"Feedback({self.status!r}, {self.message!r})"

    def _ipython_display_(self):
        """The checker already printed the message; show nothing more in a notebook."""


def _say(status, message):
    prefix = {CORRECT: "Correct! ", NOT_YET: "Not quite yet. ", NOT_ATTEMPTED: ""}[status]
    print(prefix + message)
    return Feedback(status, message)


def _correct(message):
    return _say(CORRECT, message)


def _off(message):
    return _say(NOT_YET, message)


def _not_attempted(what):
    return _say(NOT_ATTEMPTED, f"Not attempted yet: {what}, then run this cell again. "
                               "(Take your time; the solution is in the 'Solution' box above.)")


def _number(value):
    """A Python number from an int, float or one-element tensor, or None if it is not one."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return None
        return value.item()
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    return None


def _close(a, b, tol):
    a = _number(a)
    try:
        return a is not None and math.isfinite(a) and abs(a - b) <= tol
    except OverflowError:  # an int too large for a float (10**400) is far from every expected value
        return False


def _bool(value):
    """True or False from a bool, a NumPy bool or a one-element bool tensor; None for anything else ("yes", 1)."""
    if isinstance(value, torch.Tensor):
        return bool(value.item()) if value.dtype == torch.bool and value.numel() == 1 else None
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    return None


def _words(value):
    """A list of str from a list or tuple of str, or None (a single str is not read letter by letter)."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def _ints(value):
    """A list of ints from a list or tuple of ints, or None."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return list(value)
    return None


def _shape(value):
    """A tuple from a tuple, list or torch.Size, or None."""
    if isinstance(value, (tuple, list, torch.Size)) and all(isinstance(v, int) for v in value):
        return tuple(value)
    return None


def _pair(answer, n=2):
    return isinstance(answer, (tuple, list)) and len(answer) == n


def _is_exception_class(value, cls):
    return isinstance(value, type) and issubclass(value, cls) or isinstance(value, cls)


def _fmt(x, decimals=4):
    return f"{x:.{decimals}f}"


# ----------------------------------------------------------------------------- 00 · PyTorch basics


def check_00_1(answer):
    """answer = (shape of the product, shape of the first sum, can (2, 4, 5) + (2, 5) broadcast?)"""
    if answer is None:
        return _not_attempted("set `answer = (shape, shape, True or False)`")
    if not _pair(answer, 3):
        return _off("The answer should hold three things: `(shape of the product, shape of the sum, True/False)`.")
    product = tuple((torch.ones(2, 4, 3) @ torch.ones(3, 5)).shape)
    summed = tuple((torch.ones(2, 4, 5) + torch.ones(4, 5)).shape)
    try:
        torch.ones(2, 4, 5) + torch.ones(2, 5)
        broadcasts = True
    except RuntimeError:
        broadcasts = False
    got_product, got_sum, got_broadcasts = _shape(answer[0]), _shape(answer[1]), answer[2]
    if got_product != product:
        if got_product == (2, 4, 3):
            return _off("The product keeps the left operand's leading dimensions but replaces its last "
                        "dimension (3, the one that is summed over) with the right operand's last (5).")
        return _off(f"The product's shape is off: `@` sums over the last dimension of the left (3) and the first "
                    f"of the right (3); everything else is kept. You wrote {answer[0]}.")
    if got_sum != summed:
        return _off("The product is right. For the sum, line the shapes up from the right: (4, 5) is stretched "
                    "over the batch dimension of (2, 4, 5).")
    if got_broadcasts is not broadcasts:
        return _off("Both shapes are right. The last one: aligned from the right, 5 matches 5, but 4 meets 2 and "
                    "neither is 1, so PyTorch cannot broadcast; `torch.ones(2, 1, 5)` would work.")
    return _correct(f"{product} and {summed}, and (2, 4, 5) + (2, 5) cannot broadcast (4 against 2).")


def check_00_2(answer):
    """answer = (dL/dw, dL/db) for x = -0.5, y = 0, w = 1.0, b = 0.5"""
    if answer is None:
        return _not_attempted("set `answer = (dL_dw, dL_db)`")
    if not _pair(answer):
        return _off("The answer should be a pair of numbers: `(dL_dw, dL_db)`.")
    x, y = torch.tensor([-0.5]), torch.tensor([0.0])
    w = torch.tensor([1.0], requires_grad=True)
    b = torch.tensor([0.5], requires_grad=True)
    with torch.enable_grad():  # the checker works even where a notebook switched autograd off
        F.binary_cross_entropy(torch.sigmoid(x * w + b), y).backward()
    gw, gb = w.grad.item(), b.grad.item()
    aw, ab = _number(answer[0]), _number(answer[1])
    if aw is None or ab is None:
        return _off("Both entries should be numbers (floats or one-element tensors).")
    if _close(aw, gw, 1e-3) and _close(ab, gb, 1e-3):
        return _correct(f"dL/dw = {_fmt(gw)} and dL/db = {_fmt(gb)}: dL/dz = a - y = 0.5, times x = -0.5 and times 1.")
    if _close(aw, -gw, 1e-3) and _close(ab, -gb, 1e-3):
        return _off("Both signs are flipped: dL/dz is a - y (prediction minus target), not y - a.")
    if _close(aw, gb, 1e-3) and _close(ab, gw, 1e-3):
        return _off("The two values are swapped: dL/dw carries the factor x, dL/db the factor 1.")
    if _close(ab, gb, 1e-3):
        return _off("dL/db is right. For dL/dw, multiply dL/dz = a - y by dz/dw = x = -0.5.")
    return _off("Start from z = w·x + b = 0, so a = σ(0) = 0.5; then dL/dz = a - y.")


def check_00_3(answer):
    """answer = w.grad after two forward/backward passes without zeroing (x = 1.1, y = 1, w = 2.2, b = 0)"""
    if answer is None:
        return _not_attempted("set `answer` to `w.grad` (or its value) after the two backward passes")
    w = torch.tensor([2.2], requires_grad=True)
    with torch.enable_grad():
        F.binary_cross_entropy(torch.sigmoid(torch.tensor([1.1]) * w), torch.tensor([1.0])).backward()
    single = w.grad.item()
    value = _number(answer)
    if value is None:
        return _off("The answer should be one number (or the one-element tensor `w.grad`).")
    if _close(value, 2 * single, 1e-3):
        return _correct(f"{_fmt(2 * single)}, twice the single gradient {_fmt(single)}: backward() adds to .grad.")
    if _close(value, single, 1e-3):
        return _off("That is the gradient of a single pass. Did `w.grad` get reset between the two passes "
                    "(or did you create a fresh `w`)? Run both backward passes on the same `w`.")
    return _off("Compute the single-pass gradient first and see how two passes relate to it; check the inputs "
                "x = 1.1, y = 1, w = 2.2, b = 0.")


# ----------------------------------------------------------------------------- 01 · the placeholder GPT


def _dummy_count(n_layers):
    from .config import GPT_CONFIG_124M
    from .dummy import DummyGPTModel

    with torch.device("meta"):
        model = DummyGPTModel({**GPT_CONFIG_124M, "n_layers": n_layers})
    return sum(p.numel() for p in model.parameters())


def check_01_1(answer):
    """answer = (parameters with n_layers = 12, parameters with n_layers = 48)"""
    if answer is None:
        return _not_attempted("set `answer = (count_with_12_layers, count_with_48_layers)`")
    if not _pair(answer):
        return _off("The answer should be a pair of counts: `(with 12 layers, with 48 layers)`.")
    expected = (_dummy_count(12), _dummy_count(48))
    got = (_number(answer[0]), _number(answer[1]))
    if got == expected:
        return _correct(f"{expected[0]:,} both times: the placeholder blocks own no parameters.")
    if got[0] == expected[0]:
        return _off("12 layers is right. Does a `DummyTransformerBlock` own any parameters? Count again with 48.")
    return _off(f"Count with `sum(p.numel() for p in model.parameters())`; the embeddings and the output head "
                f"are all there is. You wrote {answer}.")


def check_01_2(answer):
    """answer = the exception (or its class) that the model raises for 1,025 tokens"""
    if answer is None:
        return _not_attempted("catch the error with `except Exception as err:` and set `answer = err`")
    if _is_exception_class(answer, ValueError):
        return _correct("`check_token_ids` raises a ValueError: there is no position embedding for position 1,024.")
    if _is_exception_class(answer, IndexError):
        return _off("An IndexError is what PyTorch's embedding lookup would raise *without* the model's input "
                    "check. Call the model itself, whose check fails first, with a clearer message.")
    return _off(f"The model should refuse the input before any computation; you got {answer!r}. "
                "Feed `torch.zeros(1, 1025, dtype=torch.long)` to the model of this notebook.")


def check_01_3(answer):
    """answer = the shape of the logits for "Every effort moves you forward" as a batch of one"""
    if answer is None:
        return _not_attempted("set `answer` to the shape you predict, e.g. `(1, 2, 3)`")
    from .tokenizer import get_tokenizer

    n_tokens = len(get_tokenizer().encode("Every effort moves you forward"))
    expected = (1, n_tokens, 50257)
    got = _shape(answer)
    if got == expected:
        return _correct(f"{expected}: one text, {n_tokens} positions, one score per vocabulary entry.")
    if got == expected[1:]:
        return _off("Almost: the model always works on a batch, so there is a leading batch dimension of 1.")
    if got is not None and len(got) == 3 and got[1] != n_tokens:
        return _off("Count the tokens again: encode the text with the tokenizer and take the length of the list.")
    return _off("The logits have three dimensions: (batch, positions, vocabulary size).")


# ----------------------------------------------------------------------------- 02 · layer normalization


def check_02_1(answer):
    """answer = the four normalized values of [1, 2, 3, 4] (ignoring eps)"""
    if answer is None:
        return _not_attempted("set `answer` to the four values you computed, e.g. `[-1.0, 0.0, 0.5, 1.0]`")
    v = torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    expected = (v - v.mean()) / v.var(unbiased=False).sqrt()
    try:
        got = torch.as_tensor(answer, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        return _off("The answer should be four numbers (a list or a tensor).")
    if got.numel() != 4:
        return _off(f"Expected four values, one per input number; got {got.numel()}.")
    if torch.allclose(got, expected, atol=1e-3):
        return _correct("About [-1.3416, -0.4472, 0.4472, 1.3416]: mean 2.5, variance 1.25.")
    unbiased = (v - v.mean()) / v.var(unbiased=True).sqrt()
    if torch.allclose(got, unbiased, atol=1e-3):
        return _off("You divided by n - 1 = 3 (the unbiased variance). LayerNorm uses the biased one, "
                    "dividing the squared deviations by n = 4.")
    if torch.allclose(got, v - v.mean(), atol=1e-3):
        return _off("You subtracted the mean; now divide by the standard deviation, the square root of 1.25.")
    if torch.allclose(got, (v - v.mean()) / v.var(unbiased=False), atol=1e-3):
        return _off("You divided by the variance (1.25); divide by its square root instead.")
    return _off("Subtract the mean (2.5), then divide by the standard deviation, √(mean of squared deviations).")


def check_02_2(answer):
    """answer = the number of parameters in all layer norms of GPT-2 small"""
    if answer is None:
        return _not_attempted("set `answer` to the number of parameters")
    from .config import GPT_CONFIG_124M
    from .layernorm import LayerNorm

    per_norm = sum(p.numel() for p in LayerNorm(GPT_CONFIG_124M["emb_dim"]).parameters())
    n_layers = GPT_CONFIG_124M["n_layers"]
    expected = (2 * n_layers + 1) * per_norm
    got = _number(answer)
    if got == expected:
        return _correct(f"{expected:,}: 25 layer norms × {per_norm:,} (scale and shift, 768 each).")
    if got == 2 * n_layers * per_norm:
        return _off("That is the norms inside the blocks. Do not forget the final norm before the output head.")
    if got == (2 * n_layers + 1) * per_norm // 2:
        return _off("Each LayerNorm has two learned vectors of 768 values: `scale` and `shift`.")
    return _off("Count the layer norms (two per block, twelve blocks, one final) and their parameters each.")


def check_02_3(answer):
    """answer = the largest absolute difference between LayerNorm(10 * x + 3) and LayerNorm(x)"""
    if answer is None:
        return _not_attempted("set `answer` to the largest absolute difference, e.g. `(a - b).abs().max()`")
    from .layernorm import LayerNorm

    torch.manual_seed(123)
    x = torch.randn(2, 4, 768) * 3 + 5
    ln = LayerNorm(768)
    with torch.no_grad():
        gap = (ln(10 * x + 3) - ln(x)).abs().max().item()
    got = _number(answer)
    if got is None:
        return _off("The answer should be one number: the largest absolute difference.")
    if isinstance(answer, int) or (got == 0 and gap > 0):
        return _off("Not exactly 0: compute the difference with `(a - b).abs().max()`; in float32, `eps` leaves "
                    "a tiny trace.")
    if 0 <= got <= 1e-4:
        return _correct("A difference far below 1e-4: only `eps`, added to a variance 100 times larger, "
                        "breaks the symmetry.")
    if got > 1:
        return _off("That difference is large. Compare LayerNorm(10 * x + 3) with LayerNorm(x) itself, not with "
                    "10 * LayerNorm(x) + 3: the normalization removes the shift and the scale.")
    return _off("Expected a tiny number, far below 1e-4; check that both sides use the same `x`.")


# ----------------------------------------------------------------------------- 03 · GELU and feed-forward


def check_03_1(answer):
    """answer = the number of parameters in one feed-forward network of GPT-2 XL"""
    if answer is None:
        return _not_attempted("set `answer` to the number of parameters")
    from .config import GPT_CONFIG_1558M
    from .feedforward import FeedForward

    with torch.device("meta"):
        ffn = FeedForward(GPT_CONFIG_1558M)
    expected = sum(p.numel() for p in ffn.parameters())
    d = GPT_CONFIG_1558M["emb_dim"]
    got = _number(answer)
    if got == expected:
        return _correct(f"{expected:,} = 8·d² + 5·d with d = {d}.")
    if got == 8 * d * d:
        return _off("Those are the two weight matrices. Each linear layer also has a bias: 4·d and d more.")
    if got == 8 * 768 * 768 + 5 * 768:
        return _off("That is GPT-2 small's feed-forward network; XL has emb_dim = 1600.")
    return _off("Two linear layers, d → 4d and 4d → d, each with a weight matrix and a bias.")


def check_03_2(answer):
    """answer = (slope of GELU at -1, slope of GELU at -2), computed with autograd"""
    if answer is None:
        return _not_attempted("set `answer = (slope_at_minus_1, slope_at_minus_2)`")
    if not _pair(answer):
        return _off("The answer should be a pair: GELU's slope at -1 and at -2.")
    from .feedforward import GELU

    pts = torch.tensor([-1.0, -2.0], requires_grad=True)
    with torch.enable_grad():
        GELU()(pts).sum().backward()
    expected = pts.grad.tolist()
    if _close(answer[0], expected[0], 1e-3) and _close(answer[1], expected[1], 1e-3):
        return _correct(f"About {_fmt(expected[0])} and {_fmt(expected[1])}: small but not zero, where ReLU's "
                        "slope is exactly 0. (Try -5: GELU's slope fades to about -0.0000015.)")
    with torch.no_grad():
        values = GELU()(torch.tensor([-1.0, -2.0])).tolist()
    if _close(answer[0], values[0], 1e-3) and _close(answer[1], values[1], 1e-3):
        return _off("Those are GELU's values at -1 and -2, not its slopes. Call backward() and read `.grad`.")
    if _close(answer[0], 0.0, 1e-6) and _close(answer[1], 0.0, 1e-6):
        return _off("Zero slopes are ReLU's. Compute GELU's with autograd.")
    return _off("Mark the points with `requires_grad=True`, sum GELU's outputs, call backward() and read `.grad`.")


def _ex03_3_layers():
    torch.manual_seed(123)
    return nn.Sequential(nn.Linear(4, 16), nn.Identity(), nn.Linear(16, 4))


def check_03_3(answer):
    """answer = (W, b): the single linear layer equal to Linear(4, 16) -> Identity -> Linear(16, 4), seed 123"""
    if answer is None:
        return _not_attempted("set `answer = (W, b)`, the merged weight (4, 4) and bias (4,)")
    if not _pair(answer):
        return _off("The answer should be a pair `(W, b)`: the merged weight and bias.")
    layers = _ex03_3_layers()
    with torch.no_grad():
        W = layers[2].weight @ layers[0].weight
        b = layers[2].weight @ layers[0].bias + layers[2].bias
    got_W, got_b = (torch.as_tensor(a).detach().cpu().float() if isinstance(a, torch.Tensor) else None for a in answer)
    if got_W is None or got_b is None:
        return _off("Both W and b should be tensors.")
    if got_W.shape != W.shape:
        if got_W.shape == (16, 16) or got_W.shape == (4, 16):
            return _off(f"W has shape {tuple(got_W.shape)}; the merged layer maps 4 numbers to 4, so W is (4, 4): "
                        "the second weight times the first, `W2 @ W1`.")
        return _off(f"W should have shape (4, 4); yours has {tuple(got_W.shape)}.")
    if not torch.allclose(got_W, W, atol=1e-5):
        if torch.allclose(got_W, (layers[0].weight.T @ layers[2].weight.T).detach(), atol=1e-5):
            return _off("W is transposed: nn.Linear stores (out, in), so the merged weight is `W2 @ W1`.")
        return _off("W is off. Build the layers right after `torch.manual_seed(123)` and use `W2 @ W1`.")
    if torch.allclose(got_b, layers[2].bias.detach(), atol=1e-5):
        return _off("W is right. The bias is not just b2: the first layer's bias also passes through W2, "
                    "so b = W2 @ b1 + b2.")
    if not torch.allclose(got_b, b, atol=1e-5):
        return _off("W is right; the bias should be W2 @ b1 + b2.")
    return _correct("W = W2 @ W1 and b = W2 @ b1 + b2: without an activation, two layers are one.")


# ----------------------------------------------------------------------------- 04 · shortcut connections


def _first_layer_gradient(layer_sizes, use_shortcut):
    from .shortcut import ExampleDeepNeuralNetwork, layer_gradients

    torch.manual_seed(123)
    model = ExampleDeepNeuralNetwork(layer_sizes, use_shortcut)
    with torch.enable_grad():
        grads = layer_gradients(model, torch.tensor([[1.0, 0.0, -1.0]]), torch.tensor([[0.0]]))
    return grads["layers.0.0.weight"]


def check_04_1(answer):
    """answer = how many orders of magnitude (log10 of the ratio) the first-layer gradients are apart"""
    if answer is None:
        return _not_attempted("set `answer` to log10(with shortcuts / without shortcuts)")
    deep = [3] * 10 + [1]
    expected = math.log10(_first_layer_gradient(deep, True) / _first_layer_gradient(deep, False))
    shallow = math.log10(_first_layer_gradient([3, 3, 3, 3, 3, 1], True)
                         / _first_layer_gradient([3, 3, 3, 3, 3, 1], False))
    got = _number(answer)
    if got is None:
        return _off("The answer should be one number: the base-10 logarithm of the ratio.")
    if _close(got, expected, 0.1):
        return _correct(f"About {expected:.1f} orders of magnitude, against {shallow:.1f} for five layers: "
                        "every extra layer multiplies in another small factor.")
    if _close(got, shallow, 0.1):
        return _off("That is the five-layer network of the notebook. Use `[3] * 10 + [1]`.")
    if _close(got, -expected, 0.1):
        return _off("The sign is flipped: divide the gradient *with* shortcuts by the one without.")
    if _close(got, 10 ** expected, 10 ** expected * 0.05):
        return _off("That is the ratio itself; take its base-10 logarithm (`math.log10`).")
    return _off("Seed 123 before building each network, and compare the 'layers.0.0.weight' entries.")


def check_04_2(answer):
    """answer = dy/dx of y = x + tanh(x) at x = 2"""
    if answer is None:
        return _not_attempted("set `answer` to dy/dx at x = 2")
    x = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        (x + torch.tanh(x)).backward()
    expected = x.grad.item()
    got = _number(answer)
    if got is None:
        return _off("The answer should be one number.")
    if _close(got, expected, 1e-3):
        return _correct(f"{_fmt(expected)}: the shortcut's 1 plus tanh's small slope {_fmt(expected - 1)}.")
    if _close(got, expected - 1, 1e-3):
        return _off("That is the slope of tanh alone. The `+ x` path adds exactly 1.")
    return _off("Differentiate both terms: d(x)/dx = 1 and d(tanh x)/dx = 1 - tanh²(x).")


# ----------------------------------------------------------------------------- 05 · multi-head attention


def check_05_1(answer):
    """answer = (parameters without qkv bias, parameters with qkv bias) of GPT-2 small's MultiHeadAttention"""
    if answer is None:
        return _not_attempted("set `answer = (without_qkv_bias, with_qkv_bias)`")
    if not _pair(answer):
        return _off("The answer should be a pair of counts: `(without qkv bias, with qkv bias)`.")
    from .attention import MultiHeadAttention

    counts = []
    for qkv_bias in (False, True):
        with torch.device("meta"):
            att = MultiHeadAttention(768, 768, context_length=1024, dropout=0.1, num_heads=12, qkv_bias=qkv_bias)
        counts.append(sum(p.numel() for p in att.parameters()))
    got = (_number(answer[0]), _number(answer[1]))
    if got == tuple(counts):
        return _correct(f"{counts[0]:,} and {counts[1]:,}; the number of heads does not change the count.")
    if got[0] == 4 * 768 * 768:
        return _off("The four weight matrices are right, but the output projection also has a bias (768).")
    if got[0] == counts[0]:
        return _off("Without bias it is right. With `qkv_bias=True` each of the three projections gains 768 biases.")
    if got[0] is not None and got[0] % 12 == 0 and got[0] // 12 in counts:
        return _off("Heads do not add parameters: they slice the same matrices.")
    return _off("Count three 768 × 768 projections (query, key, value) plus the output projection with its bias.")


def check_05_2(answer):
    """answer = the shape of the attention weights of a 4-head MultiHeadAttention on our (1, 6, 8) input"""
    if answer is None:
        return _not_attempted("set `answer` to the shape of `mha4.attention_weights(x)`")
    from .attention import MultiHeadAttention

    mha = MultiHeadAttention(8, 8, context_length=1024, dropout=0.0, num_heads=4)
    with torch.no_grad():
        expected = tuple(mha.attention_weights(torch.zeros(1, 6, 8)).shape)
    got = _shape(answer)
    if got == expected:
        return _correct(f"{expected}: batch, heads, queries, keys. Each head has its own 6 × 6 weights.")
    if got == (1, 6, 6):
        return _off("One 6 × 6 matrix per *head*: there is a heads dimension after the batch.")
    if got == (4, 6, 6):
        return _off("Heads are right; keep the batch dimension in front.")
    if got == (1, 4, 6, 2):
        return _off("That is the shape of one head's queries or context vectors; the weights compare every "
                    "query with every key.")
    return _off("The weights have shape (batch, n_heads, seq, seq).")


def check_05_3(answer):
    """answer = the exception (or its class) raised by `.view` without `.contiguous()`"""
    if answer is None:
        return _not_attempted("catch the error with `except Exception as err:` and set `answer = err`")
    try:
        torch.zeros(1, 2, 3, 4).transpose(1, 2).view(1, 3, 8)
        expected = None
    except RuntimeError as err:
        expected = type(err)
    if _is_exception_class(answer, expected):
        return _correct("A RuntimeError: after the transpose the numbers are not in row order in memory, and "
                        "`view` can only reinterpret memory. `.contiguous()` or `.reshape` make a copy first.")
    return _off(f"Run `context_h.transpose(1, 2).view(batch, n, d_out)` and catch what it raises; "
                f"you gave {answer!r}.")


def _ablation_scores():
    torch.manual_seed(123)
    q, k = torch.randn(6, 64), torch.randn(6, 64)
    mask = torch.triu(torch.ones(6, 6, dtype=torch.bool), diagonal=1)
    return (q @ k.T).masked_fill(mask, -torch.inf)


def _mean_entropy(weights):
    return (-torch.special.xlogy(weights, weights).sum(dim=-1)).mean().item()


def check_05_4(answer):
    """answer = (mean attention entropy with the 1/√d scaling, without it), in nats"""
    if answer is None:
        return _not_attempted("set `answer = (entropy_with_scaling, entropy_without_scaling)`")
    if not _pair(answer):
        return _off("The answer should be a pair: `(entropy with scaling, entropy without)`.")
    scores = _ablation_scores()
    with_scaling = _mean_entropy(torch.softmax(scores / 64**0.5, dim=-1))
    without = _mean_entropy(torch.softmax(scores, dim=-1))
    a, b = _number(answer[0]), _number(answer[1])
    if a is None or b is None:
        return _off("Both entries should be numbers.")
    if _close(a, with_scaling, 1e-3) and _close(b, without, 1e-3):
        return _correct(f"{with_scaling:.4f} nats with the scaling, {without:.4f} without: unscaled scores "
                        "make the softmax nearly one-hot, so each query looks at almost a single key "
                        "(and its gradient nearly vanishes).")
    if _close(a, without, 1e-3) and _close(b, with_scaling, 1e-3):
        return _off("The two values are swapped: the first should be *with* the division by √64 = 8.")
    ln2 = math.log(2)
    if _close(a, with_scaling / ln2, 1e-3) and _close(b, without / ln2, 1e-3):
        return _off("These are in bits (log base 2). Use the natural logarithm, e.g. `torch.special.xlogy(w, w)`.")
    return _off("Seed 123, q and k = torch.randn(6, 64) each, the causal mask, softmax over the last dimension; "
                "the entropy of a row is -Σ w·ln(w) (0·ln 0 counts as 0), averaged over the 6 rows.")


def check_05_5(answer):
    """answer = how many of the first 5 positions change when the last token changes, with the mask removed"""
    if answer is None:
        return _not_attempted("set `answer` to the number of earlier positions whose output changed")
    from .attention import MultiHeadAttention

    torch.manual_seed(123)
    mha = MultiHeadAttention(8, 8, context_length=6, dropout=0.0, num_heads=2).eval()
    torch.manual_seed(123)
    x = torch.rand(1, 6, 8)
    changed = x.clone()
    changed[0, -1] = 0.0
    with torch.no_grad():
        mha.mask.fill_(False)
        moved = ~torch.isclose(mha(x)[0, :5], mha(changed)[0, :5], atol=1e-6).all(dim=-1)
    expected = int(moved.sum())
    got = _number(answer)
    if got == expected:
        return _correct(f"All {expected} earlier positions change: without the mask every token reads the last one, "
                        "so the causality check fails, and in training each position could read the answer.")
    if got == 0:
        return _off("0 is what the *causal* module gives. Remove the mask first (`mha.mask.fill_(False)`), then "
                    "compare the outputs again.")
    return _off("Compare positions 0 to 4 of the two outputs with `torch.isclose(..., atol=1e-6)` and count the "
                "positions where any number changed.")


# ----------------------------------------------------------------------------- 06 · the transformer block


def check_06_1(answer):
    """answer = the number of parameters in one GPT-2 medium block"""
    if answer is None:
        return _not_attempted("set `answer` to the number of parameters")
    from .block import TransformerBlock
    from .config import GPT_CONFIG_124M, GPT_CONFIG_355M

    def count(cfg):
        with torch.device("meta"):
            return sum(p.numel() for p in TransformerBlock(cfg).parameters())

    expected = count(GPT_CONFIG_355M)
    got = _number(answer)
    if got == expected:
        return _correct(f"{expected:,} = 12·d² + 10·d with d = 1024: 4/3 as wide, about 1.78 times the parameters.")
    if got == count(GPT_CONFIG_124M):
        return _off("That is GPT-2 small's block (d = 768). Build it from `GPT_CONFIG_355M`.")
    d = GPT_CONFIG_355M["emb_dim"]
    if got == 12 * d * d:
        return _off("The weight matrices are right; add the biases and the layer norms' scale and shift (10·d).")
    return _off("Build `TransformerBlock(GPT_CONFIG_355M)` inside `with torch.device('meta'):` and count.")


def _block_causality():
    """(first three outputs unchanged?, last unchanged?) for a GPT-2 block when the last of 4 inputs changes."""
    from .block import TransformerBlock
    from .config import GPT_CONFIG_124M

    torch.manual_seed(123)
    block = TransformerBlock(GPT_CONFIG_124M).eval()
    x = torch.rand(1, 4, 768)
    changed = x.clone()
    changed[:, -1, :] = torch.rand(768)
    with torch.no_grad():
        before, after = block(x), block(changed)
    return (torch.allclose(before[:, :3], after[:, :3], atol=1e-5),
            torch.allclose(before[:, 3], after[:, 3], atol=1e-5))


def check_06_2(answer):
    """answer = (first three tokens unchanged?, last token unchanged?) after changing the last token"""
    if answer is None:
        return _not_attempted("set `answer = (first_three_unchanged, last_unchanged)`, two booleans")
    if not _pair(answer) or None in (_bool(answer[0]), _bool(answer[1])):
        return _off("The answer should be a pair of booleans: `(first three unchanged, last unchanged)`.")
    got = (_bool(answer[0]), _bool(answer[1]))
    if got == _block_causality():
        return _correct("The first three outputs do not move and the last one does: nothing leaks backwards.")
    if got == (True, True):
        return _off("If even the last output did not change, the input was not changed: overwrite "
                    "`x_changed[:, -1, :]` on a *clone* of x and run the block on both.")
    if got[0] is False:
        return _off("The earlier outputs should not move. Is the block in eval mode (dropout off) and the "
                    "comparison limited to positions 0 to 2 (`[:, :3]`) with a tolerance?")
    return _off("Compare `before[:, :3]` with `after[:, :3]`, and `before[:, 3]` with `after[:, 3]`.")


def check_06_3(answer):
    """answer = the tiny TransformerBlock with the last layer of both branches zeroed"""
    if answer is None:
        return _not_attempted("set `answer = tiny`, your block with the two layers zeroed")
    from .block import TransformerBlock

    if not isinstance(answer, TransformerBlock):
        return _off("The answer should be the block itself (`answer = tiny`): the checker runs it on inputs "
                    "of its own.")
    width = answer.att.out_proj.in_features
    z = torch.rand(3, 4, width, generator=torch.Generator().manual_seed(0)) * 4 - 2  # 3 sequences of 4 tokens
    was_training = answer.training
    try:
        with torch.no_grad():
            gap = (answer.eval()(z) - z).abs().max().item()
    except Exception as err:  # e.g. a layer replaced by one of another shape
        return _off(f"Running your block on 3 sequences of 4 tokens failed ({type(err).__name__}: {err}). Zero the "
                    "existing layers' weights and biases in place (`.zero_()`) instead of replacing the layers.")
    finally:
        answer.train(was_training)  # the learner's block keeps its mode
    if gap == 0:
        return _correct("Exactly 0 on the checker's inputs too: both branches output zeros, so the block computes "
                        "x + 0 + 0.")
    return _off(f"On the checker's inputs the block changes its input by up to {gap:.3g}. Zero the weight *and* "
                "the bias of both `att.out_proj` and `ff.layers[2]` (inside `torch.no_grad()`).")


def _update_ratio(block, x):
    with torch.no_grad():
        def update(z):
            return (block(z) - z).norm(dim=-1).mean()
        return (update(100 * x) / update(x)).item()


def check_06_4(answer):
    """answer = (update ratio with LayerNorm, update ratio without), for inputs 100·x against x"""
    if answer is None:
        return _not_attempted("set `answer = (ratio_with_layernorm, ratio_without_layernorm)`")
    if not _pair(answer):
        return _off("The answer should be a pair of ratios: `(with LayerNorm, without)`.")
    from .block import TransformerBlock
    from .config import GPT_CONFIG_124M

    torch.manual_seed(123)
    x = torch.rand(2, 4, 768)
    torch.manual_seed(123)
    block = TransformerBlock(GPT_CONFIG_124M).eval()
    with_ln = _update_ratio(block, x)
    block.norm1, block.norm2 = nn.Identity(), nn.Identity()
    without = _update_ratio(block, x)
    a, b = _number(answer[0]), _number(answer[1])
    if a is None or b is None:
        return _off("Both entries should be numbers.")
    if _close(a, with_ln, 0.01) and _close(b, without, 0.02 * without):
        return _correct(f"About {with_ln:.2f} with LayerNorm and {without:.0f} without: normalized, a block adds the "
                        "same update whatever the scale of the stream; without it, the update grows with the input.")
    if _close(a, without, 0.02 * without) and _close(b, with_ln, 0.01):
        return _off("The two ratios are swapped: the first is the block as built, with its LayerNorms.")
    return _off("Seed 123 before x = torch.rand(2, 4, 768) and again before the block; the update is "
                "block(z) - z, its size the mean L2 norm over tokens; compare z = 100 * x with z = x.")


# ----------------------------------------------------------------------------- 07 · the GPT model


def check_07_1(answer):
    """answer = (first three positions unchanged?, last position unchanged?) after replacing the last token"""
    if answer is None:
        return _not_attempted("set `answer = (first_three_unchanged, last_unchanged)`, two booleans")
    if not _pair(answer) or None in (_bool(answer[0]), _bool(answer[1])):
        return _off("The answer should be a pair of booleans: `(first three unchanged, last unchanged)`.")
    got = (_bool(answer[0]), _bool(answer[1]))
    if got == (True, False):
        return _correct("Only the last position's logits change: the whole model is causal, block after block.")
    if got == (True, True):
        return _off("The last position should change too. Replace the last id on a *clone* of the ids.")
    return _off("The first three positions should not move. Use eval mode and compare `a[:, :3]` with "
                "`b[:, :3]` with a tolerance of 1e-4.")


def check_07_2(answer):
    """answer = is the last position's output, without positions, unchanged by the swap after 12 blocks?"""
    if answer is None:
        return _not_attempted("set `answer` to True or False")
    if _bool(answer) is None:
        return _off("The answer should be True or False (the result of `torch.allclose`).")
    if _bool(answer) is False:
        return _correct("It changes: from the second block on, the earlier positions' inputs depend on their own "
                        "causal view, so order leaks in through the mask. GPT-2 still gives positions explicitly.")
    return _off("Check again with n_blocks=12: after the first block the earlier tokens' vectors differ between "
                "the two orders, because each one saw a different prefix.")


def check_07_3(answer):
    """answer = (logits shape, number of parameters, share of token embedding + output head)"""
    if answer is None:
        return _not_attempted("set `answer = (logits_shape, total_parameters, share)`")
    if not _pair(answer, 3):
        return _off("The answer should hold three things: `(logits shape, parameters, share)`.")
    from .config import GPT_CONFIG_124M
    from .model import GPTModel

    cfg = {**GPT_CONFIG_124M, "context_length": 64, "emb_dim": 128, "n_heads": 4, "n_layers": 2}
    with torch.device("meta"):
        small = GPTModel(cfg)
    shape = (3, 6, small.out_head.out_features)  # (batch, seq) from the input, scores from the head
    total = sum(p.numel() for p in small.parameters())
    share = (small.tok_emb.weight.numel() + small.out_head.weight.numel()) / total
    if _shape(answer[0]) != shape:
        return _off(f"The logits' shape: batch and sequence come from the input (3, 6), the last dimension from "
                    f"the vocabulary. You wrote {answer[0]}.")
    if _number(answer[1]) != total:
        return _off("The shape is right; count the parameters with `sum(p.numel() for p in small.parameters())`.")
    if _close(answer[2], share * 100, 0.1):
        return _off("Give the share as a fraction between 0 and 1, not a percentage.")
    if not _close(answer[2], share, 1e-3):
        return _off("Shape and count are right. The share is (token embedding + output head) / total.")
    return _correct(f"{shape}, {total:,} parameters, {share:.4f} of them in the two vocabulary matrices.")


# ----------------------------------------------------------------------------- 08 · counting parameters


def check_08_1(answer):
    """answer = (tied count of the small model, tied count of XL), both with qkv_bias=True"""
    if answer is None:
        return _not_attempted("set `answer = (small_tied, xl_tied)`")
    if not _pair(answer):
        return _off("The answer should be a pair: `(small model, XL model)`, tied, with qkv biases.")
    from .config import GPT2_CONFIGS
    from .params import count_parameters_tied, meta_model

    def tied(name, qkv_bias):
        return count_parameters_tied(meta_model({**GPT2_CONFIGS[name], "qkv_bias": qkv_bias}))

    names = ("gpt2-small (124M)", "gpt2-xl (1558M)")
    expected = tuple(tied(n, True) for n in names)
    got = (_number(answer[0]), _number(answer[1]))
    if got == expected:
        return _correct(f"{expected[0]:,} and {expected[1]:,}: the released checkpoints' sizes.")
    if got == tuple(tied(n, False) for n in names):
        return _off("Those are the counts without qkv biases. Build the configs with `qkv_bias=True`.")
    return _off("Use `count_parameters_tied(meta_model({**cfg, 'qkv_bias': True}))` for both sizes.")


def check_08_2(answer):
    """answer = (parameters gained with context 2048, list of the breakdown entries that change)"""
    if answer is None:
        return _not_attempted("set `answer = (gain, [names of the parts that change])`")
    if not _pair(answer):
        return _off("The answer should be a pair: `(gain, list of changed parts)`.")
    from .config import GPT_CONFIG_124M
    from .params import meta_model, parameter_breakdown

    before = parameter_breakdown(meta_model(GPT_CONFIG_124M))
    after = parameter_breakdown(meta_model({**GPT_CONFIG_124M, "context_length": 2048}))
    gain = sum(after.values()) - sum(before.values())
    changed = [k for k in before if before[k] != after[k]]
    got_gain = _number(answer[0])
    if got_gain is not None and got_gain > gain:
        return _off("The causal mask grows too, but it is a buffer, not a parameter: it is never trained and "
                    "not counted. Only the position table grows.")
    if got_gain != gain:
        return _off(f"1024 more positions, each a row of 768 numbers. You wrote {answer[0]}.")
    names = list(answer[1]) if isinstance(answer[1], (set, frozenset)) else _words(answer[1])
    if names is None or not all(isinstance(n, str) for n in names):
        return _off("The second entry should be a list of entry names of `parameter_breakdown`, e.g. "
                    "`['name']` (a list, even for one name).")
    if sorted(names) != sorted(changed):
        return _off(f"The gain is right. Which entries of `parameter_breakdown` differ? (Expected {len(changed)}.)")
    return _correct(f"{gain:,} more, all in the {changed[0]}.")


def check_08_3(answer):
    """answer = a function cfg -> untied total parameters, without building a model"""
    if answer is None:
        return _not_attempted("set `answer = total_from_config`, your function (not its result)")
    if not callable(answer):
        return _off("The answer should be the function itself, e.g. `answer = total_from_config`.")
    from .config import GPT2_CONFIGS
    from .params import count_parameters, meta_model

    for name, cfg in GPT2_CONFIGS.items():
        for qkv_bias in (False, True):
            c = {**cfg, "qkv_bias": qkv_bias}
            expected, got = count_parameters(meta_model(c)), answer(c)
            if got == expected:
                continue
            d, v, n = c["emb_dim"], c["vocab_size"], c["n_layers"]
            gap = expected - got if isinstance(got, int) else None
            hints = {2 * d: "the final norm (2·d)", d * v: "the output head (d·vocab)",
                     n * 3 * d: "the qkv biases (3·d per block when qkv_bias is True)",
                     n * d: "the output projection's bias (d per block)", n * 4 * d: "the layer norms (4·d per block)",
                     c["context_length"] * d: "the position embedding"}
            missing = hints.get(gap, "a part of the model")
            return _off(f"For {name} with qkv_bias={qkv_bias} the formula gives {got!r}, the model {expected:,}; "
                        f"the difference looks like {missing}.")
    return _correct("Your formula matches the model for all four sizes, with and without qkv biases.")


# ----------------------------------------------------------------------------- 09 · generating text


def _generated_after(prompt, new_tokens):
    from .config import GPT_CONFIG_124M
    from .generate import generate_text_simple
    from .model import GPTModel
    from .tokenizer import get_tokenizer, text_to_token_ids

    torch.manual_seed(123)
    model = GPTModel(GPT_CONFIG_124M).eval()
    ids = text_to_token_ids(prompt, get_tokenizer())
    with torch.no_grad():
        return generate_text_simple(model, ids, new_tokens, GPT_CONFIG_124M["context_length"])


def check_09_1(answer):
    """answer = the (2, 7) tensor generated from the batch "Hello, I am" + "Every effort moves you" """
    if answer is None:
        return _not_attempted("set `answer = batch_out`, the generated (2, 7) tensor")
    from .tokenizer import get_tokenizer, text_to_token_ids

    if not isinstance(answer, torch.Tensor):
        return _off("The answer should be the tensor of ids that `generate_text_simple` returned.")
    answer = answer.cpu()
    if tuple(answer.shape) != (2, 7):
        return _off(f"Expected shape (2, 7): two texts of 4 tokens plus 3 new ones; got {tuple(answer.shape)}.")
    tokenizer = get_tokenizer()
    prompts = torch.cat([text_to_token_ids(t, tokenizer) for t in ("Hello, I am", "Every effort moves you")])
    if not torch.equal(answer[:, :4], prompts):
        return _off("The first four ids of each row should be the two prompts, in this order.")
    if not torch.equal(answer[:1], _generated_after("Hello, I am", 3)):
        return _off("Row 0 differs from generating from 'Hello, I am' alone. Use the notebook's model "
                    "(seed 123, eval mode) for both runs.")
    return _correct("Row 0 is exactly the single run: the rows of a batch do not influence each other.")


def check_09_2(answer):
    """answer = (input lengths with the tiny model, input lengths with GPT-2 124M), 6 steps each"""
    if answer is None:
        return _not_attempted("set `answer = (tiny_lengths, big_lengths)`, two lists")
    if not _pair(answer):
        return _off("The answer should be a pair of lists: `(tiny model, GPT-2 124M)`.")
    prompt_len, steps = 4, 6
    expected = ([min(prompt_len + s, 4) for s in range(steps)], [min(prompt_len + s, 1024) for s in range(steps)])
    got = (_ints(answer[0]), _ints(answer[1]))
    if None in got:
        return _off("The answer should be a pair of lists of ints, one length per step.")
    if got == expected:
        return _correct("The tiny model always reads its 4-token window; GPT-2 reads one more token each step.")
    if got == expected[::-1]:
        return _off("The two lists are swapped: the first is the tiny model (context 4).")
    if len(got[0]) != steps or len(got[1]) != steps:
        return _off("Each list should have one length per step: 6 steps, 6 lengths.")
    return _off("Record `args[0].shape[1]` in a forward pre-hook, on each model, while generating 6 tokens.")


def check_09_3(answer):
    """answer = (what max_new_tokens=0 returns, the error for context_size=2048)"""
    if answer is None:
        return _not_attempted("set `answer = (result_with_zero_new_tokens, err)`")
    if not _pair(answer):
        return _off("The answer should be a pair: `(returned tensor, the error)`.")
    from .tokenizer import get_tokenizer, text_to_token_ids

    prompt = text_to_token_ids("Hello, I am", get_tokenizer())
    result, err = answer
    if not isinstance(result, torch.Tensor) or not torch.equal(result.cpu(), prompt):
        return _off("With zero new tokens the function returns the prompt unchanged: the ids of 'Hello, I am'.")
    if not _is_exception_class(err, ValueError):
        return _off("A window larger than the model's 1024 positions is refused with a ValueError before any "
                    f"computation; you gave {err!r}.")
    if not isinstance(err, ValueError) or "context_size" not in str(err):
        return _off("Give the error itself, caught with `except Exception as err:` around the call with "
                    "context_size=2048 (its message names the argument), not a ValueError of your own.")
    return _correct("The prompt comes back unchanged, and context_size=2048 is refused with a clear ValueError.")


# ----------------------------------------------------------------------------- 11 · sampling

_TOY_WORDS = ["mat", "sofa", "floor", "bed", "roof", "chair", "table", "keyboard", "moon", "banana"]
_TOY_LOGITS = [4.0, 3.0, 2.8, 2.5, 2.0, 1.6, 1.0, 0.2, -1.0, -2.0]


def _kept(filtered):
    return [w for w, keep in zip(_TOY_WORDS, torch.isfinite(filtered).tolist()) if keep]


def check_11_1(answer):
    """answer = how many of 1,000 draws at T = 0.05 are "mat" (generator seeded with 123)"""
    if answer is None:
        return _not_attempted("set `answer` to the number of 'mat' draws")
    from .sampling import next_token_probs

    toy = torch.tensor(_TOY_LOGITS)

    def count(t):
        draws = torch.multinomial(next_token_probs(toy, temperature=t), 1000, replacement=True,
                                  generator=torch.Generator().manual_seed(123))
        return int((draws == 0).sum())

    expected = count(0.05)
    got = _number(answer)
    if got == expected:
        return _correct(f"{expected} of 1000: at T = 0.05 'sofa' is e^-20 times as likely as 'mat', so sampling "
                        "behaves like greedy decoding.")
    if got == count(1.0):
        return _off("That is the count at T = 1. Use `temperature=0.05`.")
    return _off("Draw 1000 samples from `next_token_probs(toy_logits, temperature=0.05)` with "
                "`torch.Generator().manual_seed(123)` and count the zeros ('mat' is id 0).")


def check_11_2(answer):
    """answer = (words kept by top_p=0.5, words kept by top_p=0.45)"""
    if answer is None:
        return _not_attempted("set `answer = (words_kept_at_0_5, words_kept_at_0_45)`, two lists of words")
    if not _pair(answer):
        return _off("The answer should be a pair of word lists.")
    from .sampling import top_p_filter

    toy = torch.tensor(_TOY_LOGITS)
    expected = (_kept(top_p_filter(toy, 0.5)), _kept(top_p_filter(toy, 0.45)))
    got = (_words(answer[0]), _words(answer[1]))
    if None in got:
        return _off("The answer should be a pair of lists of words, e.g. `(['mat'], ['mat'])`.")
    if got == expected:
        return _correct(f"{expected[0]} and {expected[1]}: a word stays while the mass *before* it is below top_p.")
    if got[0] == expected[0]:
        return _off("0.5 is right. At 0.45, 'mat' alone (0.4546) already reaches 0.45, so the next word's mass "
                    "before it is not below top_p any more.")
    if got[0] == expected[0][:1]:
        return _off("'sofa' has 0.4546 of mass before it, which is below 0.5, so it stays.")
    return _off("Use the 'mass before' column: keep a word while the probability of the words before it is "
                "below top_p.")


def check_11_3(answer):
    """answer = (words kept by top_p=0.9 at T = 1, at T = 2), as counts"""
    if answer is None:
        return _not_attempted("set `answer = (count_at_T1, count_at_T2)` for top_p=0.9")
    if not _pair(answer):
        return _off("The answer should be a pair of counts: top_p=0.9 at T = 1 and at T = 2.")
    from .sampling import top_p_filter

    toy = torch.tensor(_TOY_LOGITS)
    expected = (len(_kept(top_p_filter(toy, 0.9))), len(_kept(top_p_filter(toy / 2.0, 0.9))))
    got = (_number(answer[0]), _number(answer[1]))
    if got == expected:
        return _correct(f"{expected[0]} and {expected[1]} words: a higher temperature flattens the distribution, "
                        "so top-p needs more words to reach 90%. (Top-k keeps the same 3 words at any T.)")
    if got[0] == got[1]:
        return _off("For top-k the count would not change, but top-p works on probabilities: divide the logits by "
                    "T = 2 first and the distribution gets flatter.")
    return _off("Count the words kept by `top_p_filter(toy_logits, 0.9)` and by `top_p_filter(toy_logits / 2, 0.9)`.")


# ----------------------------------------------------------------------------- 12 · the KV cache


def check_12_1(answer):
    """answer = (MiB per sequence for GPT-2 small, MiB for GPT-2 XL with a batch of 8), float32, 1024 tokens"""
    if answer is None:
        return _not_attempted("set `answer = (small_mib, xl_batch_8_mib)`")
    if not _pair(answer):
        return _off("The answer should be a pair: `(GPT-2 small per sequence, GPT-2 XL batch of 8)`, in MiB.")
    from .config import GPT2_CONFIGS

    def mib(cfg, batch):
        return 2 * batch * cfg["n_layers"] * cfg["context_length"] * cfg["emb_dim"] * 4 / 1024**2

    expected = (mib(GPT2_CONFIGS["gpt2-small (124M)"], 1), mib(GPT2_CONFIGS["gpt2-xl (1558M)"], 8))
    got = (_number(answer[0]), _number(answer[1]))
    if None in got:
        return _off("Both entries should be numbers of MiB.")
    if _close(got[0], expected[0], 0.5) and _close(got[1], expected[1], 0.5):
        return _correct(f"{expected[0]:.0f} MiB and {expected[1]:,.0f} MiB: linear in layers, width, context and batch.")
    if _close(got[0], expected[0] / 2, 0.5):
        return _off("Half of it: the cache stores keys *and* values, two tensors per layer.")
    if _close(got[0], expected[0] * 1024**2, 1):
        return _off("That is in bytes; divide by 1024² for MiB.")
    return _off("Per layer: keys and values of shape (batch, n_heads, 1024, head_dim), 4 bytes each.")


def check_12_2(answer):
    """answer = (query rows computed per call, key rows read per call) for chunks of 4, 1, 1, 1 tokens"""
    if answer is None:
        return _not_attempted("set `answer = (query_rows, key_rows)`, two lists")
    if not _pair(answer):
        return _off("The answer should be a pair of lists: `(query rows, key rows)`.")
    chunks = [4, 1, 1, 1]
    expected = (chunks, [sum(chunks[:i + 1]) for i in range(len(chunks))])
    got = (_ints(answer[0]), _ints(answer[1]))
    if None in got:
        return _off("The answer should be a pair of lists of ints: `(query rows, key rows)`.")
    if got == expected:
        return _correct("Queries only for the new positions (4, 1, 1, 1); keys for everything so far (4, 5, 6, 7): "
                        "a query is used once, keys and values again at every later step.")
    if got == expected[::-1]:
        return _off("The two lists are swapped: queries are computed only for the new tokens.")
    return _off("Record the query layer's output length with a forward hook, and the cache length after each call.")


def check_12_3(answer):
    """answer = [keys unchanged after the slide?] per layer, for the copy without position embeddings"""
    if answer is None:
        return _not_attempted("set `answer` to the list of booleans, one per layer")
    from .config import GPT_CONFIG_124M
    from .model import GPTModel

    cfg = {**GPT_CONFIG_124M, "context_length": 8, "emb_dim": 32, "n_heads": 2, "n_layers": 2, "drop_rate": 0.0}
    torch.manual_seed(123)
    model = GPTModel(cfg).eval()
    with torch.no_grad():
        model.pos_emb.weight.zero_()
    ids = torch.randint(0, cfg["vocab_size"], (1, 9))
    keys = {}
    hooks = [b.att.W_key.register_forward_hook(lambda m, i, out, n=n: keys.update({n: out}))
             for n, b in enumerate(model.trf_blocks)]
    expected = []
    with torch.no_grad():
        model(ids[:, 0:8])
        before = dict(keys)
        model(ids[:, 1:9])
    for hook in hooks:
        hook.remove()
    expected = [torch.allclose(before[n][:, 1:8], keys[n][:, 0:7], atol=1e-4) for n in range(cfg["n_layers"])]
    got = [_bool(v) for v in answer] if isinstance(answer, (list, tuple)) else [None]
    if None in got:
        return _off("The answer should be a list of booleans, one per layer.")
    if got == expected:
        return _correct(f"{expected}: without positions the first layer's keys depend on the token alone; the "
                        "second layer's keys mixed in the token that slid out, so they still change.")
    if got == [False] * len(expected):
        return _off("Did the position embeddings really become zero? Zero them on a *copy* of the model "
                    "(`no_pos.pos_emb.weight.zero_()` under `torch.no_grad()`) and compare again.")
    if got == [True] * len(expected):
        return _off("The second layer's keys are computed from the first layer's outputs, which attended to "
                    "the token that slid out of the window: look again.")
    return _off("One boolean per layer: keys of the 7 shared tokens before and after the slide, `atol=1e-4`.")


# ----------------------------------------------------------------------------- 13 · OpenAI's weights


def check_13_1(answer):
    """answer = the number of parameters GPT-2 124M's checkpoint stores (tied, with qkv biases)"""
    if answer is None:
        return _not_attempted("set `answer` to the tied count of GPT-2 124M")
    from .config import GPT_CONFIG_124M
    from .params import count_parameters_tied, meta_model

    expected = count_parameters_tied(meta_model({**GPT_CONFIG_124M, "qkv_bias": True}))
    without_bias = count_parameters_tied(meta_model(GPT_CONFIG_124M))
    got = _number(answer)
    if got == expected:
        return _correct(f"{expected:,}: {expected - without_bias:,} more than notebook 08's {without_bias:,}, "
                        "the query, key and value biases.")
    if got == without_bias:
        return _off("That is notebook 08's count. GPT-2's checkpoint has query, key and value biases "
                    "(`config_from_hf` sets qkv_bias=True).")
    if got is not None and got > expected:
        return _off("Subtract the head: the file stores the vocabulary matrix once, as `wte`.")
    return _off("Build the model from `config_from_hf(...)` on the meta device and subtract the head.")


def check_13_2(answer):
    """answer = the keys in which config_from_hf(gpt2-medium's config) differs from GPT_CONFIG_355M"""
    if answer is None:
        return _not_attempted("set `answer` to the set of keys that differ, e.g. `{'a', 'b'}`")
    from .config import GPT_CONFIG_355M
    from .pretrained import config_from_hf

    medium = config_from_hf({"model_type": "gpt2", "vocab_size": 50257, "n_positions": 1024, "n_embd": 1024,
                             "n_head": 16, "n_layer": 24})
    expected = {k for k in medium if medium[k] != GPT_CONFIG_355M[k]}
    if isinstance(answer, str) or not isinstance(answer, (set, frozenset, list, tuple)) or not all(
            isinstance(k, str) for k in answer):
        return _off("The answer should be a set of key names, e.g. `{'a', 'b'}`.")
    got = set(answer)
    if got == expected:
        return _correct(f"Only {sorted(expected)}: the sizes agree, and the code needs no change at all.")
    if got & {"emb_dim", "n_layers", "n_heads"}:
        return _off("The sizes (1024, 24 layers, 16 heads) are the same in both: GPT_CONFIG_355M is medium's config.")
    return _off("Compare `config_from_hf(...)` with GPT_CONFIG_355M key by key; two choices of this series differ.")


def check_13_3(answer):
    """answer = the error raised when h.0.mlp.c_fc.weight has the nn.Linear layout"""
    if answer is None:
        return _not_attempted("catch the error with `except Exception as err:` and set `answer = err`")
    if not isinstance(answer, ValueError):
        return _off(f"Loading should stop with a ValueError (the exception object, not its class); you gave {answer!r}.")
    if "h.0.mlp.c_fc.weight" not in str(answer):
        return _off("A ValueError, but about something else: the message should name h.0.mlp.c_fc.weight. Did "
                    "you transpose that tensor, and only that one?")
    if "[128, 32]" not in str(answer) or "[32, 128]" not in str(answer):
        return _off("Give the error that loading raised (caught with `except Exception as err:`): its message "
                    "names the tensor and both shapes, the one in the file and the one expected.")
    return _correct("A ValueError naming the tensor and both shapes, before any model is built.")


# ----------------------------------------------------------------------------- notebook 10: training


@functools.lru_cache(maxsize=1)
def _notebook10():
    """What notebook 10 builds, rebuilt the same way: the shipped model and tokenizer, the validation loader
    (1,000 stories of seed 1, the last 10 % by story) and the untrained model's loss on its first 5 batches."""
    from .config import GPT_CONFIG_124M
    from .model import GPTModel
    from .stories import make_stories
    from .train import StoryTokenizer, calc_loss_loader, create_dataloader, encode_stories, story_starts
    from .trained import load_trained_gpt, trained_model_metadata

    model, story_tokenizer = load_trained_gpt()
    stories = make_stories(1000, seed=1)
    tokenizer = StoryTokenizer.from_texts(stories)
    token_ids = encode_stories(stories, tokenizer)
    split = story_starts(token_ids, tokenizer.eot_id)[int(0.9 * len(stories))]
    val_ids = token_ids[split:]
    val_loader = create_dataloader(val_ids, batch_size=4, max_length=256, stride=256, shuffle=False,
                                   drop_last=False, starts=story_starts(val_ids, tokenizer.eot_id))
    config = {**GPT_CONFIG_124M, "vocab_size": tokenizer.n_vocab, "context_length": 256, "emb_dim": 128,
              "n_heads": 4, "n_layers": 4, "drop_rate": 0.0, "qkv_bias": False}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        untrained = GPTModel(config).eval()
    with torch.no_grad():
        untrained_loss = calc_loss_loader(val_loader, untrained, "cpu", num_batches=5)
    trained_loss = trained_model_metadata()["results"]["val_loss"]
    return model, story_tokenizer, val_loader, untrained_loss, trained_loss


def check_10_1(answer, model=None, loader=None, device="cpu"):
    """Exercise 10.1: the cross-entropy of the first validation batch, computed by hand.

    Called with the answer alone, the checker rebuilds the notebook's trained model and val_loader.
    """
    if answer is None:
        return _not_attempted("compute the loss of one batch with log_softmax and gather, then store it in answer")
    if isinstance(answer, torch.Tensor):
        return _off("answer is a tensor: turn it into a Python float with .item()")
    if isinstance(answer, bool) or not isinstance(answer, (int, float)) or not math.isfinite(answer):
        return _off(f"answer should be a finite float, got {answer!r:.40}")
    from .train import calc_loss_batch

    if model is None or loader is None:
        model, _, loader, _, _ = _notebook10()
        device = "cpu"
    x, y = next(iter(loader))
    with torch.no_grad():
        expected = calc_loss_batch(x, y, model, device).item()
    if abs(answer - expected) < 1e-4:
        return _correct(f"{answer:.4f} is the loss calc_loss_batch gives: the mean of -ln p(target) over "
                        f"{y.numel():,} positions")
    if abs(answer + expected) < 1e-4:
        return _off("the sign: the loss is the mean of the *negative* log-probabilities")
    return _off("that is not the loss calc_loss_batch gives for the first batch of val_loader; did you use "
                "log_softmax over the last dimension, the targets (not the inputs) in gather, and the mean?")


def check_10_2(answer, untrained_loss=None, trained_loss=None):
    """Exercise 10.2: perplexity = exp(loss), for the untrained and the trained model.

    Called with the answer alone, the checker recomputes the notebook's untrained loss (seed 123, first 5
    validation batches) and reads the trained model's recorded validation loss.
    """
    if answer is None:
        return _not_attempted("store (untrained, trained) perplexities, each math.exp of a loss")
    if not _pair(answer) or None in (_number(answer[0]), _number(answer[1])):
        return _off("answer should be a pair of numbers: (untrained perplexity, trained perplexity)")
    # Recomputed on the CPU when not given, so allow the small differences of another device.
    tol = 1e-6 if untrained_loss is not None else 1e-4
    if untrained_loss is None or trained_loss is None:
        untrained_loss, trained_loss = _notebook10()[3:]
    expected = (math.exp(untrained_loss), math.exp(trained_loss))
    got = (_number(answer[0]), _number(answer[1]))

    def near(values, targets):
        return all(_close(g, e, tol * abs(e) + 1e-12) for g, e in zip(values, targets))

    if near(got, expected):
        return _correct(f"untrained {got[0]:.0f}: no surer than a uniform pick among all the vocabulary's tokens "
                        f"(whose perplexity is the vocabulary size); trained {got[1]:.2f}: a geometric mean over "
                        "steps that are mostly certain")
    if near(got, expected[::-1]):
        return _off("the order: the untrained model's perplexity comes first")
    if near(got, (untrained_loss, trained_loss)):
        return _off("these are the losses themselves; the perplexity is math.exp(loss)")
    return _off("not yet the two perplexities: take math.exp of untrained_loss and of the recorded validation "
                "loss, meta['results']['val_loss']")


def check_10_3(answer, model=None, tokenizer=None):
    """Exercise 10.3: the share of grammatical sentences at temperature 1.5.

    Called with the answer alone, the checker uses the shipped model and its tokenizer.
    """
    if answer is None:
        return _not_attempted("sample 20 stories at temperature 1.5 (seed 1) and store the grammatical share")
    if _number(answer) is None or isinstance(answer, torch.Tensor):
        return _off(f"answer should be a number between 0 and 1, got {type(answer).__name__}")
    if not _close(answer, 0.5, 0.5):
        return _off("give a share between 0 and 1, not a percentage or a count")
    from .stories import grammar_report
    from .trained import write_stories

    if model is None or tokenizer is None:
        model, tokenizer = _notebook10()[:2]
    hot = grammar_report(write_stories(model, tokenizer, "Once upon a time", n_stories=20, temperature=1.5,
                                       seed=1)).rate
    if abs(answer - hot) < 1e-9:
        return _correct(f"{100 * hot:.1f} % of the sentences are grammatical at temperature 1.5: a flatter "
                        "distribution draws the unlikely, ungrammatical tokens more often")
    return _off("that is not the share for these stories; check the temperature (1.5), the seed (1), 20 stories, "
                "that top_k is left out, and that you store grammar_report(stories).rate")


def check_10_4(answer, model=None, tokenizer=None):
    """Exercise 10.4: (layer, head), the head without which the model stops copying a swapped-in object.

    Called with the answer alone, the checker uses the shipped model and its tokenizer.
    """
    if answer is None:
        return _not_attempted("run the substitution test with each head removed in turn and store "
                              "(layer, head) of the one the model cannot copy the object without")
    if not _pair(answer) or any(isinstance(v, bool) or not isinstance(v, int) for v in answer):
        return _off(f"answer should be a pair of ints (layer, head), got {answer!r}")
    if model is None or tokenizer is None:
        model, tokenizer = _notebook10()[:2]
    n_layers, n_heads = len(model.trf_blocks), model.trf_blocks[0].att.num_heads
    layer, head = answer
    if not (0 <= layer < n_layers and 0 <= head < n_heads):
        return _off(f"({layer}, {head}) is not a head of this model: layers 0..{n_layers - 1}, "
                    f"heads 0..{n_heads - 1}")
    from .interpret import (ablate_head, attention_to_first_mention, object_stories, object_token_ids,
                            substitution_test)
    from .stories import make_stories

    # Stories of their own (not the notebook's), so the answer must hold for the model, not for one sample.
    rows = object_stories(make_stories(40, seed=7), tokenizer)
    object_ids = object_token_ids(tokenizer)
    copied = {}
    for l in range(n_layers):
        for h in range(n_heads):
            with ablate_head(model, l, h):
                copied[l, h] = substitution_test(model, rows, object_ids, tokenizer.eot_id)[0]
    intact = substitution_test(model, rows, object_ids, tokenizer.eot_id)[0]
    needed = min(copied, key=copied.get)
    if (layer, head) == needed:
        return _correct(f"without layer {layer}, head {head} the model names the swapped-in object in "
                        f"{100 * copied[needed]:.0f} % of these 40 stories, against {100 * intact:.0f} % "
                        "intact: it is the head that copies the object")
    looks = attention_to_first_mention(model, rows, tokenizer.eot_id)[0][layer, head].item()
    hint = (f" It does look at the first mention ({100 * looks:.0f} % of its attention), but looking is not "
            "needing." if looks > 0.2 else "")
    return _off(f"with layer {layer}, head {head} removed the model still names the swapped-in object in "
                f"{100 * copied[layer, head]:.0f} % of these 40 stories ({100 * intact:.0f} % intact), so the "
                f"model does not need that head to copy the object.{hint} Try every head in a loop and keep "
                "the one whose removal lowers the share most")


# ----------------------------------------------------------------------------- notebook 14: a modern LLM

def _whole_number(answer):
    """An int from an int or a whole float, else None."""
    if isinstance(answer, bool):
        return None
    if isinstance(answer, int):
        return answer
    if isinstance(answer, float) and answer.is_integer():
        return int(answer)
    return None


def check_14_1(answer):
    """Exercise 14.1: KV-cache bytes per token of Llama 3 8B in bfloat16 (32 layers, 8 KV heads of 128)."""
    if answer is None:
        return _not_attempted("compute the bytes one token adds to Llama 3 8B's cache and store the int in answer")
    got = _whole_number(answer)
    if got is None:
        return _off(f"answer should be a whole number of bytes (an int), got {answer!r}")
    from .llama import kv_cache_bytes_per_token

    cfg = {"vocab_size": 128_256, "context_length": 8192, "emb_dim": 4096, "n_heads": 32, "n_kv_heads": 8,
           "n_layers": 32, "hidden_dim": 14_336}
    expected = kv_cache_bytes_per_token(cfg, bytes_per_value=2)
    if got == expected:
        return _correct(f"{got:,} bytes per token: at 8,192 tokens one sequence needs {got * 8192 / 2**30:.0f} GiB "
                        "of cache, a quarter of what 32 key/value heads would need")
    if got == expected * 4:
        return _off("that counts 32 key/value heads; with grouped-query attention only n_kv_heads are cached")
    if got * 2 == expected:
        return _off("a cache holds keys *and* values: one factor is missing")
    if got == expected * 2:
        return _off("bfloat16 takes 2 bytes per number, not 4 as float32 does; the cache uses the model's dtype")
    if got * 1024 == expected or got * 1000 == expected:
        return _off("give bytes, not kilobytes: the answer is a count of bytes per token")
    return _off(f"{got:,} is not it; multiply 2 (keys, values) x layers x key/value heads x head_dim x bytes per value")


def check_14_2(answer):
    """Exercise 14.2: parameters of Llama 3 8B's SwiGLU feed-forward net (emb 4096, hidden 14336), one block."""
    if answer is None:
        return _not_attempted("count the parameters of one SwiGLUFeedForward(4096, 14336) and store the int")
    got = _whole_number(answer)
    if got is None:
        return _off(f"answer should be a whole number (an int), got {answer!r}")
    from .llama import SwiGLUFeedForward

    with torch.device("meta"):  # shapes only: no memory, no random numbers
        expected = sum(p.numel() for p in SwiGLUFeedForward(4096, 14_336).parameters())
    if got == expected:
        return _correct(f"{got:,} parameters: three matrices of 4096 x 14336, about as many as a GELU net "
                        f"with a hidden size of {round(1.5 * 14_336):,} would have")
    if got * 3 == expected * 2:
        return _off("that counts two matrices; SwiGLU has three (gate, up and down)")
    if got == 2 * 4096 * 4 * 4096:
        return _off("that is GPT-2's 4 x emb_dim GELU net; use Llama 3's hidden size 14,336 and three matrices")
    if got > expected:
        return _off("too many: Llama has no bias terms, and the net has exactly three weight matrices")
    return _off(f"{got:,} is not it; each of gate, up and down is a 4096 x 14336 (or 14336 x 4096) matrix")


def check_14_3(answer):
    """Exercise 14.3: the angle (radians) RoPE turns pair 1 of a head_dim=8 head by, from position 0 to 5."""
    if answer is None:
        return _not_attempted("compute the angle of pair 1 at position 5 (head_dim 8, theta 10,000) in radians")
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, (int, float)):
        return _off(f"answer should be a number of radians, got {type(answer).__name__}")
    from .llama import RotaryEmbedding

    cos, sin = RotaryEmbedding(8, theta=10_000.0)(torch.tensor([5]))
    expected = math.atan2(sin[0, 1].item(), cos[0, 1].item())  # pair 1: dimensions 1 and 1 + 4
    if abs(answer - expected) < 1e-4:
        return _correct(f"{answer:.4f} radians: pair 1 turns by theta^(-2/8) = 0.1 radians per position, "
                        "ten times slower than pair 0")
    if abs(answer - math.degrees(expected)) < 1e-2:
        return _off("that is in degrees; give radians (RoPE's cos and sin take the angle in radians)")
    if abs(answer - 5 * 10_000 ** (-1 / 8)) < 1e-3:
        return _off("the exponent: pair i turns by theta^(-2i / head_dim), so for pair 1 the exponent is -2/8")
    if abs(answer - 5.0) < 1e-6:
        return _off("5 radians is pair 0's angle (it turns by 1 per position); pair 1 turns more slowly")
    return _off(f"{answer:.4f} is not it; the angle is position x theta^(-2i / head_dim) with i = 1")


# ----------------------------------------------------------------------------- notebook 15: training faster


def check_15_1(answer):
    """Exercise 15.1: the weight of a 2-window micro-batch's mean loss in a batch of 8 windows (2 + 3 + 3)."""
    if answer is None:
        return _not_attempted("compute the factor for the first micro-batch's mean loss and store the float")
    got = _number(answer)
    if got is None:
        return _off(f"answer should be a number (a float), got {type(answer).__name__}")
    sizes, tokens = (2, 3, 3), 256
    expected = sizes[0] * tokens / (sum(sizes) * tokens)
    if _close(got, expected, 1e-6):
        return _correct(f"{got}: the micro-batch holds that share of the batch's tokens, so the weighted losses "
                        "add up to the whole batch's mean loss")
    if _close(got, 1 / len(sizes), 1e-3):
        return _off("that weights the three micro-batches equally; with unequal sizes each counts by its tokens")
    if _close(got, sizes[0], 1e-6) or _close(got, sizes[0] * tokens, 1e-6):
        return _off("that is the micro-batch's size; the factor is its *share* of the whole batch, between 0 and 1")
    if _close(got, sum(sizes) / sizes[0], 1e-6):
        return _off("that is the inverse: the first micro-batch holds the smaller part of the batch")
    return _off(f"{got} is not it; divide the micro-batch's tokens by the whole batch's tokens")


def check_15_2(answer):
    """Exercise 15.2: bytes saved for backward per additional 256-token window, story model with use_sdpa, float32."""
    if answer is None:
        return _not_attempted("compute the extra bytes one more window adds (a difference of two counts)")
    got = _whole_number(answer)
    if got is None:
        return _off(f"answer should be a whole number of bytes (an int), got {answer!r}")
    from .faster import saved_activation_bytes
    from .model import GPTModel
    from .trained import trained_model_metadata

    cfg = {**trained_model_metadata()["config"], "use_sdpa": True}
    with torch.random.fork_rng():  # the learner's random state stays as it was
        torch.manual_seed(0)
        model = GPTModel(cfg).train()
        ids = torch.randint(0, cfg["vocab_size"], (2, cfg["context_length"]))
    one, two = (saved_activation_bytes(model, ids[:n], ids[:n]) for n in (1, 2))
    expected = two - one
    if got - expected in (0, 2048, 4096):  # + the extra window's int64 ids (inputs, and targets if separate)
        ids_note = "" if got == expected else " (with your extra window's token ids, which are counted too)"
        return _correct(f"{got:,} bytes ({got / 2**20:.1f} MiB) per window of 256 tokens{ids_note}; a batch of 16 "
                        "keeps 16 times that, plus the fixed part")
    if abs(got - one) <= 4096:
        return _off("that is the count for one window, which includes a fixed part; take the *difference* between "
                    "two batch sizes")
    if abs(got - two) <= 8192:
        return _off("that is the count for two windows; the extra bytes of one window are a difference of two counts")
    if abs(got - expected / 2**20) < 1 or abs(got - expected / 1e6) < 1:
        return _off("that looks like MiB or MB; give the count in bytes, as saved_activation_bytes returns it")
    return _off(f"{got:,} is not it; compute saved_activation_bytes for 2 windows and for 1 window of story_fused "
                "(in training mode, float32) and subtract")


def _ten_updates(dtype):
    weight = torch.tensor(1.0, dtype=dtype)
    for _ in range(10):
        weight = weight - 0.001  # a Python float keeps the tensor's dtype: rounded after every update
    return weight.item()


def check_15_3(answer):
    """Exercise 15.3: (weight in bfloat16, weight in float32) after ten updates of -0.001 from 1.0."""
    if answer is None:
        return _not_attempted("apply the ten updates to a bfloat16 and to a float32 weight and store both as "
                              "`answer = (weight_bf16, weight_fp32)`")
    if not _pair(answer) or _number(answer[0]) is None or _number(answer[1]) is None:
        return _off("The answer should be a pair of numbers: `(weight in bfloat16, weight in float32)`.")
    got16, got32 = _number(answer[0]), _number(answer[1])
    expected16, expected32 = _ten_updates(torch.bfloat16), _ten_updates(torch.float32)
    if not _close(got32, expected32, 1e-6):
        return _off("The float32 weight is off: start from `torch.tensor(1.0)` and subtract 0.001 ten times.")
    if got16 == expected16:
        return _correct("In bfloat16 the weight never moves: just below 1.0 its numbers are 2**-8 ≈ 0.0039 apart, so "
                        "1.0 - 0.001 rounds back to 1.0, ten times over, while float32 adds the ten steps up. This "
                        "is why mixed precision keeps the weights (and AdamW's averages) in float32.")
    if _close(got16, expected32, 1e-3):
        return _off("That is what exact arithmetic gives. Store the weight in bfloat16 "
                    "(`torch.tensor(1.0, dtype=torch.bfloat16)`) and apply the updates one at a time, as an "
                    "optimizer does: every result is rounded to a bfloat16 number.")
    return _off("Not the bfloat16 weight yet: apply the ten updates one at a time to "
                "`torch.tensor(1.0, dtype=torch.bfloat16)` (not a single update of -0.01).")


def check_15_4(answer):
    """Exercise 15.4: bytes one of 4 DDP processes sends per step in a ring all-reduce of the story model's float32 gradient."""
    if answer is None:
        return _not_attempted("count the gradient's bytes, apply the ring all-reduce's factor for 4 processes "
                              "and store the whole number of bytes")
    got = _whole_number(answer)
    if got is None:
        return _off(f"answer should be a whole number of bytes (an int), got {answer!r}")
    from .trained import load_trained_gpt

    model, _ = load_trained_gpt()
    numbers = sum(p.numel() for p in model.parameters())
    n, gradient_bytes = 4, 4 * numbers
    expected = round(2 * (n - 1) / n * gradient_bytes)
    if abs(got - expected) <= 1:
        return _correct(f"{got:,} bytes: 1.5 gradients' worth per process and step, with 4 processes")
    if got == gradient_bytes:
        return _off("that is the gradient itself; a ring all-reduce sends each process's slices twice over "
                    "(a reduce pass and a gather pass), times (N - 1)/N")
    if got == 2 * gradient_bytes:
        return _off("that is the limit for very many processes; with N = 4 the factor is 2 (N - 1)/N")
    if got in (numbers, round(2 * (n - 1) / n * numbers)):
        return _off("that counts numbers, not bytes: each float32 number takes 4 bytes")
    if got == round(2 * (n - 1) / n * 2 * numbers):
        return _off("that is a 16-bit gradient; the question asks for float32 (4 bytes per number)")
    return _off(f"{got:,} is not it; count the parameters of load_trained_gpt()'s model, 4 bytes each, "
                "then apply 2 (N - 1)/N")


# ----------------------------------------------------------------------------- every checker answers

# Keep this block at the end of the module, after the last checker.


def _answers_anything(checker):
    """`checker`, made to answer every answer: an answer it cannot read (a str where numbers belong, a huge
    int, a tensor of the wrong kind) gets "not yet" and the form expected, never an exception."""
    expected_form = (checker.__doc__ or "").strip().splitlines()[0] if checker.__doc__ else ""

    @functools.wraps(checker)
    def check(answer, *args, **kwargs):
        try:
            return checker(answer, *args, **kwargs)
        except Exception as err:  # noqa: BLE001 -- any answer, however odd, gets an answer back
            reason = f"{type(err).__name__}: {str(err)[:160]}"
            return _off(f"This answer could not be checked ({reason}). Expected: {expected_form}")

    return check


for _name in [n for n in list(globals()) if n.startswith("check_") and callable(globals()[n])]:
    globals()[_name] = _answers_anything(globals()[_name])
del _name
