"""Look at notebook displays in a real browser: JupyterLab or Notebook 7, in chromium.

:func:`jupyter_lab` runs one ``jupyter lab`` from the venv (it serves JupyterLab
at ``/lab`` and Notebook 7 at ``/notebooks``) on 127.0.0.1 with a token; its
kernels (the venv's python) get this process's environment without real
provider keys or URLs, plus the provider variables given (LLMock's URLs and
fake keys) and a private ORBIT_CACHE_DIR. Every Jupyter config, data,
settings, workspace and runtime dir is a temporary one, so the user's own
setup is neither read nor touched. The machine has no internet: JupyterLab's
news feed and update check are off, as are its toasts (they would cover part
of a screenshot).

:func:`chromium_browser` is Debian's chromium, headless, under Playwright's
sync API. :func:`open_notebook` writes a notebook into the server's root and
opens it in a new page; :meth:`NotebookPage.run_all` runs every cell and waits
until each has run. Screenshots go to ``tests/artifacts/`` (gitignored).

Start the server and the browser once per module or session and reuse them:
each costs seconds, a notebook page about ten (its kernel imports the SDKs).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import nbformat
import pytest
from playwright.sync_api import Browser, Locator, Page, sync_playwright

from conftest import _PROVIDER_ENV

VENV = Path(__file__).resolve().parents[1] / ".venv"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

#: Debian's chromium: Playwright cannot download a browser of its own here.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
VIEWPORT = {"width": 1400, "height": 1000}

# Generous limits for a busy 2-core machine: nothing waits this long unless broken.
SERVER_START = 90.0  # seconds for `jupyter lab` to answer /api/status
PAGE_LOAD = 90.0  # seconds for a notebook to show with its kernel idle
RUN_ALL = 120.0  # seconds for every cell of a notebook to run

UI = Literal["lab", "notebook"]
#: JupyterLab and Notebook 7, as :func:`open_notebook` names them.
UIS: tuple[UI, ...] = ("lab", "notebook")

#: JupyterLab and Notebook 7 user settings: no news, no update check, no toasts.
SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
        "doNotDisturbMode": True,
    },
}
_DROPPED_ENV = {*_PROVIDER_ENV, "ORBIT_CACHE_URL", "ORBIT_CACHE_TTL", "ORBIT_PRICES"}
_DROPPED_ENV |= {"JUPYTER_PATH", "JUPYTER_PREFER_ENV_PATH", "JUPYTER_TOKEN"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- the Jupyter server --------------------------------------------------------------------


@dataclass
class JupyterServer:
    """A running ``jupyter lab`` on 127.0.0.1 with token auth; notebooks live in ``root``."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def page_url(self, ui: UI, name: str) -> str:
        """Where notebook ``name`` (in :attr:`root`) opens in JupyterLab or Notebook 7."""
        if ui == "lab":
            # ?reset: a fresh workspace, so no notebook opened earlier is reopened.
            return f"{self.url}/lab/tree/{name}?reset&token={self.token}"
        return f"{self.url}/notebooks/{name}?token={self.token}"

    def api(self, method: str, path: str) -> Any:
        """Call the server's REST API; the parsed JSON answer (None when empty)."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None

    def shutdown_kernels(self) -> None:
        """End every session and kernel (each opened notebook starts one)."""
        for session in self.api("GET", "/api/sessions"):
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/sessions/{session['id']}")
        for kernel in self.api("GET", "/api/kernels"):
            with contextlib.suppress(urllib.error.HTTPError):
                self.api("DELETE", f"/api/kernels/{kernel['id']}")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def server_env(providers: Mapping[str, str], home: Path) -> dict[str, str]:
    """This process's environment without real provider keys or URLs, plus ``providers``,
    with every Jupyter directory and ORBIT_CACHE_DIR under ``home``."""
    dirs = {
        "JUPYTER_CONFIG_DIR": home / "config",
        "JUPYTER_DATA_DIR": home / "data",  # no user kernelspec can shadow the venv's
        "JUPYTER_RUNTIME_DIR": home / "runtime",
        "JUPYTERLAB_SETTINGS_DIR": home / "settings",
        "JUPYTERLAB_WORKSPACES_DIR": home / "workspaces",
        "IPYTHONDIR": home / "ipython",
        "ORBIT_CACHE_DIR": home / "orbit-cache",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for name, values in SETTINGS.items():
        settings = dirs["JUPYTERLAB_SETTINGS_DIR"] / name
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_ENV}
    return env | dict(providers) | {name: str(path) for name, path in dirs.items()}


@contextlib.contextmanager
def jupyter_lab(providers: Mapping[str, str], home: Path, root: Path) -> Iterator[JupyterServer]:
    """``jupyter lab`` serving ``root``, its kernels given ``providers`` (the provider
    keys and base URLs) and every Jupyter and orbit directory under ``home``.

    Checks that its kernel is the venv's python; always stops the server (and so
    its kernels).
    """
    env = server_env(providers, home)
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [
        str(VENV / "bin" / "jupyter"),
        "lab",
        "--no-browser",
        "--ServerApp.allow_root=True",  # CI runs as root
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        f"--IdentityProvider.token={token}",
        # window.jupyterapp: run commands (run all cells, change theme), read models.
        "--LabApp.expose_app_in_browser=True",
        "--JupyterNotebookApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # never asks PyPI for extensions
    ]
    log = home / "jupyter.log"
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT)
    server = JupyterServer(f"http://127.0.0.1:{port}", token, root, process, log)
    try:
        _wait_for_status(server)
        _check_kernel(server)
        yield server
    finally:
        _stop(process)


def _wait_for_status(server: JupyterServer) -> None:
    deadline = time.monotonic() + SERVER_START
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            code = server.process.returncode
            raise RuntimeError(f"jupyter lab exited with {code}:\n{server.log_tail()}")
        with contextlib.suppress(OSError):
            server.api("GET", "/api/status")
            return
        time.sleep(0.2)
    raise RuntimeError(f"jupyter lab did not answer in {SERVER_START:g} s:\n{server.log_tail()}")


def _check_kernel(server: JupyterServer) -> None:
    specs = server.api("GET", "/api/kernelspecs")
    argv = specs["kernelspecs"][specs["default"]]["spec"]["argv"]
    # jupyter_client runs a bare "python" as the server's own interpreter: the venv's.
    python = VENV / "bin" / "python" if argv[0] in ("python", "python3") else Path(argv[0])
    assert python.samefile(VENV / "bin" / "python"), argv


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()  # the server shuts its kernels down on SIGTERM
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


# -- the browser -----------------------------------------------------------------------------


@contextlib.contextmanager
def chromium_browser() -> Iterator[Browser]:
    """Headless Debian chromium under Playwright's sync API; always closed."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()


# Run in the page. In both front-ends `window.jupyterapp.shell.currentWidget` is
# the notebook panel that was opened.
_PANEL = "window.jupyterapp && window.jupyterapp.shell.currentWidget"
_KERNEL_IDLE = f"""() => {{
  const panel = {_PANEL};
  const session = panel && panel.sessionContext && panel.sessionContext.session;
  const kernel = session && session.kernel;
  return !!(kernel && panel.content && kernel.status === 'idle'
            && kernel.connectionStatus === 'connected');
}}"""
# Every code cell has an execution count, none shows [*], and the kernel is idle.
_CELLS_DONE = f"""() => {{
  const panel = {_PANEL};
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!kernel || kernel.status !== 'idle') return false;
  const code = panel.content.widgets.filter(c => c.model.type === 'code');
  const prompts = [...panel.content.node.querySelectorAll('.jp-InputPrompt')];
  return code.every(c => c.model.executionCount !== null)
    && !prompts.some(p => p.textContent.includes('*'));
}}"""
_OUTPUTS = f"""() => {{
  const panel = {_PANEL};
  return panel.content.widgets
    .filter(c => c.model.type === 'code')
    .map(c => c.model.outputs.toJSON());
}}"""


def notebook_cells(sources: Sequence[str]) -> nbformat.NotebookNode:
    """A notebook of code cells, without outputs, for the python3 kernel."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    return nb


@dataclass
class NotebookPage:
    """A notebook open in a browser page, in JupyterLab (``"lab"``) or Notebook 7."""

    page: Page
    server: JupyterServer
    ui: UI
    name: str

    def wait_for_kernel(self, timeout: float = PAGE_LOAD) -> None:
        """Wait until the notebook shows and its kernel is connected and idle."""
        self.page.wait_for_function(_KERNEL_IDLE, timeout=timeout * 1000, polling=250)

    def command(self, command: str, args: Mapping[str, Any] | None = None) -> None:
        """Run a front-end command (``notebook:run-all-cells``, ``apputils:change-theme``)."""
        self.page.evaluate(
            "([id, args]) => window.jupyterapp.commands.execute(id, args)",
            [command, dict(args or {})],
        )

    def run_all(self, timeout: float = RUN_ALL) -> list[list[dict[str, Any]]]:
        """Run every cell and wait until each has run; each code cell's outputs (nbformat
        JSON). A cell that raised fails the test, with its traceback."""
        self.command("notebook:run-all-cells")
        self.page.wait_for_function(_CELLS_DONE, timeout=timeout * 1000, polling=250)
        outputs: list[list[dict[str, Any]]] = self.page.evaluate(_OUTPUTS)
        for number, cell in enumerate(outputs):
            for out in cell:
                if out["output_type"] == "error":
                    trace = "\n".join(out.get("traceback", []))
                    pytest.fail(f"cell {number} raised {out['ename']}: {out['evalue']}\n{trace}")
        return outputs

    def cell(self, index: int) -> Locator:
        """The ``index``-th cell (code or not) of the notebook."""
        return self.page.locator(".jp-Notebook .jp-Cell").nth(index)

    def set_theme(self, theme: str) -> None:
        """Switch to ``theme`` ("JupyterLab Light", "JupyterLab Dark") and wait until the
        page uses it."""
        self.command("apputils:change-theme", {"theme": theme})
        light = "true" if "Light" in theme else "false"
        self.page.wait_for_function(
            f"() => document.body.dataset.jpThemeLight === '{light}'"
            f" && document.body.dataset.jpThemeName === {json.dumps(theme)}",
            timeout=PAGE_LOAD * 1000,
            polling=250,
        )
        # The theme's CSS comes in a <link>: let it load before colours are read.
        self.page.wait_for_load_state("networkidle", timeout=PAGE_LOAD * 1000)

    def screenshot_path(self, label: str) -> Path:
        """``tests/artifacts/<ui>-<label>.png`` (the folder is made if need be)."""
        ARTIFACTS.mkdir(exist_ok=True)
        return ARTIFACTS / f"{self.ui}-{label}.png"

    def screenshot(self, label: str, element: Locator | None = None) -> Path:
        """Save the viewport, or all of ``element``, as ``tests/artifacts/<ui>-<label>.png``.

        An element taller than the viewport is shot in a viewport made tall enough
        (the notebook scrolls inside the page, so a page screenshot would cut it).
        """
        path = self.screenshot_path(label)
        if element is None:
            self.page.screenshot(path=str(path))
            return path
        height = element.evaluate("el => el.getBoundingClientRect().height")
        size = self.page.viewport_size or VIEWPORT
        taller = height + 200 > size["height"]
        if taller:
            self.page.set_viewport_size({"width": size["width"], "height": int(height) + 300})
        try:
            element.scroll_into_view_if_needed()
            element.screenshot(path=str(path))
        finally:
            if taller:
                self.page.set_viewport_size(size)
        return path


def open_notebook(
    browser: Browser, server: JupyterServer, ui: UI, name: str, sources: Sequence[str]
) -> NotebookPage:
    """Write a notebook of code cells ``sources`` as ``name`` into the server's root,
    open it in ``ui`` in a new 1400x1000 page and wait for its kernel to be idle."""
    nbformat.write(notebook_cells(sources), server.root / name)
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(PAGE_LOAD * 1000)
    notebook = NotebookPage(page, server, ui, name)
    try:
        page.goto(server.page_url(ui, name))
        notebook.wait_for_kernel()
    except BaseException:
        close_notebook(notebook)
        raise
    return notebook


def close_notebook(notebook: NotebookPage) -> None:
    """Close the page and end the server's kernels."""
    notebook.page.context.close()
    notebook.server.shutdown_kernels()
