"""Pieces the benchmarks share: an LLMock subprocess, the environment, results.md, --smoke."""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"
LLMOCK = Path(sys.executable).with_name("llmock")
FAKE_KEYS = {
    "ANTHROPIC_API_KEY": "bench-fake-anthropic-key",
    "OPENAI_API_KEY": "bench-fake-openai-key",
    "GEMINI_API_KEY": "bench-fake-gemini-key",
}

# ``--smoke``: every benchmark once at tiny sizes, to check that it still runs.
SMOKE_LATENCY_MS = 50
SMOKE_NOTE = "smoke run: tiny sizes, so the figures mean nothing; bench/results.md left as is"


async def raw_anthropic(client: Any, prompt: str, max_tokens: int) -> str:
    """One call as a hand-written baseline makes it on an ``AsyncAnthropic``: the text."""
    message = await client.messages.create(
        model="claude-haiku-4-5",
        max_tokens=max_tokens,
        messages=[{"role": "user", "content": prompt}],
    )
    return "".join(b.text for b in message.content if b.type == "text")


async def raw_openai(client: Any, prompt: str, max_tokens: int) -> str:
    """One call as a hand-written baseline makes it on an ``AsyncOpenAI``: the text."""
    response = await client.chat.completions.create(
        model="gpt-4o-mini",
        max_completion_tokens=max_tokens,
        messages=[{"role": "user", "content": prompt}],
    )
    return response.choices[0].message.content or ""


def parse_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, what: str, **tiny: Any
) -> argparse.Namespace:
    """Parse ``argv`` with a ``--smoke`` flag added (its help: ``what``, and that it writes
    nothing, which :func:`wants_write` sees to). With it, ``--rounds`` is 1 and
    ``--latency-ms`` :data:`SMOKE_LATENCY_MS` where the parser has them, and each
    attribute named in ``tiny`` (an option, or a ``set_defaults`` value) takes its value."""
    parser.add_argument("--smoke", action="store_true", help=f"{what}; writes nothing")
    args = parser.parse_args(argv)
    if args.smoke:
        for name, value in {"rounds": 1, "latency_ms": SMOKE_LATENCY_MS, **tiny}.items():
            if hasattr(args, name):
                setattr(args, name, value)
            elif name in tiny:
                raise AttributeError(f"--smoke sets {name!r}, which is no option")
    return args


def wants_write(args: argparse.Namespace) -> bool:
    """Whether this run updates bench/results.md: with ``--write`` where the benchmark has
    it, else unless ``--no-write``; never with ``--smoke``, which prints :data:`SMOKE_NOTE`."""
    if args.smoke:
        print(SMOKE_NOTE)
        return False
    return bool(args.write) if hasattr(args, "write") else not args.no_write


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _llmock_command(port: int, latency_ms: int) -> list[str]:
    return [
        str(LLMOCK),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
        "--log-level",
        "warning",  # no access log: keep the server's CPU for serving
    ]


@contextlib.contextmanager
def llmock_servers(latency_ms: int, count: int) -> Iterator[list[str]]:
    """Run ``count`` ``llmock serve`` subprocesses, each on its own free port; yield their
    base URLs; always stop them all. They start side by side, then each is awaited."""
    with contextlib.ExitStack() as stack:
        started: list[tuple[str, subprocess.Popen[bytes], Any]] = []
        ports: set[int] = set()
        while len(ports) < count:  # distinct: the OS may hand a just-freed port out again
            ports.add(_free_port())
        for port in sorted(ports):
            log = stack.enter_context(tempfile.TemporaryFile())
            proc = subprocess.Popen(
                _llmock_command(port, latency_ms), stdout=log, stderr=subprocess.STDOUT
            )
            stack.callback(_stop, proc)
            started.append((f"http://127.0.0.1:{port}", proc, log))
        for url, proc, log in started:
            _wait_healthy(url, proc, log)
        yield [url for url, _, _ in started]


@contextlib.contextmanager
def llmock_server(latency_ms: int) -> Iterator[str]:
    """Run ``llmock serve`` in a subprocess; yield its base URL; always stop it."""
    with llmock_servers(latency_ms, 1) as urls:
        yield urls[0]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Any, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            output = log.read().decode(errors="replace")
            raise RuntimeError(f"llmock exited with {proc.returncode}:\n{output}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/health", timeout=1) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"llmock did not answer {url}/health within {limit:g} s")


PROVIDERS = ("anthropic", "openai", "gemini")


def provider_bases(servers: str | Sequence[str]) -> dict[str, str]:
    """Each provider's base URL (as its SDK's ``*_BASE_URL`` wants it) on LLMock: one server
    for all three, or one server per provider in :data:`PROVIDERS` order."""
    urls = [servers] * len(PROVIDERS) if isinstance(servers, str) else list(servers)
    if len(urls) != len(PROVIDERS):
        raise ValueError(f"need 1 or {len(PROVIDERS)} servers, got {len(urls)}")
    anthropic, openai, gemini = urls
    return {
        "anthropic": f"{anthropic}/anthropic",
        "openai": f"{openai}/v1",
        "gemini": f"{gemini}/gemini",
    }


def point_env_at(servers: str | Sequence[str]) -> None:
    """Send every provider to LLMock, with fake keys: one server for all three, or one
    server per provider (anthropic, openai, gemini)."""
    bases = provider_bases(servers)
    os.environ.update(
        FAKE_KEYS,
        ANTHROPIC_BASE_URL=bases["anthropic"],
        OPENAI_BASE_URL=bases["openai"],
        GEMINI_BASE_URL=bases["gemini"],
    )


@contextlib.contextmanager
def isolated_cache() -> Iterator[Path]:
    """A fresh ORBIT_CACHE_DIR, so no earlier run's cache or history is involved."""
    with tempfile.TemporaryDirectory(prefix="orbit-bench-") as directory:
        os.environ["ORBIT_CACHE_DIR"] = directory
        os.environ.pop("ORBIT_CACHE_URL", None)
        yield Path(directory)


def machine() -> str:
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()} "
        f"({platform.system()} {platform.machine()})"
    )


def write_section(name: str, lines: list[str]) -> None:
    """Replace today's section for benchmark ``name`` in bench/results.md, or append one."""
    title = f"## {date.today().isoformat()}: {name}"
    section = "\n".join([title, "", *lines, ""])
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n")
