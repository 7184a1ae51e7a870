"""Every notebook works where learners use it: JupyterLab started exactly as the README says, in a real browser.

The test copies the repository into a temporary folder (the committed notebooks are never touched), starts
JupyterLab there with the README's own open command (read from README.md, so the two cannot drift; the test
only adds a port, a token, --no-browser and --allow-root), and opens it in Debian's headless Chromium driven
by Playwright. JupyterLab loads once, in one tab; the notebooks open in it one after the other (File > Open
from Path...), and each is closed and its kernel shut down before the next. For every notebook of the series
(notebooks/[0-9][0-9]_*.ipynb, so a new notebook is covered without editing this file) it clears the outputs,
runs all cells from the Run menu, waits for the kernel, and fails on:
  - an <img> that did not load (naturalWidth == 0): a diagram path that does not resolve from the served root;
  - a relative link in the prose that does not resolve (the server answers 404);
  - any error or stderr output, or a widget that could not be displayed;
  - a widget that does not redraw after one of its controls changes.
`test_the_checks_catch_a_broken_page` shows that these checks fail on a broken page.

Screenshots land in tests/_artifacts/ (git-ignored), one per notebook, for review:
    browser-<notebook>.png          the notebook after Run All, scrolled to its widget or first figure
    browser-<notebook>-widget.png   each widget after its control changed (-widget2.png for a second one)
    browser-<notebook>-console.log  the browser console and the server log
    browser-<notebook>-timing.txt   the time in the browser, by phase, and each widget's redraw time
Needs /usr/bin/chromium (apt-get install -y chromium) and the playwright package (requirements-dev.txt);
it is skipped, saying which is missing, without them (it fails instead when REQUIRE_BROWSER_TEST=1).
`playwright install` is never needed.
"""

import os
import re
import threading
import time
from pathlib import Path

import nbformat
import pytest

from browser_utils import CHROMIUM, CHROMIUM_ARGS, JupyterLab, copy_repository, missing_requirements, readme_lab_args

_missing = missing_requirements()
if _missing and os.environ.get("REQUIRE_BROWSER_TEST") == "1":  # CI sets it: there, a skip would hide a gap
    pytest.fail(f"REQUIRE_BROWSER_TEST=1 but {_missing}", pytrace=False)
if _missing:
    pytest.skip(f"browser test skipped: {_missing}", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on screen
MAIN_TAB = "#jp-main-dock-panel .lm-TabBar-tab.lm-mod-current"  # its tab

# Generous limits: the CI machine may have two slow cores, and the first torch import is slow.
RUN_ALL_TIMEOUT_S = 240
REDRAW_TIMEOUT_S = 30


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A copy of the repository, as a learner has it after cloning."""
    return copy_repository(tmp_path_factory.mktemp("browser") / "repo")


@pytest.fixture(scope="module")
def lab(workdir):
    with JupyterLab(workdir, readme_lab_args()) as server:
        yield server
    assert not server.leftover, f"processes of the JupyterLab server still alive: {server.leftover}"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def browser_page(browser, lab):
    """One browser tab for the whole module, as a learner has: JupyterLab loads once, and every notebook opens
    in it from the File menu (loading the app takes several seconds; opening a notebook in it, one or two).
    The tab may only talk to our server; its console is kept for diagnosis."""
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.console, page.blocked, page.loaded = [], [], False

    def only_local(route):
        if route.request.url.startswith(lab.url):
            route.continue_()
        else:
            page.blocked.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page.on("console", lambda message: page.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.console.append(f"pageerror: {error}"))
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser_page, lab):
    """The module's tab, with a console log of its own; afterwards the notebook is closed and its kernel shut down."""
    browser_page.console.clear()
    browser_page.blocked.clear()
    try:
        yield browser_page
    finally:
        close_notebooks(browser_page)
        lab.shutdown_kernels(wait=False)  # the next notebook need not wait for this kernel to exit


# ----------------------------------------------------------------------------- what the test does on a page


def menu(page, menu_name, item):
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu_name}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def open_notebook(page, lab, path):
    """Open `path` (relative to the served root) and wait until it is shown and its kernel is idle.

    The first notebook loads JupyterLab at the notebook's URL; later ones open from File > Open from Path...,
    as a learner opens the next notebook in the same JupyterLab. Its kernel is started alongside (see
    JupyterLab.start_session), so that it boots while the page renders."""
    kernel = threading.Thread(target=lab.start_session, args=(path,))
    kernel.start()
    if page.loaded:
        menu(page, "File", "Open from Path…")
        page.locator(".jp-Dialog input").fill(path)
        page.locator(".jp-Dialog .jp-mod-accept").click()
    else:
        page.goto(lab.notebook_url(path))
    kernel.join()
    expect(page.locator(f"{MAIN_TAB} .lm-TabBar-tabLabel")).to_have_text(Path(path).name, timeout=90_000)
    expect(page.locator(f"{PANEL} .jp-Cell").first).to_be_visible(timeout=90_000)
    expect(page.locator("#jp-main-statusbar")).to_contain_text(re.compile(r"\| Idle"), timeout=90_000)
    page.loaded = True


def close_notebooks(page):
    """File > Close Tab (discarding the cleared and re-run outputs) for every open notebook; if that fails, the
    next test reloads the app. The kernels are shut down separately (JupyterLab.shutdown_kernels)."""
    try:
        for _ in range(page.locator(".jp-NotebookPanel").count()):
            open_now = page.locator(".jp-NotebookPanel").count()
            menu(page, "File", "Close Tab")
            page.wait_for_function("n => document.querySelector('.jp-Dialog') "
                                   "|| document.querySelectorAll('.jp-NotebookPanel').length < n", arg=open_now)
            if page.locator(".jp-Dialog").count():  # "Save your work?": the run's outputs are not to be kept
                page.locator(".jp-Dialog button", has_text=re.compile("^Discard$")).click()
        expect(page.locator(".jp-NotebookPanel")).to_have_count(0, timeout=30_000)
    except Exception:
        page.loaded = False


def run_all(page):
    """Clear every output, Run All Cells, and wait until the kernel is idle and every code cell has run
    (or one failed). Clearing first makes "[*]" -> "[n]" the sign of progress."""
    menu(page, "Edit", "Clear Outputs of All Cells")
    menu(page, "Run", "Run All Cells")
    page.wait_for_function("""panel => {
        const prompts = [...document.querySelectorAll(`${panel} .jp-CodeCell .jp-InputPrompt`)]
            .map(p => p.textContent.trim());
        const status = document.querySelector(`${panel} .jp-Notebook-ExecutionIndicator`);
        const failed = document.querySelector(`${panel} [data-mime-type="application/vnd.jupyter.stderr"]`);
        return status && status.dataset.status === 'idle' && prompts.length > 0 && !prompts.includes('[*]:')
            && (failed || prompts.every(p => /^\\[\\d+\\]:$/.test(p)));
    }""", arg=PANEL, timeout=RUN_ALL_TIMEOUT_S * 1000, polling=200)


def errors_shown(page):
    """Every error, stderr text or broken widget the open notebook shows."""
    panel = page.locator(PANEL)
    problems = [f"stderr/error output: {text[:500]}" for text in
                panel.locator('[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()]
    text = "\n".join(panel.locator(".jp-OutputArea").all_inner_texts())  # outputs only, not the prose
    for marker in ("Error displaying widget", "model not found", "Traceback", "Failed to load model class"):
        if marker in text:
            problems.append(f"the page shows {marker!r}")
    return problems


def broken_images(page):
    """The src of every <img> in the notebook that did not load (naturalWidth == 0), once all have settled."""
    page.wait_for_function(f"""() => [...document.querySelectorAll('{PANEL} img')].every(i => i.complete)""",
                           timeout=30_000, polling=250)
    return page.evaluate(f"""() => [...document.querySelectorAll('{PANEL} img')]
        .filter(i => i.naturalWidth === 0).map(i => i.getAttribute('src'))""")


def broken_links(page, lab):
    """Every relative link in the prose whose target the server does not have (JupyterLab rewrites a relative
    href to the file's download URL, so a link that points outside the served root, or to a missing file, 404s)."""
    hrefs = page.evaluate(f"""() => [...document.querySelectorAll('{PANEL} .jp-RenderedMarkdown a[href]')]
        .filter(a => !a.getAttribute('href').startsWith('#')).map(a => a.href)""")  # not the headings' anchors
    local = sorted({href.split("#")[0] for href in hrefs if href.startswith(lab.url)})
    problems = []
    for href in local:
        if "/files/" not in href:  # not rewritten (yet): the resolution itself failed
            problems.append(f"{href} (not resolved to a file)")
            continue
        status = page.request.get(href, headers={"Authorization": f"token {lab.token}"}).status
        if status != 200:
            problems.append(f"{href} (HTTP {status})")
    return problems


def page_problems(page, lab):
    return ([f"image did not load: {src}" for src in broken_images(page)]
            + [f"link does not resolve: {href}" for href in broken_links(page, lab)]
            + errors_shown(page))


def playgrounds(page):
    """The notebook's interactive widgets: a VBox with a bold title, its controls, and an Output (marked here
    with a data-playground attribute, so that a locator can name each one and its own Output)."""
    count = page.evaluate(f"""() => {{
        const boxes = [...document.querySelectorAll('{PANEL} .widget-vbox')]
            .filter(box => [...box.children].some(child => child.classList.contains('widget-output')));
        boxes.forEach((box, i) => box.setAttribute('data-playground', i));
        return boxes.length;
    }}""")
    return [page.locator(f'[data-playground="{i}"]') for i in range(count)]


def output_state(widget):
    output = widget.locator(":scope > .widget-output")
    return output.inner_text(), [img.get_attribute("src") for img in output.locator("img").all()]


def choose_a_change(widget):
    """(description, action) for one control change: move the first slider that can still move one step right
    (or else left), or else pick the next entry of the first drop-down, or else add 1 to the first number box.
    Everything but the change itself happens here, so that timing `action()` times the redraw, not the test."""
    handles = widget.locator(".noUi-handle").all()
    for key, can_move in (("ArrowRight", lambda now, low, high: now < high),  # every slider at its maximum
                          ("ArrowLeft", lambda now, low, high: now > low)):   # (a notebook may set them so): left
        for handle in handles:
            now, low, high = (float(handle.get_attribute(f"aria-value{end}")) for end in ("now", "min", "max"))
            if can_move(now, low, high):
                handle.focus()
                return f"a slider one step {'right' if key == 'ArrowRight' else 'left'}", lambda: handle.press(key)
    select = widget.locator("select").first
    if select.count():
        count, current = select.evaluate("s => [s.options.length, s.selectedIndex]")
        return "the next entry of a drop-down", lambda: select.select_option(index=(current + 1) % count)
    box = widget.locator("input[type=number]").first
    box.fill(str(int(box.input_value()) + 1))
    return "a number box + 1", lambda: box.press("Enter")


def check_widgets_redraw(page, stem):
    """Every widget redraws after a control changes; returns {widget title: seconds until the new output showed}."""
    latencies = {}
    for n, widget in enumerate(playgrounds(page)):
        title = widget.locator(".widget-html-content b").first.inner_text()
        widget.scroll_into_view_if_needed()
        # Drawn once: a plot, or (the generation playground) HTML text.
        expect(widget.locator(":scope > .widget-output .jp-OutputArea-output").first).to_be_visible(
            timeout=REDRAW_TIMEOUT_S * 1000)
        before = output_state(widget)
        what, action = choose_a_change(widget)
        started = time.monotonic()
        action()
        try:
            page.wait_for_function("""([el, before]) => {
                const out = [...el.children].find(child => child.classList.contains('widget-output'));
                const srcs = [...out.querySelectorAll('img')].map(i => i.getAttribute('src'));
                return out.innerText !== before[0] || JSON.stringify(srcs) !== JSON.stringify(before[1]);
            }""", arg=[widget.element_handle(), list(before)], timeout=REDRAW_TIMEOUT_S * 1000, polling=50)
        except Exception as err:
            raise AssertionError(f"{stem}: widget {title!r} did not redraw after {what}") from err
        latencies[title] = time.monotonic() - started
        page.wait_for_timeout(300)  # let the new image decode before the screenshot
        widget.screenshot(path=ARTIFACTS / f"browser-{stem}-widget{n + 1 if n else ''}.png")
    return latencies


def screenshot(page, stem):
    """One view of the notebook for review: its first widget if it has one, else its first figure."""
    widgets = playgrounds(page)
    target = widgets[0] if widgets else page.locator(
        f"{PANEL} .jp-OutputArea-output img, {PANEL} .jp-RenderedMarkdown img").first
    if target.count():
        target.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / f"browser-{stem}.png")


def check_notebook(page, lab, relative_path, stem):
    """Open, check the stored page, run all, check again and drive the widgets; returns the widget latencies."""
    ARTIFACTS.mkdir(exist_ok=True)
    for stale in ARTIFACTS.glob(f"browser-{stem}[-.]*"):
        stale.unlink()
    phases, clock = {}, time.monotonic()

    def phase(name):
        nonlocal clock
        phases[name], clock = time.monotonic() - clock, time.monotonic()

    try:
        open_notebook(page, lab, relative_path)
        phase("open")
        problems = page_problems(page, lab)  # the stored outputs, as a learner first sees them
        assert not problems, f"{relative_path} as opened:\n" + "\n".join(problems)
        phase("check stored")
        run_all(page)
        phase("run all")
        problems = page_problems(page, lab)
        assert not problems, f"{relative_path} after Run All:\n" + "\n".join(problems)
        phase("check run")
        latencies = check_widgets_redraw(page, stem)
        assert not errors_shown(page), errors_shown(page)
        phase("widgets")
        screenshot(page, stem)
        phase("screenshot")
        page.phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items())
        return latencies
    except BaseException:
        page.loaded = False  # the next notebook reloads JupyterLab instead of trusting this page
        try:
            page.screenshot(path=ARTIFACTS / f"browser-{stem}-failure.png")
        except Exception:  # the page itself may be what broke
            pass
        raise
    finally:
        (ARTIFACTS / f"browser-{stem}-console.log").write_text("\n".join(
            page.console + [f"blocked: {url}" for url in page.blocked]) + f"\n--- server log\n{lab.log()}")


# ----------------------------------------------------------------------------- the tests


def test_the_readme_command_serves_the_whole_repository(lab):
    """The learner's JupyterLab shows the repository root (imgs/, benchmarks/, README.md) and opens notebook 00."""
    names = {item["name"] for item in lab.api("contents")["content"]}
    assert {"notebooks", "imgs", "benchmarks", "README.md"} <= names, names
    assert lab.start_page() == "notebooks/00_pytorch_basics.ipynb", lab.start_page()


def notebook_test(path, lab, page):
    started = time.monotonic()
    latencies = check_notebook(page, lab, f"notebooks/{path.name}", path.stem)
    shown = ", ".join(f"{title}: redrawn in {seconds:.2f} s" for title, seconds in latencies.items())
    report = f"{path.stem}: {time.monotonic() - started:.1f} s in the browser ({page.phases}){'; ' + shown if shown else ''}"
    print(report)  # shown with -s (and -n 0); also kept with the screenshots:
    (ARTIFACTS / f"browser-{path.stem}-timing.txt").write_text(report + "\n")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_and_shows_everything_in_jupyterlab(path, lab, page):
    notebook_test(path, lab, page)


def broken_notebook():
    """A notebook with everything the checks must catch: a missing diagram, a dead link, stderr output."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                  "language": "python"}, "language_info": {"name": "python"}}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# A broken page\n\n![a diagram](../imgs/gpt_overview.png)\n\n"
                                      "![a missing diagram](../imgs/no_such_diagram.png)\n\n"
                                      "[a good link](../README.md) and [a dead link](99_no_such_notebook.ipynb)"),
        nbformat.v4.new_code_cell("import sys\nprint('something went wrong', file=sys.stderr)"),
    ]
    return nb


def test_the_checks_catch_a_broken_page(workdir, lab, page):
    """The checks the notebooks pass do fail on a broken page: check_notebook raises, naming each problem."""
    broken = workdir / "notebooks" / "zz_broken_page.ipynb"
    nbformat.write(broken_notebook(), broken)
    try:
        open_notebook(page, lab, "notebooks/zz_broken_page.ipynb")
        run_all(page)
        problems = "\n".join(page_problems(page, lab))
        with pytest.raises(AssertionError):
            check_notebook(page, lab, "notebooks/zz_broken_page.ipynb", "zz_broken_page")
    finally:
        broken.unlink()
    assert re.search(r"image did not load: \S*/imgs/no_such_diagram\.png", problems), problems
    assert re.search(r"link does not resolve: \S*/99_no_such_notebook\.ipynb", problems), problems
    assert "stderr/error output: something went wrong" in problems, problems
    assert "gpt_overview.png" not in problems and "README.md" not in problems, problems  # the good ones pass
