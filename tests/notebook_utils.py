"""Reading the notebooks for the tests: their files, prose and top-level definitions."""

import ast
import re
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_DIR = ROOT / "notebooks"


def notebook_paths():
    return sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def read(path):
    return nbformat.read(path, as_version=4)


def cells(nb, kind):
    return [c for c in nb.cells if c.cell_type == kind]


def prose_words(nb):
    text = " ".join(c.source for c in cells(nb, "markdown"))
    text = re.sub(r"```.*?```", " ", text, flags=re.S)  # code blocks are not prose
    return len(re.findall(r"[A-Za-z][A-Za-z'-]*", text))


def _strip_docstring(node):
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        node.body = body[1:]
    return node


def normalized(node):
    """ast.dump of a def/class without docstrings (comments never reach the AST)."""
    node = _strip_docstring(node)
    for child in ast.walk(node):
        if isinstance(child, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            _strip_docstring(child)
    return ast.dump(node, annotate_fields=True, include_attributes=False)


def top_level_definitions(nb):
    """{name: ast node} for every class and function a notebook's code cells define at top level."""
    found = {}
    for cell in cells(nb, "code"):
        source = "\n".join(l for l in cell.source.splitlines() if not l.lstrip().startswith(("%", "!")))
        for node in ast.parse(source).body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                found[node.name] = node
    return found
