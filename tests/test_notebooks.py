"""The notebooks' hygiene and teaching structure, and that the code they teach is the package's code.

nbval (run by the README's test command) checks that every stored output reproduces; these
tests check what nbval does not.
"""

import ast
import importlib
import inspect
import json
import re

import pytest
from nbval.plugin import find_comment_markers

from notebook_utils import NOTEBOOK_DIR, cells, normalized, notebook_paths, prose_words, read, top_level_definitions

# What each notebook builds in visible code, and the package module that holds it; the two must be equal.
TAUGHT = {
    "01": ("dummy", ["DummyGPTModel", "DummyTransformerBlock", "DummyLayerNorm"]),
    "02": ("layernorm", ["LayerNorm"]),
    "03": ("feedforward", ["GELU", "FeedForward"]),
    "04": ("shortcut", ["ExampleDeepNeuralNetwork", "layer_gradients"]),
    "05": ("attention", ["MultiHeadAttention"]),
    "06": ("block", ["TransformerBlock"]),
    "07": ("model", ["GPTModel"]),
    "08": ("params", ["parameter_breakdown"]),
    "09": ("generate", ["generate_text_simple"]),
    "10": ("train", ["StoryTokenizer", "encode_stories", "GPTDataset", "story_starts", "create_dataloader",
                     "calc_loss_batch", "calc_loss_loader", "evaluate_model", "train_model_simple",
                     "cosine_schedule", "save_checkpoint", "load_checkpoint"]),
    "11": ("sampling", ["top_k_filter", "top_p_filter", "next_token_probs", "sample_next_token"]),
    "12": ("kv_cache", ["KVCache", "check_cache_ready", "cached_attention", "cached_block", "forward_with_cache"]),
    "13": ("pretrained", ["_owned", "_take", "_as_linear_weight", "convert_gpt2_state_dict",
                          "gpt2_tensors_from_model", "save_gpt2_checkpoint"]),
    "14": ("llama", ["RMSNorm", "rotate_half", "apply_rope", "RotaryEmbedding", "SwiGLUFeedForward",
                     "GroupedQueryAttention", "LlamaBlock", "LlamaModel"]),
    "15": ("faster", ["make_adamw", "autocast", "accumulate_gradients", "training_step", "saved_activation_bytes",
                      "fast_settings"]),
}
# A notebook that teaches code of a second module as well.
TAUGHT_MORE = {
    "10": ("interpret", ["ablate_head"]),
}

PATHS = notebook_paths()
IDS = [p.stem for p in PATHS]


def test_the_series_is_there():
    numbers = [p.name[:2] for p in PATHS]
    assert numbers == [f"{i:02d}" for i in range(len(numbers))], numbers


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
    for problem in exercise_problems(nb, path.name[:2]):
        pytest.fail(f"{path.name}: {problem}")
    # Explanation before each code step: no two code cells in a row without prose between them.
    kinds = [c.cell_type for c in nb.cells]
    assert kinds[0] == "markdown"
    assert "code,code,code" not in ",".join(kinds), f"{path.name} has three code cells in a row"


def exercise_problems(nb, number):
    """What is wrong with a notebook's exercises, as a list of messages (empty when all is well).

    Each exercise (a markdown cell with "**Exercise k") keeps its reference solution inside <details>
    and is followed by a learner cell: `answer = None` and the call of its checker `check_NN_k` from
    gpt_from_scratch.exercises. No visible cell runs the solution.
    """
    problems = []
    from gpt_from_scratch import exercises

    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown":
            continue
        for k in re.findall(r"\*\*Exercise (\d+)", cell.source):
            name = f"check_{number}_{k}"
            after = cell.source[cell.source.index(f"**Exercise {k}"):]
            if "<details>" not in after:
                problems.append(f"exercise {k} has no solution inside <details>")
            following = nb.cells[i + 1] if i + 1 < len(nb.cells) else None
            if following is None or following.cell_type != "code" or name not in following.source:
                problems.append(f"exercise {k} is not followed by a cell that calls {name}")
            elif "answer = None" not in following.source:
                problems.append(f"exercise {k}: the learner cell should start from `answer = None`")
            if not hasattr(exercises, name):
                problems.append(f"gpt_from_scratch.exercises has no {name}")
    return problems


def test_exercise_check_can_fail():
    import nbformat

    md = nbformat.v4.new_markdown_cell("**Exercise 1.** Count.\n\n<details><summary>Solution</summary>42</details>")
    good = nbformat.v4.new_code_cell("from gpt_from_scratch.exercises import check_00_1\n\nanswer = None\ncheck_00_1(answer)")
    spoiled = nbformat.v4.new_code_cell("print(42)")
    assert exercise_problems(nbformat.v4.new_notebook(cells=[md, good]), "00") == []
    assert "not followed" in exercise_problems(nbformat.v4.new_notebook(cells=[md, spoiled]), "00")[0]


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_has_a_figure(path):
    nb = read(path)
    markdown = "\n".join(c.source for c in cells(nb, "markdown"))
    # A diagram is linked as ../imgs/NAME.png or, after tools/prepare_notebooks.py, attached as attachment:NAME.png.
    images = re.findall(r"\]\((\.\./imgs/[^)\s]+)\)", markdown)
    images += [f"../imgs/{name}" for name in re.findall(r"\]\(attachment:([^)\s]+)\)", markdown)]
    for image in images:
        assert (NOTEBOOK_DIR / image).resolve().is_file(), f"{path.name} references missing {image}"
    plots = [o for c in cells(nb, "code") for o in c.outputs if "image/png" in o.get("data", {})]
    assert images or plots, f"{path.name} has neither a diagram nor a plot"


@pytest.mark.parametrize("number,module,names", [(n, m, names) for table in (TAUGHT, TAUGHT_MORE)
                                                    for n, (m, names) in sorted(table.items())])
def test_taught_code_is_the_package_code(number, module, names):
    [path] = [p for p in PATHS if p.name.startswith(number)]
    defined = top_level_definitions(read(path))
    package_module = importlib.import_module(f"gpt_from_scratch.{module}")
    for name in names:
        assert name in defined, f"{path.name} no longer builds {name}"
        ours = ast.parse(inspect.getsource(getattr(package_module, name))).body[0]
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



def exclusion_problem(source):
    """Why a code cell's use of nbval's markers is not allowed, or None.

    Only NBVAL_IGNORE_OUTPUT is allowed, alone on the cell's first line (nbval recognises a marker only
    when the whole comment is the marker), followed by a comment line saying why.
    """
    lines = source.splitlines()
    if any(m in source for m in ("NBVAL_SKIP", "NBVAL_RAISES_EXCEPTION", "NBVAL_CHECK_OUTPUT")):
        return "only NBVAL_IGNORE_OUTPUT is allowed"
    if "NBVAL_IGNORE_OUTPUT" not in source:
        return None
    if dict(find_comment_markers(source)).get("check") is not False:
        return "nbval does not see this NBVAL_IGNORE_OUTPUT: write '# NBVAL_IGNORE_OUTPUT' alone on its line"
    if lines[0].strip() != "# NBVAL_IGNORE_OUTPUT":
        return "the marker must be the first line"
    reason = lines[1].lstrip("# ").strip() if len(lines) > 1 and lines[1].lstrip().startswith("#") else ""
    if len(reason) <= 20:
        return "the marker must be followed by a comment line saying why the output is not compared"
    return None


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_excluded_cells_say_why(path):
    """A cell nbval does not compare is really excluded by nbval and explains itself right after the marker."""
    for cell in cells(read(path), "code"):
        problem = exclusion_problem(cell.source)
        assert problem is None, f"{path.name}: {problem}:\n{cell.source[:200]}"


def test_exclusion_check_can_fail():
    reason = "# the device differs between machines, nothing else is printed"
    assert exclusion_problem(f"# NBVAL_IGNORE_OUTPUT\n{reason}\nprint(device)") is None
    assert "does not see" in exclusion_problem(f"# NBVAL_IGNORE_OUTPUT: {reason[2:]}\nprint(device)")
    assert "first line" in exclusion_problem(f"x = 1\n# NBVAL_IGNORE_OUTPUT\n{reason}")
    assert "saying why" in exclusion_problem("# NBVAL_IGNORE_OUTPUT\nprint(device)")
    assert "only" in exclusion_problem("# NBVAL_SKIP\nprint(1)")


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_links_to_other_notebooks_resolve(path):
    markdown = "\n".join(c.source for c in cells(read(path), "markdown"))
    for target in re.findall(r"\]\(([^)\s#]+\.ipynb)", markdown):
        assert (NOTEBOOK_DIR / target).is_file(), f"{path.name} links to missing {target}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_ends_with_previous_and_next_links_that_resolve(path):
    """The last cell links to the notebooks before and after (the first and the last link to the README)."""
    last = read(path).cells[-1]
    assert last.cell_type == "markdown" and "**Previous:**" in last.source and "**Next:**" in last.source, last.source
    targets = re.findall(r"\]\(([^)#]+)", last.source)
    assert len(targets) == 2, targets
    for target in targets:
        assert (path.parent / target).resolve().is_file(), f"{path.name} links to {target}, which does not exist"
