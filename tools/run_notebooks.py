"""Re-execute notebooks in place from a fresh kernel, so their stored outputs are current.

Run it after any change to gpt_from_scratch/ or to a notebook:

    python tools/run_notebooks.py                 # every notebook in notebooks/
    python tools/run_notebooks.py notebooks/05_*  # just some

It runs on the CPU with one thread and a fixed hash seed, the settings under which the stored
outputs are written; nbval then checks that they reproduce elsewhere (other threads, a GPU).
Before and after executing, it applies tools/prepare_notebooks.py (the setup cell, the diagrams as
attachments, a picture of each widget's first drawing in place of its view), so re-running keeps them.
"""

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import prepare_notebooks  # noqa: E402  (tools/ is not a package)

ROOT = Path(__file__).resolve().parent.parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def clean_metadata(nb):
    """Keep only metadata that is the same on every machine (no versions, paths or timings)."""
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("ExecuteTime", None)
    # Widget state changes every run and would only add noise to diffs.
    nb.metadata.pop("widgets", None)


def run(path):
    nb = nbformat.read(path, as_version=4)
    clean_metadata(nb)
    prepare_notebooks.ensure_setup_cell(nb)
    prepare_notebooks.attach_diagrams(nb)
    client = NotebookClient(
        nb, timeout=600, kernel_name="python3", record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    prepare_notebooks.widget_pictures(nb)  # needs the widget state, which clean_metadata drops
    clean_metadata(nb)
    nbformat.write(nb, path)


def main(args):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""  # stored outputs are written on the CPU
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    paths = [Path(a).resolve() for a in args] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    for path in paths:
        print(f"executing {path.relative_to(ROOT)}", flush=True)
        run(path)


if __name__ == "__main__":
    main(sys.argv[1:])
