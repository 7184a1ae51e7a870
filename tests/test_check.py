"""`python -m gpt_from_scratch.check`: what it reports here, and that it fails (exit 1) and says why when
something the series needs is missing; explain_device's reasons for every way a GPU can be unusable."""

import os
import subprocess
import sys
import warnings

import pytest
import torch

import gpt_from_scratch
from gpt_from_scratch import check, device
from notebook_utils import ROOT


def test_the_check_passes_here_and_names_every_part():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-m", "gpt_from_scratch.check"], capture_output=True, text=True, env=env,
                          cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    names = [line[7:].split()[0] for line in done.stdout.splitlines() if line.startswith("[")]
    assert names == ["python", "torch", "device", "package", "tokenizer", "trained", "widgets", "jupyter"]
    assert f"torch         {torch.__version__}" in done.stdout
    assert f"get_device() picks {gpt_from_scratch.get_device().type}" in done.stdout
    assert done.stdout.rstrip().endswith("ready: every notebook of the series can run here")


def test_a_missing_widget_library_fails_with_the_install_command(monkeypatch, capsys):
    monkeypatch.setattr(check, "WIDGET_LIBRARIES", (("numpy", "numpy"), ("no_such_module_xyz", "no-such-dist")))
    assert check.main() == 1
    out = capsys.readouterr().out
    assert "[FAIL] widgets       missing no-such-dist: pip install \"gpt-from-scratch-course[notebooks]\"" in out
    assert out.rstrip().endswith("not ready: fix widgets")


def test_a_crashing_check_is_a_failure_not_a_traceback(capsys):
    def check_boom():
        raise OSError("disk on fire")

    assert check.main((check.check_python, check_boom)) == 1
    assert "[FAIL] boom          OSError: disk on fire" in capsys.readouterr().out


def test_a_missing_jupyter_is_only_a_note():
    results = [check.Check("jupyter", False, "ipykernel not installed", required=False)]
    assert "[note] jupyter" in check.report(results) and check.report(results).endswith("ready: every notebook "
                                                                                       "of the series can run here")


def test_the_unrelated_pypi_package_is_recognised(monkeypatch, tmp_path):
    (tmp_path / "__init__.py").write_text("")  # a gpt_from_scratch without the series' exercises.py
    monkeypatch.setattr(gpt_from_scratch, "__file__", str(tmp_path / "__init__.py"))
    monkeypatch.setattr(check, "_version", lambda dist: "1.1" if dist == "gpt-from-scratch" else None)
    result = check.check_package()
    assert not result.ok and "pip uninstall gpt-from-scratch" in result.detail


def fake_cuda(monkeypatch, build, warning=None, nvidia_smi=None, mps_built=False):
    def is_available():
        if warning:
            warnings.warn(warning)
        return False

    monkeypatch.setattr(torch.cuda, "is_available", is_available)
    monkeypatch.setattr(torch.version, "cuda", build)
    monkeypatch.setattr(torch.backends.mps, "is_built", lambda: mps_built)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    monkeypatch.setattr(device.shutil, "which", lambda name: nvidia_smi)


@pytest.mark.parametrize("build, warning, nvidia_smi, mps_built, says", [
    ("13.0", "CUDA initialization: The NVIDIA driver on your system is too old (found version 12040).", None, False,
     "built for CUDA 13.0 but the NVIDIA driver is too old for it"),
    ("13.0", None, None, False, "built for CUDA 13.0 but it finds no NVIDIA GPU"),
    (None, None, "/usr/bin/nvidia-smi", False, "this torch is a CPU-only build; see the README"),
    (None, None, None, True, "MPS needs Apple Silicon and macOS 14 or later"),
    (None, None, None, False, "CPU-only build and there is no GPU"),
])
def test_explain_device_says_why_the_gpu_is_not_used(monkeypatch, build, warning, nvidia_smi, mps_built, says):
    fake_cuda(monkeypatch, build, warning, nvidia_smi, mps_built)
    picked, reason = device.explain_device()
    assert picked == torch.device("cpu") and says in reason, reason


def test_mps_is_picked_unless_training_skips_it(monkeypatch):
    fake_cuda(monkeypatch, None, mps_built=True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert device.explain_device()[0].type == "mps" and device.get_device().type == "mps"
    assert device.get_device(allow_mps=False).type == "cpu"
    assert "skipped on purpose" in device.explain_device(allow_mps=False)[1]


def test_allow_mps_must_be_a_bool():
    with pytest.raises(TypeError, match="allow_mps must be True or False, got 'no'"):
        device.get_device(allow_mps="no")
