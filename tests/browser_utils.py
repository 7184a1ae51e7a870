"""A private JupyterLab server and a headless Chromium for tests/test_browser.py.

The server is started with the README's own command (`readme_lab_args()` reads it from README.md), in a
copy of the repository, so what the test sees is what a learner who follows the README sees. It runs on 127.0.0.1 with a random token and its own throw-away config, settings, workspace and
runtime folders, so nothing from the machine's own Jupyter set-up leaks in and nothing is left behind.
It never fetches news or update checks; the browser is not allowed to reach anything but the server.
"""

import json
import os
import re
import secrets
import shutil
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parent.parent

# Chromium's switches for a quiet, offline, sandbox-less (CI containers run as root) headless run.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# JupyterLab front-end plugins that would ask questions or reach the internet.
DISABLED_PLUGINS = [
    "@jupyterlab/apputils-extension:announcements",  # the "fetch Jupyter news?" toast
    "@jupyterlab/extensionmanager-extension",  # searches PyPI
]


def missing_requirements():
    """Why the browser test cannot run here (a sentence naming the fix), or None when it can."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} is missing (install Debian's browser as root: "
                       "apt-get update && apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright is not installed (pip install -r requirements-dev.txt; "
                       "no `playwright install` needed, the test uses /usr/bin/chromium)")
    return "; ".join(missing) or None


def readme_lab_args(readme=REPO / "README.md"):
    """The arguments after `jupyter lab` in the README's open command, e.g. ['--notebook-dir=.', 'notebooks/00_...'].

    The command is the last step (after the last `&&`) of the README's bash block that runs `jupyter lab`.
    """
    text = Path(readme).read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```bash\n(.*?)\n```", text, re.S) if "jupyter lab" in b]
    words = shlex.split(block.split("&&")[-1])
    assert words[:2] == [".venv/bin/jupyter", "lab"], f"the README's open command is not `.venv/bin/jupyter lab ...`: {block}"
    return words[2:]


def copy_repository(destination, source=REPO):
    """A copy of the repository as a learner has it after cloning (no venv, git data, caches or test output)."""
    skip = shutil.ignore_patterns(".git", ".venv", "venv", "_artifacts", "__pycache__", ".pytest_cache",
                                  "*.egg-info", ".ipynb_checkpoints", "gpt2*", "build", "dist")
    shutil.copytree(source, destination, ignore=skip, symlinks=True)
    return Path(destination)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid):
    """The pids of every process below `pid` (kernels included), read from /proc; [] where /proc is absent."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/status")
    try:  # a zombie is dead for our purposes
        return "\nState:\tZ" not in status.read_text()
    except OSError:
        return False


class JupyterLab:
    """`with JupyterLab(cwd, args) as lab:` runs `jupyter lab *args` in `cwd`, on lab.url; stops it and its kernels on exit.

    `args` are the README's (see readme_lab_args); the test adds only what a private, offline server needs.
    """

    def __init__(self, root, args=(), start_timeout=120):
        self.root = Path(root)
        self.args = list(args)
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start_timeout = start_timeout
        self.home = self.root.parent / f"{self.root.name}-jupyter"  # config, settings, workspaces, runtime
        self.log_path = self.home / "server.log"
        self.process = None
        self._background = []  # shutdown_kernels(wait=False) threads

    def notebook_url(self, relative_path):
        """Opens only that notebook: `reset` drops the tabs an earlier page left in the saved workspace."""
        return f"{self.url}/lab/tree/{relative_path}?reset&token={self.token}"

    def __enter__(self):
        env = self._prepare_home()
        command = [
            sys.executable, "-m", "jupyter", "lab", *self.args, "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            "--allow-root",  # CI containers run as root (the README tells root users to add it, too)
            "--ServerApp.terminals_enabled=False",
            "--LabApp.news_url=None",  # no announcements feed
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",  # never asks PyPI about extensions
        ]
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        cwd=self.root, start_new_session=True)
        try:
            self._wait_until_up()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def _prepare_home(self):
        home = self.home
        for sub in ("config/labconfig", "data", "settings", "workspaces", "runtime"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        (home / "config/labconfig/page_config.json").write_text(
            json.dumps({"disabledExtensions": {name: True for name in DISABLED_PLUGINS}}))
        # Render every cell (no virtual scrolling), so the test can read all prompts and outputs.
        tracker = home / "settings/@jupyterlab/notebook-extension/tracker.jupyterlab-settings"
        tracker.parent.mkdir(parents=True, exist_ok=True)
        tracker.write_text(json.dumps({"windowingMode": "none"}))
        env = dict(os.environ)
        env.update({
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTER_DATA_DIR": str(home / "data"),  # the notebook-signing key goes here, not in ~
            # The kernel imports this checkout's package even when another copy is installed.
            "PYTHONPATH": os.pathsep.join(p for p in (str(Path(__file__).resolve().parent.parent),
                                                      os.environ.get("PYTHONPATH")) if p),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
            "PYTHONHASHSEED": "0",
            # One thread per kernel: on a 2-core machine the browser and the server need the other core,
            # and PyTorch threads that wait for a busy core are much slower than one thread.
            "OMP_NUM_THREADS": "1",
        })
        return env

    def _wait_until_up(self):
        deadline = time.monotonic() + self.start_timeout
        request = urllib.request.Request(f"{self.url}/api/status",
                                         headers={"Authorization": f"token {self.token}"})
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"JupyterLab did not answer within {self.start_timeout} s:\n{self.log()}")
            time.sleep(0.5)

    def start_page(self):
        """The path (below the server's root) of the page the server would open in the learner's browser."""
        for opened in (self.home / "runtime").glob("jpserver-*-open.html"):
            match = re.search(r'href="[^"]*?/lab/tree/([^"?]+)', opened.read_text())
            if match:
                return match.group(1)
        return None

    def api(self, path, method="GET", body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/api/{path}", method=method, data=data,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            body = response.read()
        return json.loads(body) if body else None

    def start_session(self, relative_path):
        """Start the notebook's kernel, as JupyterLab does when it opens the notebook (it joins this session).

        The test calls it just before it opens the notebook, so the kernel boots while the page renders."""
        name = Path(relative_path).name
        self.api("sessions", method="POST", body={"path": relative_path, "name": name, "type": "notebook",
                                                   "kernel": {"name": "python3"}})

    def shutdown_kernels(self, wait=True):
        """End every notebook session (and its kernel), so kernels do not pile up from test to test.

        With wait=False it returns at once and the server stops the kernels in the background (about a second
        each); stop() waits for that."""
        ids = [session["id"] for session in self.api("sessions")]

        def end_sessions():
            for session_id in ids:
                self.api(f"sessions/{session_id}", method="DELETE")

        if wait:
            end_sessions()
        else:
            thread = threading.Thread(target=end_sessions)
            thread.start()
            self._background.append(thread)

    def log(self):
        try:
            return self.log_path.read_text()[-5000:]
        except OSError:
            return ""

    def stop(self):
        """Ask the server to shut down (it stops its kernels), then make sure every process of it is gone."""
        if self.process is None:
            return
        for thread in self._background:
            thread.join(timeout=30)
        pids = _descendants(self.process.pid)  # the kernels live in sessions of their own
        if self.process.poll() is None:
            request = urllib.request.Request(f"{self.url}/api/shutdown", method="POST",
                                             headers={"Authorization": f"token {self.token}"})
            try:
                urllib.request.urlopen(request, timeout=10).close()
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGTERM)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._signal_group(signal.SIGKILL)
                    self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        for pid in pids:
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.leftover = [pid for pid in pids if _alive(pid)]
        self._log.close()
        self.process = None

    def _signal_group(self, sig):
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass


def remove_tree(path):
    shutil.rmtree(path, ignore_errors=True)
