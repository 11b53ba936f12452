"""Shared fixtures: a real LLMock server, and the environment pointed at it."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from llmock.pytest_plugin import LLMock
from llmock.testing import LLMockServer

from orbit_nb import engine
from orbit_nb.specs import PROVIDER_ENV

from canned import CannedServer

# Distinctive fake keys: a leak scan looks for exactly these strings.
KEYS = {
    "ANTHROPIC_API_KEY": "sk-ant-FAKE-anthropic-0123456789abcdef",
    "OPENAI_API_KEY": "sk-FAKE-openai-0123456789abcdef",
    "GEMINI_API_KEY": "AIzaFAKE-gemini-0123456789abcdef",
}

_PROVIDER_ENV = PROVIDER_ENV


def mock_env(server: LLMockServer) -> dict[str, str]:
    """Environment variables that send every provider to ``server`` with fake keys."""
    return {
        **KEYS,
        "ANTHROPIC_BASE_URL": server.base_url("anthropic"),
        "OPENAI_BASE_URL": server.base_url("openai"),
        "GEMINI_BASE_URL": server.base_url("gemini"),
    }


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No test reaches a real provider (real keys and URLs are dropped), and each
    test has its own empty cache and history."""
    for name in _PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in ("ORBIT_CACHE_URL", "ORBIT_CACHE_TTL", "ORBIT_PRICES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ORBIT_CACHE_DIR", str(tmp_path_factory.mktemp("orbit-cache")))


def engine_tasks(eng: engine.Engine | None = None) -> list[str]:
    """The tasks alive on the engine loop (``eng``, default the process's), but the
    one listing them, each shown by its coroutine."""

    async def others() -> list[str]:
        me = asyncio.current_task()
        return sorted(repr(t.get_coro()) for t in asyncio.all_tasks() if t is not me)

    loop = (eng or engine.get_engine()).loop
    return asyncio.run_coroutine_threadsafe(others(), loop).result(timeout=15)


@pytest.fixture(autouse=True)
def _no_run_left_going() -> Iterator[None]:
    """A test ends with nothing running on the engine loop: a run left going would
    send its requests during a later test. Waits up to 15 s for work winding down."""
    yield
    eng = engine._engine  # an engine this test started or an earlier one did; never a new one
    if eng is None:
        return
    deadline = time.monotonic() + 15
    while left := engine_tasks(eng):
        if time.monotonic() > deadline:
            pytest.fail(f"the test left {len(left)} task(s) on the engine loop: {left}")
        time.sleep(0.05)


@pytest.fixture
def canned(monkeypatch: pytest.MonkeyPatch) -> Iterator[CannedServer]:
    """Every provider pointed at one recording server, with the distinctive keys."""
    with CannedServer() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        monkeypatch.setenv("GEMINI_BASE_URL", server.url)
        for name, value in KEYS.items():
            monkeypatch.setenv(name, value)
        yield server


@pytest.fixture(scope="session")
def llmock_server() -> Iterator[LLMockServer]:
    with LLMockServer() as server:
        yield server


@pytest.fixture
def llmock(llmock_server: LLMockServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[LLMock]:
    """A freshly reset LLMock with every provider's env pointing at it."""
    handle = LLMock(llmock_server).reset()
    for name, value in mock_env(llmock_server).items():
        monkeypatch.setenv(name, value)
    yield handle
    handle.reset()


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio, the loop orbit_nb's callers use."""
    return "asyncio"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real redis-server on 127.0.0.1 (Debian's package, installed by `make test`)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server failed)")
    port = _free_port()
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.05)
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(params=["disk", "redis"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a cache test against diskcache and against a real Redis server."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        import redis

        redis.Redis.from_url(url).flushdb()
        monkeypatch.setenv("ORBIT_CACHE_URL", url)
    return str(request.param)
