"""Notebook 15: training faster -- the same training step with the speed-ups practitioners use.

Each speed-up is an option, and each is shown to compute what the taught step of notebook 10 computes:
- gradient accumulation: several micro-batches, one optimizer step, the gradient of the whole batch;
- mixed precision: the forward pass and the loss under `torch.autocast` (bfloat16, or float16 with a
  loss scaler), the weights and the optimizer state staying float32;
- AdamW's three implementations (a for-loop over tensors, `foreach`, `fused`): the same update;
- the attention fast path is the model's own option (config key `use_sdpa`, notebook 05's class);
- `saved_activation_bytes` counts what the forward pass keeps for the backward pass.
"""

import contextlib
import platform

import torch

from .checks import (
    check_activation_args,
    check_amp_args,
    check_adamw_args,
    check_micro_batches,
    check_step_args,
)
from .train import calc_loss_batch

ADAMW_IMPLEMENTATIONS = ("for-loop", "foreach", "fused")


def autocast(device, amp_dtype):
    """A context that runs matmuls in `amp_dtype` (torch.bfloat16 or torch.float16) on `device`; None: float32."""
    device = check_amp_args(device, amp_dtype)
    if amp_dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=amp_dtype)


def accumulate_gradients(model, batches, device, amp_dtype=None, scaler=None):
    """Add to each parameter's .grad the gradient of the mean loss over all tokens of `batches`.

    `batches` is a list of (input, target) micro-batches. Each one's mean loss is weighted by its share
    of the tokens, so the summed gradients equal the gradient of one big batch made of them all.
    With a GradScaler (float16), the loss is multiplied by its scale before backward. Returns the loss.
    """
    check_micro_batches(batches, model)
    total_tokens = sum(target.numel() for _, target in batches)
    total = 0.0
    for input_batch, target_batch in batches:
        with autocast(device, amp_dtype):  # forward and loss in low precision; backward follows the same ops
            loss = calc_loss_batch(input_batch, target_batch, model, device)
        loss = loss * (target_batch.numel() / total_tokens)  # this micro-batch's share of the mean
        (loss if scaler is None else scaler.scale(loss)).backward()  # .backward() adds to .grad
        total += loss.item()
    return total


def training_step(model, optimizer, batches, device, amp_dtype=None, scaler=None, max_grad_norm=None):
    """One optimizer step on the micro-batches `batches`; returns the loss (as notebook 10's loop, faster)."""
    check_step_args(optimizer, scaler, max_grad_norm)
    optimizer.zero_grad(set_to_none=True)
    loss = accumulate_gradients(model, batches, device, amp_dtype, scaler)
    if scaler is not None:
        scaler.unscale_(optimizer)  # true gradients again, before clipping looks at their norm
    if max_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)  # skips the step if a gradient overflowed to inf or NaN
        scaler.update()         # a smaller scale after an overflow, a larger one after many good steps
    return loss


def make_adamw(model, lr, weight_decay, implementation="for-loop"):
    """torch.optim.AdamW over the model's parameters, updating them one tensor at a time ("for-loop"),
    all tensors in a few batched calls ("foreach"), or each tensor's whole update in one fused pass ("fused")."""
    check_adamw_args(model, lr, weight_decay, implementation, ADAMW_IMPLEMENTATIONS)
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay,
                             foreach=implementation == "foreach", fused=implementation == "fused" or None)


def saved_activation_bytes(model, input_batch, target_batch, amp_dtype=None):
    """Bytes of the tensors the forward pass and the loss keep for the backward pass, parameters excluded.

    Counted exactly with torch.autograd.graph.saved_tensors_hooks: every tensor autograd saves passes
    through the hook; tensors that share memory are counted once, the parameters (kept anyway) not at all.
    """
    check_activation_args(model, input_batch, target_batch)
    device = next(model.parameters()).device
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages = {}

    def keep(tensor):
        ptr = tensor.untyped_storage().data_ptr()
        if ptr not in params:
            storages[ptr] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        with autocast(device, amp_dtype):
            loss = calc_loss_batch(input_batch, target_batch, model, device)
    del loss  # nothing is backpropagated: the graph and what it saved are freed here
    return sum(storages.values())


def fast_settings(device):
    """The speed-ups worth turning on for `device` (a dict for GPTModel's config, make_adamw and training_step).

    On a CUDA GPU all of them: fused attention, bfloat16 (float16 with a loss scaler where bfloat16 is
    missing), the fused AdamW and torch.compile. On a CPU the fused attention and bfloat16 (measured to pay off
    in benchmarks/speedups_benchmark.py, gpt_from_scratch/data/speedups.json) and the fused AdamW (no slower).
    """
    device = check_amp_args(device, None)
    if device.type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        return {"use_sdpa": True, "amp_dtype": torch.bfloat16 if bf16 else torch.float16, "grad_scaler": not bf16,
                "adamw": "fused", "compile": True}
    return {"use_sdpa": True, "amp_dtype": torch.bfloat16 if cpu_has_bf16() else None, "grad_scaler": False,
            "adamw": "fused", "compile": False}


def cpu_has_bf16():
    """True where the CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX); elsewhere it is emulated, slowly.

    On x86 we ask for those instructions themselves: oneDNN's own check (torch.ops.mkldnn._is_mkldnn_bf16_supported)
    says yes on any AVX-512 CPU, where bfloat16 runs emulated and can be slower than float32. On ARM that check
    asks for the CPU's bfloat16 extension.
    """
    if platform.machine().lower() in ("x86_64", "amd64"):
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
