"""Where the notebooks run, and how they make random numbers repeatable."""

import random

import torch


def get_device(name=None):
    """The device to run on: `name` if given ('cpu', 'cuda', 'cuda:1', 'mps'), else CUDA, then Apple MPS, then CPU."""
    if name is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not isinstance(name, (str, torch.device)):
        raise TypeError(f"device name must be a string such as 'cpu' or 'cuda', got {type(name).__name__}")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"unknown device name {name!r}; use 'cpu', 'cuda', 'cuda:N' or 'mps'") from err
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {name!r}; use 'cpu', 'cuda', 'cuda:N' or 'mps'")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but CUDA is not available on this machine")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} asked for, but Apple MPS is not available on this machine")
    return device


def set_seed(seed=123):
    """Seed Python's and torch's generators (CPU and every GPU) so a cell gives the same numbers each run."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**64:  # torch takes 64-bit seeds; a negative one would wrap onto a large one
        raise ValueError(f"seed must be between 0 and 2**64 - 1, got {seed}")
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA
