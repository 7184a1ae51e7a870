"""Where the notebooks run, and how they make random numbers repeatable."""

import random
import shutil
import warnings

import torch


def get_device(name=None, allow_mps=True):
    """The device to run on: `name` if given ('cpu', 'cuda', 'cuda:1', 'mps'), else CUDA, then Apple MPS, then CPU.

    allow_mps=False skips Apple's MPS when choosing (training: see the README's "For instructors")."""
    if not isinstance(allow_mps, bool):
        raise TypeError(f"allow_mps must be True or False, got {allow_mps!r}")
    if name is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if allow_mps and _mps_available():
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
        raise ValueError(f"device {name!r} asked for, but CUDA is not available on this machine "
                         "(PyTorch sees no CUDA GPU); use get_device() to choose what is there")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {name!r} asked for, but Apple MPS is not available on this machine")
    return device


def _mps_available():
    mps = getattr(torch.backends, "mps", None)
    return mps is not None and mps.is_available()


def explain_device(allow_mps=True):
    """(device, reason): what get_device() picks here, and why in one sentence (python -m gpt_from_scratch.check)."""
    with warnings.catch_warnings(record=True) as caught:  # torch only warns when a driver is too old
        warnings.simplefilter("always")
        cuda = torch.cuda.is_available()
    if cuda:
        name = torch.cuda.get_device_name(0)
        return torch.device("cuda"), f"CUDA {torch.version.cuda} works with the GPU {name}"
    if allow_mps and _mps_available():
        return torch.device("mps"), "Apple's MPS (Metal) is available: this torch was built with it and macOS supports it"
    return torch.device("cpu"), _why_not_gpu(caught, allow_mps)


def _why_not_gpu(caught, allow_mps):
    """Why neither CUDA nor MPS is used, most specific reason first."""
    message = " ".join(str(w.message) for w in caught)
    if torch.version.cuda and "too old" in message:
        return (f"this torch is built for CUDA {torch.version.cuda} but the NVIDIA driver is too old for it "
                f"(torch says: {message.strip()}); update the driver or install a torch built for an older CUDA")
    if torch.version.cuda and message:
        return f"this torch is built for CUDA {torch.version.cuda} but CUDA does not start: {message.strip()}"
    if torch.version.cuda:
        return f"this torch is built for CUDA {torch.version.cuda} but it finds no NVIDIA GPU"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_built() and not allow_mps:
        return "MPS is available but skipped on purpose (allow_mps=False)"
    if mps is not None and mps.is_built():
        return "this torch has MPS, but this Mac does not offer it (MPS needs Apple Silicon and macOS 14 or later)"
    if shutil.which("nvidia-smi"):
        return ("an NVIDIA driver is installed (nvidia-smi), but this torch is a CPU-only build; "
                "see the README's per-platform table for the CUDA install")
    return "this torch is a CPU-only build and there is no GPU it could use; the whole series runs on the CPU"


def set_seed(seed=123):
    """Seed Python's and torch's generators (CPU and every GPU) so a cell gives the same numbers each run."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**64:  # torch takes 64-bit seeds; a negative one would wrap onto a large one
        raise ValueError(f"seed must be between 0 and 2**64 - 1, got {seed}")
    random.seed(seed)
    torch.manual_seed(seed)  # also seeds CUDA
