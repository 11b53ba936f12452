"""A run with distinctive fake keys, failing calls included, then a scan of
everything orbit_nb leaves behind: no key (nor its last 12 characters) anywhere.

Extends test_secrets.py (frames, reprs, logs and warnings of one run) to the
rest: exception texts, every log record at DEBUG from every logger, every
cache entry (diskcache and Redis), every history row, every byte of every file
under ORBIT_CACHE_DIR, and what goes over the wire: each key travels only in
its provider's auth header (Gemini's in ``x-goog-api-key``, never the URL).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from llmock.pytest_plugin import LLMock

import orbit_nb
from orbit_nb.api import start
from orbit_nb.cache import data_dir, open_store
from orbit_nb.errors import OrbitError
from orbit_nb.providers import load
from orbit_nb.types import Options

from canned import CannedServer, Reply
from conftest import KEYS

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
NEEDLES = sorted({k for key in KEYS.values() for k in (key, key[-12:])})
# The header each provider's key belongs in, and nowhere else (anthropic 2.x
# sends its key as a bearer token).
AUTH_HEADER = {
    "ANTHROPIC_API_KEY": "authorization",
    "OPENAI_API_KEY": "authorization",
    "GEMINI_API_KEY": "x-goog-api-key",
}


def found(blob: str | bytes) -> list[str]:
    """The needles (keys and key tails) present in ``blob``."""
    if isinstance(blob, bytes):
        return [n for n in NEEDLES if n.encode() in blob]
    return [n for n in NEEDLES if n in blob]


def frame_text(df: pd.DataFrame) -> str:
    with pd.option_context("display.max_columns", None, "display.max_colwidth", None):
        return df.to_csv() + repr(df) + df.to_html() + df.to_string()


@pytest.fixture
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture DEBUG records from every logger, including the SDKs' and HTTP stacks'."""
    for kind in ("anthropic", "openai", "gemini"):
        load(kind)  # import the SDKs now, so their loggers exist
    caplog.set_level(logging.DEBUG)
    detached = []
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)
            if not logger.propagate:
                logger.addHandler(caplog.handler)
                detached.append(logger)
    yield caplog
    for logger in detached:
        logger.removeHandler(caplog.handler)


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    parts = [caplog.text]
    for record in caplog.records:
        parts += [record.getMessage(), repr(record.args), record.exc_text or ""]
    return "\n".join(parts)


def exception_texts() -> list[str]:
    """Text of each error the API raises before any call, with its traceback."""
    attempts = [
        lambda: orbit_nb.compare("hi", MODELS, budget=1e-9),
        lambda: orbit_nb.compare("hi", ["nope:x", *MODELS]),
        lambda: orbit_nb.compare("hi", MODELS, temperature=-1),
        lambda: orbit_nb.estimate("", MODELS),
    ]
    texts = []
    for attempt in attempts:
        with pytest.raises(OrbitError) as info:
            attempt()
        texts.append("".join(traceback.format_exception(info.value)))
    return texts


def store_blobs(backend: str, redis_url: str | None) -> list[bytes]:
    """Every key and value in the cache store, raw."""
    if backend == "redis":
        import redis

        client = redis.Redis.from_url(redis_url or "")
        blobs = []
        for key in client.scan_iter(count=1000):
            # GET, not DUMP: DUMP may compress the value and hide a key in it.
            value = client.get(key) if client.type(key) == b"string" else client.dump(key)
            blobs += [key, value or b""]
        return blobs
    cache = open_store()._cache  # type: ignore[attr-defined]
    return [str(k).encode() + cache.get(k) for k in cache.iterkeys()]


def file_blobs(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_no_key_anywhere_after_a_run_with_failures(
    llmock: LLMock,
    backend: str,
    every_log: pytest.LogCaptureFixture,
    recwarn: pytest.WarningsRecorder,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    llmock.fail(401, times=1, provider="openai")  # authentication error, tried once
    llmock.fail(500, times=None, provider="anthropic")  # retried until the timeout leaves no room
    llmock.delay(3, times=1, provider="gemini")  # stalls past the timeout
    prompts = ["first prompt", "second prompt"]
    df = orbit_nb.compare(prompts, MODELS, timeout=1.5)
    job = orbit_nb.jobs()[-1]
    kinds = set(zip(df["provider"], df["error_type"].fillna("ok"), strict=True))
    assert ("openai", "authentication") in kinds
    # Every answer is a 500 until the 1.5 s timeout: a server_error, or a timeout
    # when the deadline falls during an attempt (on a busy machine, attempts are slow).
    assert {kind for provider, kind in kinds if provider == "anthropic"} <= {
        "server_error",
        "timeout",
    }
    assert ("anthropic", "ok") not in kinds
    assert ("gemini", "timeout") in kinds and ("gemini", "ok") in kinds
    llmock.reset()
    again = orbit_nb.compare(prompts, MODELS)  # cache hits and fresh calls
    unpriced = orbit_nb.compare("x", ["openai:gpt-unpriced"])  # warns about the price
    assert again["cached"].sum() == 2 and (again["status"] == "ok").all()
    monkeypatch.delenv("GEMINI_API_KEY")
    with pytest.raises(OrbitError, match="GEMINI_API_KEY or GOOGLE_API_KEY is not set"):
        orbit_nb.compare("hi", MODELS)
    monkeypatch.setenv("GEMINI_API_KEY", KEYS["GEMINI_API_KEY"])

    everything = pd.concat([df, again, unpriced])
    frames = [
        everything,
        job.frame(),
        orbit_nb.history(),
        orbit_nb.summary(everything),
        orbit_nb.cost_table(everything),
        orbit_nb.side_by_side(df),
        orbit_nb.project_cost(everything, calls_per_day=1000),
        orbit_nb.estimate(prompts, MODELS),
    ]
    texts = {
        **{f"frame {i}": frame_text(f) for i, f in enumerate(frames)},
        "reprs": "\n".join(
            [repr(orbit_nb.jobs()), repr(job), repr(job.rows), repr(job.plan), str(job.notes)]
        ),
        "cache_stats": repr(orbit_nb.cache_stats()),
        "exceptions": "\n".join(exception_texts()),
        "warnings": "\n".join(f"{w.category.__name__}: {w.message}" for w in recwarn),
        "logs": log_text(every_log),
        "wire": "\n".join(f"{r.path} {r.body}" for r in llmock.requests),
    }
    # The runs' notes (a history write given up on says so) when a row is missing.
    notes = [str(w.message) for w in recwarn if "not recorded" in str(w.message)]
    assert len(orbit_nb.history()) == 6 + 6 + 1, notes
    assert any(r.levelno == logging.DEBUG for r in every_log.records)  # the scan saw DEBUG
    assert {name: found(text) for name, text in texts.items() if found(text)} == {}

    url = request.getfixturevalue("redis_url") if backend == "redis" else None
    blobs = store_blobs(backend, url)
    assert len(blobs) >= 4  # the successful answers are there to scan
    assert [found(b) for b in blobs if found(b)] == []
    files = file_blobs(data_dir())
    assert any(name.endswith("history.sqlite") for name in files)
    assert {name: found(b) for name, b in files.items() if found(b)} == {}


def provider_of(target: str) -> str:
    if target.startswith("/v1beta/"):
        return "GEMINI_API_KEY"
    return "ANTHROPIC_API_KEY" if target.startswith("/v1/messages") else "OPENAI_API_KEY"


@pytest.mark.parametrize(("status", "error_type"), [(401, "authentication"), (500, "server_error")])
def test_each_key_travels_only_in_its_auth_header(
    canned: CannedServer, status: int, error_type: str
) -> None:
    canned.queue(Reply(status, {"error": {"message": "nope", "code": "nope"}}))
    job = start(["one prompt", "two prompt"], MODELS, Options(timeout=1.0))
    job.future.result(timeout=10)  # type: ignore[union-attr]
    df = job.frame()
    assert (df["error_type"] == error_type).all()
    assert len(canned.seen) >= 6
    for seen in canned.seen:
        owner = provider_of(seen.target)
        assert found(seen.target + str(seen.body)) == []
        carrying = {name.lower() for name, value in seen.headers.items() if found(value)}
        assert carrying == {AUTH_HEADER[owner]}, (seen.target, carrying)
        header = {k.lower(): v for k, v in seen.headers.items()}[AUTH_HEADER[owner]]
        assert header.removeprefix("Bearer ") == KEYS[owner]
    gemini = [s for s in canned.seen if provider_of(s.target) == "GEMINI_API_KEY"]
    assert gemini and all("key=" not in s.target and "?" not in s.target for s in gemini)
