"""README.md stays true: its example prints what it says, .ci/run runs its test command, every notebook is listed."""

import contextlib
import io
import re

from notebook_utils import ROOT, notebook_paths

README = (ROOT / "README.md").read_text(encoding="utf-8")


def run_example(example):
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exec(compile(example, "README.md", "exec"), {})
    return stdout.getvalue()


def test_python_examples_print_what_their_comments_say():
    untrained, trained = re.findall(r"```python\n(.*?)```", README, re.S)
    expected = re.search(r'# an untrained model: "(.*)"', untrained).group(1)
    assert run_example(untrained) == expected + "\n"

    from gpt_from_scratch.stories import check_story

    begins = re.search(r'# a story: "(.*) \.\.\."', trained).group(1)
    story = run_example(trained).strip()
    assert story.startswith(begins), story
    assert all(check_story(story).grammatical) and check_story(story).consistent


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```bash\n(.*?)\n```", README, re.S)
    [test_command] = [c for c in commands if "pytest" in c]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ci = ci.replace('"', "").replace("$venv", ".venv").replace(" -q", "")  # quoting and quiet pip aside
    assert test_command in ci


def test_every_notebook_is_listed():
    for path in notebook_paths():
        assert f"(notebooks/{path.name})" in README, f"README.md does not list {path.name}"
