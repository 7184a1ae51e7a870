"""Notebook 15's speed-ups compute what the taught training step computes."""

import pytest
import torch

from gpt_from_scratch import GPTModel
from gpt_from_scratch.faster import (
    ADAMW_IMPLEMENTATIONS,
    accumulate_gradients,
    autocast,
    cpu_has_bf16,
    fast_settings,
    make_adamw,
    saved_activation_bytes,
    training_step,
)
from gpt_from_scratch.train import calc_loss_batch


@pytest.fixture
def model_and_batch(tiny_cfg):
    torch.manual_seed(0)
    model = GPTModel({**tiny_cfg, "drop_rate": 0.0})
    x = torch.randint(0, tiny_cfg["vocab_size"], (6, tiny_cfg["context_length"]))
    y = torch.randint(0, tiny_cfg["vocab_size"], x.shape)
    return model, x, y


def gradients(model):
    return {name: p.grad.clone() for name, p in model.named_parameters()}


def test_accumulated_micro_batches_give_the_whole_batch_gradient(model_and_batch):
    model, x, y = model_and_batch
    whole = calc_loss_batch(x, y, model, "cpu")  # the taught loss, one batch of 6
    whole.backward()
    expected = gradients(model)
    model.zero_grad(set_to_none=True)
    micro = [(x[:1], y[:1]), (x[1:3], y[1:3]), (x[3:], y[3:])]  # unequal sizes: 1, 2 and 3 windows
    loss = accumulate_gradients(model, micro, "cpu")
    assert loss == pytest.approx(whole.item(), rel=1e-6)
    for name, grad in gradients(model).items():
        torch.testing.assert_close(grad, expected[name], rtol=1e-5, atol=1e-7, msg=name)


def test_a_plain_mean_of_unequal_micro_batches_would_differ(model_and_batch):
    """The weighting matters: averaging the micro-batch losses equally is not the whole batch's loss."""
    model, x, y = model_and_batch
    with torch.no_grad():
        whole = calc_loss_batch(x, y, model, "cpu").item()
        plain = (calc_loss_batch(x[:1], y[:1], model, "cpu") + calc_loss_batch(x[1:], y[1:], model, "cpu")).item() / 2
    weighted = accumulate_gradients(model, [(x[:1], y[:1]), (x[1:], y[1:])], "cpu")
    assert weighted == pytest.approx(whole, rel=1e-6)
    assert abs(plain - whole) > 1e-4


def test_training_step_with_accumulation_gives_the_same_weights(tiny_cfg, model_and_batch):
    model, x, y = model_and_batch
    twin = GPTModel({**tiny_cfg, "drop_rate": 0.0})
    twin.load_state_dict(model.state_dict())
    for m, batches in ((model, [(x, y)]), (twin, [(x[:3], y[:3]), (x[3:], y[3:])])):
        training_step(m, make_adamw(m, 1e-3, 0.1), batches, "cpu", max_grad_norm=1.0)
    for name, p in model.named_parameters():
        torch.testing.assert_close(twin.get_parameter(name), p, rtol=1e-5, atol=1e-6, msg=name)


def test_the_three_adamw_implementations_take_the_same_steps(tiny_cfg, model_and_batch):
    model, x, y = model_and_batch
    results = []
    for implementation in ADAMW_IMPLEMENTATIONS:
        m = GPTModel({**tiny_cfg, "drop_rate": 0.0})
        m.load_state_dict(model.state_dict())
        optimizer = make_adamw(m, 1e-2, 0.1, implementation)
        assert optimizer.defaults["fused"] == (implementation == "fused" or None)
        assert optimizer.defaults["foreach"] == (implementation == "foreach")
        for _ in range(3):
            training_step(m, optimizer, [(x, y)], "cpu")
        results.append(m.state_dict())
    for other in results[1:]:
        for name, tensor in results[0].items():
            torch.testing.assert_close(other[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
    moved = max((results[0][n] - p).abs().max().item() for n, p in model.named_parameters())
    assert moved > 1e-3  # the steps did change the weights


def test_bf16_autocast_loss_is_close_to_float32(model_and_batch):
    model, x, y = model_and_batch
    with torch.no_grad():
        full = calc_loss_batch(x, y, model, "cpu")
        with autocast("cpu", torch.bfloat16):
            logits = model(x)
            half = calc_loss_batch(x, y, model, "cpu")
    assert logits.dtype == torch.bfloat16  # the output head's matmul ran in bfloat16
    assert full.dtype == half.dtype == torch.float32  # cross_entropy is one of the ops autocast keeps in float32
    assert half.item() == pytest.approx(full.item(), rel=2e-2)
    assert half.item() != full.item()


def test_float16_with_a_loss_scaler_trains(model_and_batch):
    model, x, y = model_and_batch
    before = {n: t.clone() for n, t in model.state_dict().items()}
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    optimizer = make_adamw(model, 1e-3, 0.1)
    for _ in range(2):
        loss = training_step(model, optimizer, [(x, y)], "cpu", amp_dtype=torch.float16, scaler=scaler)
        assert loss == pytest.approx(loss)  # finite
    for name, p in model.named_parameters():
        assert torch.isfinite(p).all() and p.dtype == torch.float32, name
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())


def test_a_tiny_gradient_survives_float16_only_when_scaled():
    tiny = torch.tensor(1e-8)
    assert tiny.half().item() == 0.0  # below float16's smallest subnormal, about 6e-8: lost
    assert (tiny * 2.0**16).half().float().item() / 2.0**16 == pytest.approx(1e-8, rel=1e-2)


def test_saved_activations_grow_linearly_with_the_batch(model_and_batch, tiny_cfg):
    model, x, y = model_and_batch
    b1, b2, b4 = (saved_activation_bytes(model, x[:n], y[:n]) for n in (1, 2, 4))
    assert b4 - b2 == 2 * (b2 - b1)  # exactly linear: a fixed cost plus the same bytes per window
    # At least the log-probabilities cross_entropy keeps, (batch * seq, vocab) floats of 4 bytes.
    assert b1 >= tiny_cfg["context_length"] * tiny_cfg["vocab_size"] * 4


def test_fused_attention_saves_less_than_the_taught_attention(tiny_cfg, model_and_batch):
    model, x, y = model_and_batch
    fused = GPTModel({**tiny_cfg, "drop_rate": 0.0, "use_sdpa": True})
    fused.load_state_dict(model.state_dict())
    assert saved_activation_bytes(fused, x, y) < saved_activation_bytes(model, x, y)


def test_fast_settings_build_a_model_and_an_optimizer(tiny_cfg, model_and_batch):
    _, x, y = model_and_batch
    settings = fast_settings("cpu")
    assert set(settings) == {"use_sdpa", "amp_dtype", "grad_scaler", "adamw", "compile"}
    model = GPTModel({**tiny_cfg, "use_sdpa": settings["use_sdpa"]})
    optimizer = make_adamw(model, 1e-3, 0.1, settings["adamw"])
    loss = training_step(model, optimizer, [(x, y)], "cpu", amp_dtype=settings["amp_dtype"])
    assert 0 < loss < 10


@pytest.mark.parametrize("call,error,words", [
    (lambda m, x, y: autocast("cpu", torch.float64), ValueError, "amp_dtype"),
    (lambda m, x, y: autocast("tpu", None), ValueError, "device"),
    (lambda m, x, y: autocast(3, None), TypeError, "device"),
    (lambda m, x, y: make_adamw(m, 1e-3, 0.1, "apex"), ValueError, "implementation"),
    (lambda m, x, y: make_adamw(m, "fast", 0.1), TypeError, "lr"),
    (lambda m, x, y: make_adamw(m, 1e-3, -0.1), ValueError, "weight_decay"),
    (lambda m, x, y: accumulate_gradients(m, (x, y), "cpu"), TypeError, r"batches\[0\]"),
    (lambda m, x, y: accumulate_gradients(m, [], "cpu"), TypeError, "non-empty list"),
    (lambda m, x, y: accumulate_gradients(m, [(x, y[:, :3])], "cpu"), ValueError, "target_batch"),
    (lambda m, x, y: training_step(m, "adam", [(x, y)], "cpu"), TypeError, "optimizer"),
    (lambda m, x, y: training_step(m, make_adamw(m, 1e-3, 0.1), [(x, y)], "cpu", scaler=2.0), TypeError, "scaler"),
    (lambda m, x, y: training_step(m, make_adamw(m, 1e-3, 0.1), [(x, y)], "cpu", max_grad_norm=0), ValueError,
     "max_grad_norm"),
])
def test_bad_input_is_named(model_and_batch, call, error, words):
    model, x, y = model_and_batch
    with pytest.raises(error, match=words):
        call(model, x, y)


def test_cuda_without_a_gpu_and_counting_without_gradients_are_refused(model_and_batch):
    model, x, y = model_and_batch
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            autocast("cuda", torch.bfloat16)
        with pytest.raises(ValueError, match="no CUDA GPU"):
            fast_settings("cuda")
    else:  # on a GPU: everything on, and bfloat16 only where the GPU has it
        settings = fast_settings("cuda")
        assert settings["compile"] and settings["adamw"] == "fused"
        assert (settings["amp_dtype"] == torch.bfloat16) == torch.cuda.is_bf16_supported() != settings["grad_scaler"]
    with torch.no_grad(), pytest.raises(ValueError, match="gradients are switched off"):
        saved_activation_bytes(model, x, y)


def _cpuinfo_flags():
    try:
        text = open("/proc/cpuinfo").read()
    except OSError:
        return None
    lines = [line for line in text.splitlines() if line.startswith("flags")]
    return set(lines[0].split(":", 1)[1].split()) if lines else None


def test_cpu_has_bf16_agrees_with_the_kernels_list_of_instructions():
    import platform

    flags = _cpuinfo_flags()
    if flags is None or platform.machine() != "x86_64":
        pytest.skip("needs Linux on x86-64, where /proc/cpuinfo lists the CPU's instructions")
    assert cpu_has_bf16() == bool({"avx512_bf16", "amx_bf16"} & flags)


def test_an_avx512_cpu_without_bf16_instructions_is_not_taken_for_one(monkeypatch):
    # oneDNN's check says yes on every AVX-512 CPU (bfloat16 emulated there); ours must say no.
    import gpt_from_scratch.faster as faster

    monkeypatch.setattr(faster.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not faster.cpu_has_bf16()
    assert fast_settings("cpu")["amp_dtype"] is None
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert faster.cpu_has_bf16()
    assert fast_settings("cpu")["amp_dtype"] == torch.bfloat16
