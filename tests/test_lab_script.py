"""`make lab`: scripts/lab.py starts JupyterLab on 127.0.0.1 with LLMock behind the
providers when no key is set, and one Ctrl-C stops both.

The launcher runs as a real subprocess with every Jupyter directory in a
temporary one (the user's config, settings and runtime files are neither read
nor written) and no provider key in its environment.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from conftest import _PROVIDER_ENV

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
START = 120.0  # seconds for the launcher to print JupyterLab's URL; about 5 s here
STOP = 60.0  # seconds for both servers to stop after Ctrl-C; about 1 s here


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    dropped = {*_PROVIDER_ENV, "ORBIT_DEMO", "ORBIT_CACHE_URL", "JUPYTER_PATH"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    for name, sub in {
        "JUPYTER_CONFIG_DIR": "config",
        "JUPYTER_DATA_DIR": "data",
        "JUPYTER_RUNTIME_DIR": "runtime",
        "JUPYTERLAB_SETTINGS_DIR": "settings",
        "JUPYTERLAB_WORKSPACES_DIR": "workspaces",
        "IPYTHONDIR": "ipython",
    }.items():
        (tmp_path / sub).mkdir()
        env[name] = str(tmp_path / sub)
    return env


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"token {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _wait_for_line(log: Path, pattern: str, process: subprocess.Popen[bytes]) -> re.Match[str]:
    deadline = time.monotonic() + START
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"), re.MULTILINE)
        if found:
            return found
        assert process.poll() is None, log.read_text(errors="replace")
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} within {START:g} s:\n{log.read_text(errors='replace')}")


@pytest.mark.timeout(300)
def test_lab_serves_quickstart_with_llmock_and_ctrl_c_stops_both(tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "lab.log"
    with log.open("wb") as out:
        launcher = subprocess.Popen(
            [str(PYTHON), str(ROOT / "scripts" / "lab.py"), "--port", str(port), "--no-browser"],
            env=_env(tmp_path),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    jupyter: psutil.Process | None = None
    try:
        url = _wait_for_line(log, r"^JupyterLab: (\S+)$", launcher)[1]
        mock = _wait_for_line(
            log, r"LLMock plays the providers at (http://127\.0\.0\.1:(\d+))", launcher
        )
        base = f"http://127.0.0.1:{port}"
        assert url.startswith(f"{base}/lab/tree/notebooks/quickstart.ipynb?token="), url
        token = url.rsplit("token=", 1)[1]

        status, body = _get(f"{base}/api/status", token)
        assert status == 200 and "started" in json.loads(body), body
        assert _get(f"{base}/api/status")[0] == 403  # the token is required
        status, body = _get(url)
        assert status == 200 and b"JupyterLab" in body, body[:500]
        status, body = _get(f"{mock[1]}/health")
        assert status == 200 and json.loads(body)["status"] == "ok", body

        # JupyterLab (and so every kernel it starts) is pointed at the launcher's LLMock.
        (jupyter,) = psutil.Process(launcher.pid).children()
        env = jupyter.environ()
        assert env["ORBIT_DEMO"] == "1"
        for provider in ("ANTHROPIC", "OPENAI", "GEMINI"):
            assert env[f"{provider}_BASE_URL"].startswith(mock[1] + "/"), env
            assert env[f"{provider}_API_KEY"], provider
        assert "GOOGLE_API_KEY" not in env
        assert env["ORBIT_CACHE_DIR"] != os.environ.get("ORBIT_CACHE_DIR")
        cache_dir = Path(env["ORBIT_CACHE_DIR"])
        assert cache_dir.is_dir()

        launcher.send_signal(signal.SIGINT)  # Ctrl-C
        assert launcher.wait(timeout=STOP) == 0, log.read_text(errors="replace")
        jupyter.wait(timeout=STOP)
        assert _refused(port) and _refused(int(mock[2]))
        assert not cache_dir.exists()  # the throwaway cache is gone
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        if jupyter is not None and jupyter.is_running():
            jupyter.kill()
