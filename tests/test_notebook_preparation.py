"""What tools/prepare_notebooks.py keeps in every notebook, checked on the committed notebooks (setup cell,
diagrams as attachments equal to imgs/, no widget view without its picture), and the tool's own logic: the
setup cell's guard, widget pictures from nbclient's widget state, idempotence."""

import base64
import copy
import os
import subprocess
import sys

import nbformat
import pytest

from notebook_utils import ROOT, cells, notebook_paths, read

sys.path.insert(0, str(ROOT / "tools"))
import prepare_notebooks as prep  # noqa: E402

PATHS = notebook_paths()
IDS = [p.name[:2] for p in PATHS]
WIDGET_TEXT = "(a widget: it appears when this cell runs in a live kernel)"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_setup_cell_comes_right_after_the_title(path):
    nb = read(path)
    setup = nb.cells[1]
    assert setup.cell_type == "code" and setup.source == prep.setup_source(), \
        f"run: python tools/run_notebooks.py {path.name}  (or tools/prepare_notebooks.py, then re-execute)"
    assert setup.outputs == [], "the setup cell prints nothing where the package is installed"
    assert sum(c.source.startswith(prep.SETUP_MARKER) for c in cells(nb, "code")) == 1


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_diagrams_are_attachments_equal_to_imgs(path):
    for cell in cells(read(path), "markdown"):
        assert not prep.IMAGE_LINK.search(cell.source), f"{path.name} links ../imgs/: run tools/prepare_notebooks.py"
        names = set(prep.ATTACHMENT_LINK.findall(cell.source))
        attached = cell.get("attachments", {})
        assert set(attached) == names, f"{path.name}: attachments {sorted(attached)} for links {sorted(names)}"
        for name in names:
            assert (ROOT / "imgs" / name).is_file(), f"{path.name} shows {name}, which imgs/ lacks"
            assert attached[name]["image/png"] == prep.png_base64(name), \
                f"{path.name}: {name} differs from imgs/{name}: run tools/prepare_notebooks.py"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_widgets_are_stored_as_pictures_without_a_view(path):
    for cell in cells(read(path), "code"):
        for output in cell.outputs:
            data = output.get("data", {})
            assert prep.WIDGET_VIEW not in data, f"{path.name} stores a widget view: run tools/run_notebooks.py"
            if WIDGET_TEXT in "".join(data.get("text/plain", "")):
                assert "image/png" in data or output.get("metadata", {}).get(prep.NO_PICTURE), \
                    f"{path.name}: a widget without the picture of its first drawing"


def guard_says_install(tmp_path, pythonpath):
    """Run the setup cell's guard in a fresh interpreter, its %pip lines replaced by a print."""
    source = prep.setup_source("https://example.invalid/repo").split("import torch")[0]
    lines = [line.split("%pip")[0] + f"print('pip', {line.split('%pip ')[1]!r})" if "%pip" in line else line
             for line in source.splitlines()]
    source = "\n".join(lines)
    script = tmp_path / "guard.py"
    script.write_text(source)
    env = dict(os.environ, PYTHONPATH=str(pythonpath))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_guard_is_silent_where_the_package_is_installed(tmp_path):
    assert guard_says_install(tmp_path, ROOT) == ""


def test_the_guard_replaces_the_unrelated_package_of_the_same_name(tmp_path):
    other = tmp_path / "site" / "gpt_from_scratch"  # what PyPI's gpt-from-scratch installs: no exercises.py
    other.mkdir(parents=True)
    (other / "__init__.py").write_text("")
    said = guard_says_install(tmp_path, other.parent)
    assert said.startswith("Installing the series' package")
    assert "uninstall --quiet --yes gpt-from-scratch" in said
    assert 'install --quiet "gpt-from-scratch-course[notebooks] @ git+https://example.invalid/repo"' in said


def tiny_notebook(tmp_path):
    imgs = tmp_path / "imgs"
    imgs.mkdir()
    (imgs / "a.png").write_bytes(b"\x89PNG first")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title\n\n![a diagram](../imgs/a.png)"),
        nbformat.v4.new_code_cell("x = 1"),
    ])
    return nb, imgs


def test_prepare_is_idempotent_and_follows_imgs(tmp_path):
    nb, imgs = tiny_notebook(tmp_path)
    once = prep.prepare(nb, "https://example.invalid/repo", imgs)
    twice = prep.prepare(copy.deepcopy(once), "https://example.invalid/repo", imgs)
    assert once == twice
    assert [c.cell_type for c in once.cells] == ["markdown", "code", "code"]
    assert "](attachment:a.png)" in once.cells[0].source
    assert once.cells[0].attachments["a.png"]["image/png"] == base64.b64encode(b"\x89PNG first").decode()
    (imgs / "a.png").write_bytes(b"\x89PNG redrawn")  # tools/make_diagrams.py redrew it: the tool follows
    again = prep.prepare(once, "https://example.invalid/repo", imgs)
    assert again.cells[0].attachments["a.png"]["image/png"] == base64.b64encode(b"\x89PNG redrawn").decode()


def test_an_outdated_setup_cell_is_replaced_not_duplicated(tmp_path):
    nb, imgs = tiny_notebook(tmp_path)
    prep.prepare(nb, "https://example.invalid/old", imgs)
    nb.cells.insert(2, nb.cells.pop(1))  # moved by hand, and the repository moved
    prep.prepare(nb, "https://example.invalid/new", imgs)
    setups = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(prep.SETUP_MARKER)]
    assert len(setups) == 1 and nb.cells[1] is setups[0] and "example.invalid/new" in setups[0].source


def widget_notebook(png="iVBORw0KGgo="):
    view = {prep.WIDGET_VIEW: {"model_id": "box", "version_major": 2, "version_minor": 0},
            "text/plain": f"Explorer {WIDGET_TEXT}"}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "w", outputs=[nbformat.v4.new_output("display_data", data=view)])])
    state = {
        "box": {"state": {"children": ["IPY_MODEL_header", "IPY_MODEL_out"]}},
        "header": {"state": {"children": []}},
        "out": {"state": {"outputs": [{"output_type": "display_data", "data": {"text/plain": "caption"}},
                                      {"output_type": "display_data", "data": {"image/png": png}}]}},
    }
    nb.metadata["widgets"] = {prep.WIDGET_STATE: {"state": state}}
    return nb


def test_a_widget_view_becomes_the_picture_of_its_first_drawing():
    nb = widget_notebook()
    assert prep.widget_pictures(nb) == 1
    data = nb.cells[0].outputs[0].data
    assert set(data) == {"image/png", "text/plain"} and data["image/png"] == "iVBORw0KGgo="


def test_a_widget_that_draws_only_text_keeps_its_line_and_says_so():
    nb = widget_notebook()
    state = nb.metadata["widgets"][prep.WIDGET_STATE]["state"]
    state["out"]["state"]["outputs"] = [{"output_type": "display_data", "data": {"text/html": "<p>a story</p>"}}]
    assert prep.widget_pictures(nb) == 1
    output = nb.cells[0].outputs[0]
    assert set(output.data) == {"text/plain"} and output.metadata[prep.NO_PICTURE] is True


def test_without_widget_state_the_views_are_kept_for_a_later_run():
    nb = widget_notebook()
    del nb.metadata["widgets"]
    assert prep.widget_pictures(nb) == 0 and prep.WIDGET_VIEW in nb.cells[0].outputs[0].data


def test_the_readme_links_every_notebook_to_colab():
    lines = [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
             if line.startswith("Open in Colab: ")]
    assert lines == [prep.colab_line()], "run: python tools/prepare_notebooks.py --readme"
    assert all(f"/notebooks/{p.name})" in lines[0] for p in PATHS)
