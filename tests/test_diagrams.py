"""The diagrams in imgs/ are exactly what tools/make_diagrams.py draws, and every one a notebook shows exists.

How "exactly" is judged:
- With the matplotlib version that drew the committed files (it is written into each PNG's "Source"
  text chunk, and requirements.txt pins it, so CI has it), the redrawn images must decode to the very
  same pixels. We compare decoded pixels rather than file bytes because the bytes also depend on the
  zlib inside Pillow, which nothing pins: two identical images can compress differently. (On this
  project's machines the bytes are identical too; `python tools/make_diagrams.py --check` says so.)
- With another matplotlib version (a developer who did not install requirements.txt), antialiasing may
  legitimately change some edge pixels, so only the image size and a small root-mean-square difference
  are required. That is a coarse check: erasing one short label of transformer_block.png gives an RMS
  of about 4, shifting the whole image by one pixel about 16; install the pinned version for the
  exact check.
"""

import importlib.util
import re
import shutil

import matplotlib
import numpy as np
import pytest
from PIL import Image

from notebook_utils import NOTEBOOK_DIR, ROOT, notebook_paths, read

RMS_TOLERANCE = 3.0  # on the 0-255 scale, only used when the matplotlib versions differ


def _load_tool():
    spec = importlib.util.spec_from_file_location("make_diagrams", ROOT / "tools" / "make_diagrams.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_diagrams = _load_tool()
NAMES = sorted(make_diagrams.DIAGRAMS)


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """Every diagram, drawn once into a temporary folder."""
    out = tmp_path_factory.mktemp("diagrams")
    make_diagrams.generate(out)
    return out


def pixels(path):
    with Image.open(path) as image:
        return image.size, np.asarray(image.convert("RGBA"), dtype=np.float64)


def drawn_with(path):
    with Image.open(path) as image:
        return image.info.get("Source", "")


@pytest.mark.parametrize("name", NAMES)
def test_diagram_is_committed(name):
    assert (ROOT / "imgs" / name).is_file(), f"run: python tools/make_diagrams.py  (imgs/{name} is missing)"


@pytest.mark.parametrize("name", NAMES)
def test_diagram_regenerates_identically(fresh, name):
    committed, redrawn = ROOT / "imgs" / name, fresh / name
    (size_a, a), (size_b, b) = pixels(committed), pixels(redrawn)
    assert size_a == size_b, f"{name}: {size_a} committed vs {size_b} redrawn; run python tools/make_diagrams.py"
    if drawn_with(committed) == drawn_with(redrawn):  # the same matplotlib version drew both
        assert np.array_equal(a, b), f"{name} is out of date; run python tools/make_diagrams.py"
    else:
        rms = float(np.sqrt(np.mean((a - b) ** 2)))
        assert rms <= RMS_TOLERANCE, (
            f"{name} differs (RMS {rms:.2f}) and was drawn by another matplotlib "
            f"({drawn_with(committed)!r}, installed {matplotlib.__version__}); run python tools/make_diagrams.py"
        )


def test_diagrams_are_projector_sized(fresh):
    for name in NAMES:
        (width, height), _ = pixels(fresh / name)
        assert width == 1620 and 800 <= height <= 1800, (name, width, height)


def test_check_notices_a_changed_or_missing_diagram(fresh, tmp_path):
    for name in NAMES:
        shutil.copy(fresh / name, tmp_path / name)
    assert make_diagrams.compare(fresh, tmp_path) == []
    size, _ = pixels(fresh / NAMES[0])
    Image.new("RGBA", size, "white").save(tmp_path / NAMES[0])
    (tmp_path / NAMES[1]).unlink()
    assert make_diagrams.compare(fresh, tmp_path) == [NAMES[0], f"{NAMES[1]} (missing)"]


def test_notebook_images_exist():
    for path in notebook_paths():
        for cell in read(path).cells:
            attached = [f"../imgs/{n}" for n in re.findall(r"\(attachment:([^)\s]+)\)", cell.source)]
            for image in re.findall(r"\.\./imgs/[^)\s\"'>]+", cell.source) + attached:
                assert (NOTEBOOK_DIR / image).resolve().is_file(), f"{path.name} references missing {image}"
