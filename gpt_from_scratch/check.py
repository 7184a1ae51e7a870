"""Is this environment ready for the series? Run `python -m gpt_from_scratch.check` and paste its output into an issue.

It prints Python's and torch's versions and build, which device get_device() picks and why, whether the GPT-2
tokenizer files verify, whether the shipped story model loads, and whether the widgets' libraries are installed.
The exit status is 1 when something the notebooks need is missing or broken, else 0.
"""

import importlib
import importlib.metadata
import os
import platform
import sys
from dataclasses import dataclass

# (import name, distribution name): what the notebooks' widgets and plots import (the [notebooks] extra).
WIDGET_LIBRARIES = (("ipywidgets", "ipywidgets"), ("matplotlib", "matplotlib"), ("numpy", "numpy"), ("PIL", "pillow"))
DISTRIBUTION = "gpt-from-scratch-course"
UNRELATED_DISTRIBUTION = "gpt-from-scratch"  # PyPI's other project with the same import name


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True  # a failed required check makes the exit status 1


def _version(distribution):
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_python():
    ok = sys.version_info >= (3, 10)
    detail = f"{platform.python_version()} ({sys.executable}) on {platform.system()} {platform.machine()}"
    return Check("python", ok, detail if ok else detail + "; the series needs Python 3.10 or later")


def check_torch():
    try:
        import torch
    except ImportError as err:
        return Check("torch", False, f"not importable ({err}); see the README's per-platform install table")
    if torch.version.cuda:
        build = f"CUDA {torch.version.cuda} build"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_built():
        build = "build with Apple MPS"
    else:
        build = "CPU-only build"
    threads = f"{torch.get_num_threads()} threads (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})"
    return Check("torch", True, f"{torch.__version__}, {build}, {threads}")


def check_device():
    from .device import explain_device

    device, reason = explain_device()
    return Check("device", True, f"get_device() picks {device.type}: {reason}")


def check_package():
    """Which distribution provides the imported gpt_from_scratch (PyPI's unrelated one has the same import name)."""
    import gpt_from_scratch

    where = os.path.dirname(gpt_from_scratch.__file__)
    ours, theirs = _version(DISTRIBUTION), _version(UNRELATED_DISTRIBUTION)
    if theirs is not None and not os.path.isfile(os.path.join(where, "exercises.py")):
        return Check("package", False, f"{where} is PyPI's unrelated '{UNRELATED_DISTRIBUTION}' {theirs}: "
                     f"pip uninstall {UNRELATED_DISTRIBUTION}, then install this series' package")
    installed = f"{DISTRIBUTION} {ours}" if ours else "not installed as a distribution (imported from a source tree)"
    return Check("package", True, f"gpt_from_scratch {gpt_from_scratch.__version__} from {where}; {installed}")


def check_tokenizer():
    try:
        from .tokenizer import get_tokenizer

        ids = get_tokenizer().encode("Hello, world")
    except Exception as err:  # noqa: BLE001 -- any failure here is reported, not raised
        return Check("tokenizer", False, f"{type(err).__name__}: {err}")
    return Check("tokenizer", True, f"OpenAI's GPT-2 files verify by sha256; 'Hello, world' -> {ids}")


def check_trained_model():
    try:
        from .params import count_parameters
        from .trained import TRAINED_MODEL_FILE, load_trained_gpt

        model, tokenizer = load_trained_gpt()
    except Exception as err:  # noqa: BLE001
        return Check("trained model", False, f"{type(err).__name__}: {err}")
    return Check("trained model", True, f"{TRAINED_MODEL_FILE.name} loads: {count_parameters(model):,} parameters, "
                 f"vocabulary of {tokenizer.n_vocab} tokens")


def check_widget_libraries():
    found, missing = [], []
    for module, distribution in WIDGET_LIBRARIES:
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(distribution)
        else:
            found.append(f"{distribution} {_version(distribution)}")
    if missing:
        return Check("widgets", False, f"missing {', '.join(missing)}: pip install \"{DISTRIBUTION}[notebooks]\" "
                     f"(or pip install -r requirements.txt -c constraints.txt in the repository)")
    return Check("widgets", True, ", ".join(found))


def check_jupyter():
    """Only a note: Colab, Kaggle and VS Code bring their own notebook front end."""
    versions = {d: _version(d) for d in ("jupyterlab", "ipykernel", "nbval")}
    detail = ", ".join(f"{d} {v}" if v else f"{d} not installed" for d, v in versions.items())
    return Check("jupyter", versions["ipykernel"] is not None, detail, required=False)


CHECKS = (check_python, check_torch, check_device, check_package, check_tokenizer, check_trained_model,
          check_widget_libraries, check_jupyter)


def run_checks(checks=CHECKS):
    results = []
    for check in checks:
        try:
            results.append(check())
        except Exception as err:  # noqa: BLE001 -- a check that crashes is a failed check
            results.append(Check(check.__name__.removeprefix("check_"), False, f"{type(err).__name__}: {err}"))
    return results


def report(results):
    lines = []
    for r in results:
        mark = "ok  " if r.ok else ("FAIL" if r.required else "note")
        lines.append(f"[{mark}] {r.name:<13} {r.detail}")
    failed = [r.name for r in results if r.required and not r.ok]
    lines.append(f"not ready: fix {', '.join(failed)}" if failed else "ready: every notebook of the series can run here")
    return "\n".join(lines)


def main(checks=CHECKS):
    results = run_checks(checks)
    print(report(results))
    return 1 if any(r.required and not r.ok for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
