"""Notebooks 09 onwards in JupyterLab started as the README says: the second half of tests/test_browser.py.

Its own module, so its own JupyterLab server and browser: pytest-xdist (--dist loadfile) runs it on one
worker while test_browser.py runs on the other. Everything it checks is described in test_browser.py.
"""

import pytest

from test_browser import NOTEBOOKS, browser, browser_page, lab, notebook_test, page, workdir  # noqa: F401 (fixtures)

LATER = [path for path in NOTEBOOKS if path.name >= "09"]


def test_the_two_modules_cover_the_series():
    from test_browser import FIRST

    assert sorted(FIRST + LATER) == NOTEBOOKS and not set(FIRST) & set(LATER)


@pytest.mark.parametrize("path", LATER, ids=[p.stem for p in LATER])
def test_notebook_runs_and_shows_everything_in_jupyterlab(path, lab, page):
    notebook_test(path, lab, page)
