"""Printing numbers that are the same on every machine.

Matrix products sum in a different order on another CPU, thread count or GPU, so the last
float32 digits differ. Notebook outputs are compared character by character (nbval), so every
float a notebook prints goes through `rounded`: computed in float64 on the CPU, rounded to a
few decimals, with -0.0 turned into 0.0.
"""

import torch


def rounded(t, decimals=4):
    """A CPU float64 copy of `t` rounded to `decimals`, safe to print and compare across machines."""
    if isinstance(decimals, bool) or not isinstance(decimals, int):
        raise TypeError(f"decimals must be an int, got {decimals!r}")
    if not isinstance(t, torch.Tensor):
        try:
            t = torch.tensor(t)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"t must be a tensor or a (nested list of) numbers, got {type(t).__name__}") from err
    if t.is_meta:
        raise ValueError("t is on the meta device: it has a shape but no values to print")
    out = t.detach().to("cpu", torch.float64).round(decimals=decimals)
    return out + 0.0  # -0.0 + 0.0 == +0.0, so no stray minus signs
