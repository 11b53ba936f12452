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
until each has run; :meth:`NotebookPage.record_outputs` notes what a cell showed
while it ran. Screenshots go to ``tests/artifacts/`` (gitignored).

The page measurements read the rendered page, not the HTML: :func:`geometry`
(an element's box, the part of it not clipped, its output area),
:func:`scrolls_horizontally`, and :func:`low_contrast` (texts under WCAG AA
against what they sit on).

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

#: WCAG AA: the least contrast ratio of normal text with what it sits on.
WCAG_AA = 4.5

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

# Records the mime types of a cell's outputs at every change.
_RECORD_OUTPUTS = f"""index => {{
  const cell = {_PANEL}.content.widgets[index];
  window.__orbit_outputs = [];
  cell.model.outputs.changed.connect(outputs => {{
    window.__orbit_outputs.push(outputs.toJSON().map(o => Object.keys(o.data || {{}}).sort()));
  }});
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

    def record_outputs(self, index: int) -> None:
        """From now on, note the mime types of cell ``index``'s outputs at every change
        (read them with :meth:`recorded_outputs`): what a cell showed while it ran,
        seen without racing it."""
        self.page.evaluate(_RECORD_OUTPUTS, index)

    def recorded_outputs(self) -> list[list[list[str]]]:
        """Per change of the recorded cell's outputs, each output's sorted mime types."""
        history: list[list[list[str]]] = self.page.evaluate("window.__orbit_outputs")
        return history

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


# -- page measurements ----------------------------------------------------------------------

# The part of an element not clipped by an ancestor's overflow, and its output area.
_GEOMETRY = """el => {
  const box = r => ({left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                     width: r.width, height: r.height});
  const own = el.getBoundingClientRect();
  let seen = box(own);
  // body and html do not count: JupyterLab's body is 0 px tall with overflow hidden.
  for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
    const s = getComputedStyle(p);
    if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
    const r = p.getBoundingClientRect();
    seen = {left: Math.max(seen.left, r.left), top: Math.max(seen.top, r.top),
            right: Math.min(seen.right, r.right), bottom: Math.min(seen.bottom, r.bottom)};
    seen.width = Math.max(0, seen.right - seen.left);
    seen.height = Math.max(0, seen.bottom - seen.top);
  }
  const area = el.closest('.jp-OutputArea');
  return {own: box(own), seen, area: area && box(area.getBoundingClientRect())};
}"""

# Every visible text element under a root: its text, colour, and the colour it sits on
# (backgrounds composited up to the first opaque one, white below everything).
_TEXT_COLOURS = """root => {
  const rgba = c => {
    const m = c.match(/^rgba?\\(([^)]*)\\)$/);
    if (!m) return null;
    const v = m[1].split(/[\\s,\\/]+/).filter(Boolean).map(Number);
    return [v[0], v[1], v[2], v.length > 3 ? v[3] : 1];
  };
  const over = (top, under) => {
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]);
  };
  const background = el => {
    const layers = [];
    for (let p = el; p; p = p.parentElement) {
      const c = rgba(getComputedStyle(p).backgroundColor);
      if (c === null) return null;
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let colour = [255, 255, 255, 1];
    for (const layer of layers.reverse()) colour = over(layer, colour);
    return colour;
  };
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || seen.has(el) || el.closest('style')) continue;
    seen.add(el);
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const fg = rgba(getComputedStyle(el).color), bg = background(el);
    out.push({text: el.textContent.trim().slice(0, 60), cls: el.className, tag: el.tagName,
              fg: fg && bg && over(fg, bg), bg});
  }
  return out;
}"""


def geometry(locator: Locator) -> dict[str, Any]:
    """Boxes in viewport pixels: the element's ``own``, the part of it ``seen`` (not
    clipped by an ancestor's overflow) and its cell's output ``area``."""
    locator.scroll_into_view_if_needed()
    result: dict[str, Any] = locator.evaluate(_GEOMETRY)
    return result


def geometries(root: Locator, selector: str) -> list[dict[str, Any]]:
    """:func:`geometry` of every element under ``root`` that matches ``selector``, all
    read at one moment (for a display that redraws itself meanwhile)."""
    root.scroll_into_view_if_needed()
    found: list[dict[str, Any]] = root.evaluate(
        f"(root, selector) => [...root.querySelectorAll(selector)].map(el => ({_GEOMETRY})(el))",
        selector,
    )
    return found


def luminance(rgb: list[float]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: list[float], bg: list[float]) -> float:
    """The WCAG contrast ratio of two opaque sRGB colours."""
    light, dark = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def text_colours(root: Locator) -> list[dict[str, Any]]:
    """Each visible text element under ``root``: its text, tag, class, colour and the
    opaque colour it sits on (``fg`` and ``bg``, RGBA lists)."""
    result: list[dict[str, Any]] = root.evaluate(_TEXT_COLOURS)
    return result


def low_contrast(root: Locator) -> list[str]:
    """Text elements under ``root`` whose colour contrasts less than WCAG AA with what
    they sit on."""
    problems = []
    for item in text_colours(root):
        assert item["fg"] is not None, f"unreadable colours: {item}"
        ratio = contrast(item["fg"], item["bg"])
        if ratio < WCAG_AA:
            problems.append(f"{ratio:.2f}:1 {item['tag']}.{item['cls']} {item['text']!r} {item}")
    return problems


_SCROLLS = """el => {
  for (let p = el.parentElement; p && !p.classList.contains('jp-OutputArea');
       p = p.parentElement) {
    const s = getComputedStyle(p).overflowX;
    if ((s === 'auto' || s === 'scroll') && p.scrollWidth > p.clientWidth) return true;
  }
  return false;
}"""


def scrolls_horizontally(locator: Locator) -> bool:
    """Whether an ancestor of the element inside its output area scrolls sideways
    (so a part of the element out of view is reachable, not cut off)."""
    return bool(locator.evaluate(_SCROLLS))
