"""Keep what every notebook needs outside this repository, in every notebook; idempotent.

    python tools/prepare_notebooks.py                 # every notebook in notebooks/, in place
    python tools/prepare_notebooks.py notebooks/05_*  # just some

1. The setup cell, right after the title: it installs the series' package when the kernel lacks it (Colab,
   Kaggle, a notebook opened alone) and sets one PyTorch thread (README, "For instructors"). It recognises
   this series' package by a file of its own, so PyPI's unrelated "gpt-from-scratch" (same import name) does
   not fool it; where the package is installed it prints nothing, so nbval sees no output.
2. The diagrams as cell attachments: a markdown link `](../imgs/NAME.png)` becomes `](attachment:NAME.png)`
   and every attachment is refreshed from imgs/NAME.png, so a notebook downloaded alone shows its diagrams.
3. Widgets (only while tools/run_notebooks.py executes a notebook, which has the widgets' state): each stored
   widget view is replaced by a picture of the widget's first drawing, with the widget's text as the
   alternative, so JupyterLab shows no "model not found" and GitHub/nbviewer show the picture. A widget
   that draws only text (the generation playground) keeps its description line alone. (nbval compares
   text/plain and text/html but not images, so only a picture can stand in for the widget.)

tools/run_notebooks.py runs steps 1-3 on every notebook it executes.

    python tools/prepare_notebooks.py --readme        # rewrite README.md's "Open in Colab" line
"""

import base64
import re
import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
IMGS = ROOT / "imgs"
SETUP_MARKER = "# Setup for Colab, Kaggle or this notebook on its own"
DISTRIBUTION = "gpt-from-scratch-course"
UNRELATED = "gpt-from-scratch"  # PyPI's other project that installs a package named gpt_from_scratch
THREADS = 1  # README, "For instructors": measured with farm-bench on notebooks 09, 10 and 12
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
NO_PICTURE = "widget_draws_no_picture"  # output metadata (nbval ignores metadata)
IMAGE_LINK = re.compile(r"\]\(\.\./imgs/([A-Za-z0-9_.-]+\.png)\)")
ATTACHMENT_LINK = re.compile(r"\]\(attachment:([A-Za-z0-9_.-]+\.png)\)")


def repository_url(pyproject=ROOT / "pyproject.toml"):
    return tomllib.loads(Path(pyproject).read_text(encoding="utf-8"))["project"]["urls"]["Repository"]


def setup_source(url=None):
    url = url or repository_url()
    return f'''{SETUP_MARKER}: install the series' package if this kernel lacks it.
# It looks for a file only this series' package has: PyPI's unrelated "{UNRELATED}" uses the same import name.
import importlib.util
import pathlib

spec = importlib.util.find_spec("gpt_from_scratch")
if spec is None or not any(pathlib.Path(p, "exercises.py").is_file() for p in spec.submodule_search_locations):
    print("Installing the series' package gpt_from_scratch (about a minute) ...")
    %pip uninstall --quiet --yes {UNRELATED}
    %pip install --quiet "{DISTRIBUTION}[notebooks] @ git+{url}"

import torch

# {THREADS} PyTorch thread: the fastest choice on a shared or busy machine (README, "For instructors"). On your
# own idle computer you may raise it, e.g. torch.set_num_threads(4); outputs stay the same.
torch.set_num_threads({THREADS})'''


def ensure_setup_cell(nb, url=None):
    """The setup cell right after the first (title) cell, created or brought up to date."""
    source = setup_source(url)
    found = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.startswith(SETUP_MARKER)]
    for i in reversed(found[1:]):
        del nb.cells[i]
    if found:
        cell = nb.cells.pop(found[0])
        if cell.source != source:
            cell.source, cell.outputs, cell.execution_count = source, [], None
    else:
        cell = nbformat.v4.new_code_cell(source)
    nb.cells.insert(1, cell)
    return nb


def png_base64(name, imgs=IMGS):
    return base64.b64encode((Path(imgs) / name).read_bytes()).decode("ascii")


def attach_diagrams(nb, imgs=IMGS):
    """Turn ../imgs/NAME.png links into attachments and refresh every attachment from imgs/."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        cell.source = IMAGE_LINK.sub(r"](attachment:\1)", cell.source)
        names = ATTACHMENT_LINK.findall(cell.source)
        if names:
            cell.attachments = {name: {"image/png": png_base64(name, imgs)} for name in sorted(set(names))}
        else:
            cell.pop("attachments", None)
    return nb


def _widget_children(state, model_id):
    """Model ids under model_id, depth first, itself included."""
    seen, stack = [], [model_id]
    while stack:
        current = stack.pop(0)
        if current in seen or current not in state:
            continue
        seen.append(current)
        children = state[current].get("state", {}).get("children", [])
        stack[0:0] = [c.removeprefix("IPY_MODEL_") for c in children if isinstance(c, str)]
    return seen


def first_picture(state, model_id):
    """The first PNG an Output widget under model_id shows (base64), or None."""
    for current in _widget_children(state, model_id):
        for output in state[current].get("state", {}).get("outputs", []) or []:
            png = output.get("data", {}).get("image/png")
            if png:
                return png if isinstance(png, str) else "".join(png)
    return None


def widget_pictures(nb):
    """Replace each widget view by its first drawing (image/png) beside its text; drop the view. Needs the
    widget state nbclient stores in nb.metadata.widgets while executing; returns the number of views replaced."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    if not state:  # not executed here: keep the views until tools/run_notebooks.py can draw them
        return 0
    replaced = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW not in data:
                continue
            png = first_picture(state, data[WIDGET_VIEW]["model_id"])
            del data[WIDGET_VIEW]
            if png:
                data["image/png"] = png
            else:  # a widget that shows only text (no figure): its description line stays, and says so
                output.setdefault("metadata", {})[NO_PICTURE] = True
            replaced += 1
    return replaced


def prepare(nb, url=None, imgs=IMGS):
    """Steps 1 and 2 (and 3 when the notebook carries widget state)."""
    ensure_setup_cell(nb, url)
    attach_diagrams(nb, imgs)
    widget_pictures(nb)
    return nb


def colab_line(url=None, paths=None):
    """README.md's line of "Open in Colab" links, one per notebook, from the repository's address."""
    url = (url or repository_url()).removeprefix("https://github.com/")
    paths = paths or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    links = [f"[{p.name[:2]}](https://colab.research.google.com/github/{url}/blob/main/notebooks/{p.name})"
             for p in paths]
    return "Open in Colab: " + " · ".join(links)


def update_readme(readme=ROOT / "README.md"):
    text = Path(readme).read_text(encoding="utf-8")
    new = re.sub(r"^Open in Colab: .*$", lambda m: colab_line(), text, count=1, flags=re.M)
    Path(readme).write_text(new, encoding="utf-8")


def main(args):
    if args == ["--readme"]:
        update_readme()
        print("README.md: Open in Colab line rewritten")
        return
    paths = [Path(a).resolve() for a in args] or sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.write(prepare(nb), path)
        print(f"prepared {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])
