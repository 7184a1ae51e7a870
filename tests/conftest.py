import os

import pytest
import torch

# .ci/run and the README's test command run the suite on two pytest-xdist workers (-n 2). On a 2-core machine two processes that each
# start two PyTorch threads fight for the cores and both run about twice as slowly, so each worker uses one
# thread, and so does every notebook kernel it starts (kernels inherit OMP_NUM_THREADS). The stored outputs
# are written with one thread (tools/run_notebooks.py) and rounded so that any thread count reproduces them.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def pytest_collection_modifyitems(items):
    """The browser test first: it is the longest module (every notebook run in JupyterLab, about half of the
    suite's work), so with `--no-loadscope-reorder` (.ci/run) one worker starts it at once while the
    other takes everything else. (By default pytest-xdist would start the modules with the most tests first
    and leave this one, with few tests, for last, when the other worker has nothing left to do.)"""
    items.sort(key=lambda item: item.nodeid.split("::")[0] != "tests/test_browser.py")  # stable: order kept


TINY = {
    "vocab_size": 101,
    "context_length": 8,
    "emb_dim": 16,
    "n_heads": 4,
    "n_layers": 2,
    "drop_rate": 0.1,
    "qkv_bias": False,
}


@pytest.fixture
def tiny_cfg():
    return dict(TINY)


@pytest.fixture(scope="session")
def gpt124m():
    """GPT-2 124M with the seed's initialization, in eval mode; built once (about 2 s)."""
    from gpt_from_scratch import GPT_CONFIG_124M, GPTModel

    torch.manual_seed(123)
    return GPTModel(GPT_CONFIG_124M).eval()

