"""`make lab`: JupyterLab on 127.0.0.1 with notebooks/quickstart.ipynb open.

With no provider key in the environment (ANTHROPIC_API_KEY, OPENAI_API_KEY,
GEMINI_API_KEY, GOOGLE_API_KEY), LLMock plays the providers: this process runs
it on 127.0.0.1 and starts JupyterLab with, for every kernel, the three base
URLs pointing at it, fake keys, ORBIT_DEMO=1, and a throwaway ORBIT_CACHE_DIR
(removed on exit). ORBIT_DEMO makes the example notebooks start an LLMock of
their own inside the kernel (provider_comparison scripts failures on it); any
other notebook talks to this one. With a key set, nothing is changed: the
kernels see the environment as it is and talk to the real APIs (the example
notebooks still switch to their demo mode if one of the three keys is missing).

Ctrl-C stops JupyterLab (and its kernels), then LLMock.

    .venv/bin/python scripts/lab.py [--port N] [--no-browser]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "notebooks/quickstart.ipynb"  # relative to ROOT, JupyterLab's root dir
PROVIDERS = {
    "anthropic": ("ANTHROPIC_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}
FAKE_KEY = "llmock-fake-key"
START_TIMEOUT = 120.0  # seconds for JupyterLab to answer, on a cold machine
STOP_TIMEOUT = 20.0  # seconds for JupyterLab to shut its kernels down and exit


def keys_set(env: dict[str, str]) -> list[str]:
    """The provider key variables set (non-empty) in ``env``."""
    return [name for names in PROVIDERS.values() for name in names if env.get(name)]


@contextlib.contextmanager
def llmock_env(env: dict[str, str]) -> Iterator[tuple[dict[str, str], str]]:
    """LLMock on 127.0.0.1, and ``env`` pointed at it; both for the duration of the block."""
    from llmock.testing import LLMockServer

    with (
        LLMockServer(host="127.0.0.1") as server,
        tempfile.TemporaryDirectory(prefix="orbit-lab-cache-") as cache_dir,
    ):
        mocked = dict(env)
        for provider, names in PROVIDERS.items():
            mocked[f"{provider.upper()}_BASE_URL"] = server.base_url(provider)
            for name in names:
                mocked.pop(name, None)
            mocked[names[0]] = FAKE_KEY
        mocked["ORBIT_DEMO"] = "1"
        mocked["ORBIT_CACHE_DIR"] = cache_dir  # mock answers never reach the real cache
        mocked.pop("ORBIT_CACHE_URL", None)
        yield mocked, server.url


def jupyter_command(port: int, open_browser: bool) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        NOTEBOOK,
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        f"--ServerApp.root_dir={ROOT}",
        # Nothing is fetched from the internet: no news feed, no update check,
        # no extension search on PyPI.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
    ]
    if not open_browser:
        cmd.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # containers often run as root
    return cmd


def server_info(pid: int, process: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The running server's url and token, from the file Jupyter writes for ``pid``."""
    from jupyter_core.paths import jupyter_runtime_dir

    info_file = Path(jupyter_runtime_dir()) / f"jpserver-{pid}.json"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {process.returncode}")
        with contextlib.suppress(OSError, ValueError):
            info: dict[str, Any] = json.loads(info_file.read_text())
            status = urllib.request.Request(
                f"{info['url'].rstrip('/')}/api/status",
                headers={"Authorization": f"token {info['token']}"},
            )
            with urllib.request.urlopen(status, timeout=10):
                return info
        time.sleep(0.2)
    raise RuntimeError(f"JupyterLab did not answer within {START_TIMEOUT:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (Jupyter then shuts its kernels down); SIGKILL if it does not exit."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):  # a second Ctrl-C: at once
        process.kill()
        process.wait()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(port: int, open_browser: bool, env: dict[str, str], mock_url: str | None) -> int:
    """Run JupyterLab with ``env`` until it exits or this process is interrupted."""
    # JupyterLab runs in a session of its own, so a Ctrl-C reaches this process
    # only (not Jupyter's "Shutdown this Jupyter server (y/[n])?" prompt), and
    # this process stops it.
    process = subprocess.Popen(
        jupyter_command(port, open_browser),
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        info = server_info(process.pid, process)
        url = f"{info['url'].rstrip('/')}/lab/tree/{NOTEBOOK}?token={info['token']}"
        print(f"\nJupyterLab: {url}", flush=True)
        if mock_url is not None:
            print(
                f"No API key set: LLMock plays the providers at {mock_url}"
                " (kernels get ORBIT_DEMO=1, fake keys and a throwaway cache).",
                flush=True,
            )
        else:
            names = ", ".join(keys_set(env))
            print(f"Keys set ({names}): the kernels talk to the real providers.", flush=True)
        print("Ctrl-C stops JupyterLab" + (" and LLMock." if mock_url else "."), flush=True)
        return process.wait()
    except KeyboardInterrupt:
        print("\nStopping JupyterLab" + (" and LLMock..." if mock_url else "..."), flush=True)
        return 0
    except RuntimeError as exc:  # JupyterLab did not start
        print(f"lab.py: {exc}", file=sys.stderr)
        return 1
    finally:
        stop(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--port", type=int, default=8888, help="JupyterLab's port (the next free one if taken)"
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    args = parser.parse_args(argv)
    # Ctrl-C, even when started from a shell that ignores it for background jobs;
    # SIGTERM and SIGHUP stop both the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)

    env = dict(os.environ)
    if keys_set(env):
        return run(args.port, not args.no_browser, env, None)
    try:
        with llmock_env(env) as (mocked, mock_url):
            return run(args.port, not args.no_browser, mocked, mock_url)
    except KeyboardInterrupt:  # during LLMock's start or stop
        return 0


if __name__ == "__main__":
    sys.exit(main())
