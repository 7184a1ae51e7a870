"""The notebooks' hygiene and teaching structure, and that the code they teach is the package's code.

nbval (run by the README's test command) checks that every stored output reproduces; these
tests check what nbval does not.
"""

import ast
import inspect
import json
import re

import pytest

import gpt_from_scratch
from notebook_utils import NOTEBOOK_DIR, ROOT, cells, normalized, notebook_paths, prose_words, read, top_level_definitions

# What each notebook builds in visible code; it must equal the package's version.
TAUGHT = {
    "01": ["DummyGPTModel", "DummyTransformerBlock", "DummyLayerNorm"],
    "02": ["LayerNorm"],
    "03": ["GELU", "FeedForward"],
    "04": ["ExampleDeepNeuralNetwork", "layer_gradients"],
    "05": ["MultiHeadAttention"],
    "06": ["TransformerBlock"],
    "07": ["GPTModel"],
    "08": ["parameter_breakdown"],
    "09": ["generate_text_simple"],
    "12": ["convert_gpt2_state_dict", "gpt2_tensors_from_model", "save_gpt2_checkpoint"],
}

PATHS = notebook_paths()
IDS = [p.stem for p in PATHS]


def test_the_series_is_there():
    numbers = [p.name[:2] for p in PATHS]
    assert numbers[:10] == [f"{i:02d}" for i in range(10)], numbers


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_executed_in_order_from_a_fresh_kernel(path):
    counts = [c.execution_count for c in cells(read(path), "code")]
    assert counts == list(range(1, len(counts) + 1)), f"re-run with: python tools/run_notebooks.py {path.name}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_no_errors_paths_or_machine_details(path):
    nb = read(path)
    for cell in cells(nb, "code"):
        for out in cell.outputs:
            assert out.output_type != "error", f"error output in {path.name}: {out.get('ename')}"
            assert out.get("name") != "stderr", f"stderr output in {path.name}: {out.get('text', '')[:200]}"
    text = json.dumps(nb)
    for pattern in (r"/root\b", r"/home/", r"/Users/", r"/work/", r"C:\\\\Users", r"site-packages", r"/tmp/"):
        assert not re.search(pattern, text), f"{path.name} contains {pattern!r}"
    assert nb.metadata.kernelspec.name == "python3"
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, set(nb.metadata)


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_teaches_in_prose(path):
    nb = read(path)
    markdown = "\n".join(c.source for c in cells(nb, "markdown"))
    assert prose_words(nb) >= 500, f"{path.name} has {prose_words(nb)} words of prose"
    for heading in ("Learning goals", "Summary", "Exercise"):
        assert re.search(rf"^#+ .*{heading}", markdown, re.M | re.I), f"{path.name} lacks a '{heading}' heading"
    assert "<details>" in markdown, f"{path.name} has no revealable solution"
    # Explanation before each code step: no two code cells in a row without prose between them.
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown"
    assert "code,code,code" not in ",".join(kinds), f"{path.name} has three code cells in a row"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_has_a_figure(path):
    nb = read(path)
    images = re.findall(r"\]\((\.\./imgs/[^)\s]+)\)", "\n".join(c.source for c in cells(nb, "markdown")))
    for image in images:
        assert (NOTEBOOK_DIR / image).resolve().is_file(), f"{path.name} references missing {image}"
    plots = [o for c in cells(nb, "code") for o in c.outputs if "image/png" in o.get("data", {})]
    assert images or plots, f"{path.name} has neither a diagram nor a plot"


@pytest.mark.parametrize("number,names", sorted(TAUGHT.items()))
def test_taught_code_is_the_package_code(number, names):
    [path] = [p for p in PATHS if p.name.startswith(number)]
    defined = top_level_definitions(read(path))
    for name in names:
        assert name in defined, f"{path.name} no longer builds {name}"
        ours = ast.parse(inspect.getsource(getattr(gpt_from_scratch, name))).body[0]
        theirs = defined[name]
        if isinstance(theirs, ast.FunctionDef):
            assert normalized(theirs) == normalized(ours), f"{name} in {path.name} differs from the package"
            continue
        assert ast.dump(ast.Module(theirs.bases, [])) == ast.dump(ast.Module(ours.bases, []))
        package_methods = {n.name: n for n in ours.body if isinstance(n, ast.FunctionDef)}
        for method in (n for n in theirs.body if isinstance(n, ast.FunctionDef)):
            assert method.name in package_methods, f"{name}.{method.name} is not in the package"
            assert normalized(method) == normalized(package_methods[method.name]), (
                f"{name}.{method.name} in {path.name} differs from gpt_from_scratch"
            )


def test_drift_check_can_fail():
    """The comparison above must notice a one-character change in a method body."""
    [path] = [p for p in PATHS if p.name.startswith("02")]
    node = top_level_definitions(read(path))["LayerNorm"]
    forward = next(n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "forward")
    changed = ast.parse(ast.unparse(forward).replace("unbiased=False", "unbiased=True")).body[0]
    assert normalized(changed) != normalized(forward)



@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_excluded_cells_say_why(path):
    """A cell nbval does not compare must explain itself in a comment right after the marker."""
    for cell in cells(read(path), "code"):
        lines = cell.source.splitlines()
        if any("NBVAL_SKIP" in l or "NBVAL_RAISES_EXCEPTION" in l for l in lines):
            pytest.fail(f"{path.name}: only NBVAL_IGNORE_OUTPUT is allowed, and only with a reason")
        if lines and lines[0].startswith("# NBVAL_IGNORE_OUTPUT"):
            reason = lines[0][len("# NBVAL_IGNORE_OUTPUT"):].strip(" -:—")
            if not reason and len(lines) > 1 and lines[1].lstrip().startswith("#"):
                reason = lines[1].lstrip("# ")
            assert len(reason) > 20, f"{path.name}: an NBVAL_IGNORE_OUTPUT cell without a reason:\n{cell.source[:200]}"
        else:
            assert "NBVAL_IGNORE_OUTPUT" not in cell.source, f"{path.name}: the marker must be the first line"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_links_to_other_notebooks_resolve(path):
    markdown = "\n".join(c.source for c in cells(read(path), "markdown"))
    for target in re.findall(r"\]\(([^)\s#]+\.ipynb)", markdown):
        assert (NOTEBOOK_DIR / target).is_file(), f"{path.name} links to missing {target}"
