"""The response cache, on diskcache and on a real Redis server."""

from __future__ import annotations

import time

import pandas as pd
import pytest
from llmock.pytest_plugin import LLMock

import orbit_nb
from orbit_nb.api import start
from orbit_nb.cache import cache_stats, clear_cache, counters, open_store

from conftest import KEYS

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
KEPT = ["content", "input_tokens", "output_tokens", "total_tokens", "latency_s", "cost_usd"]


def completions(llmock: LLMock) -> int:
    """Requests that asked a model for an answer (not token counting)."""
    return sum(
        not r.path.lower().endswith(("count_tokens", ":counttokens", "/input_tokens"))
        for r in llmock.requests
    )


def test_second_run_is_served_from_cache(llmock: LLMock, backend: str) -> None:
    prompts = ["first question", "second question"]
    first = orbit_nb.compare(prompts, MODELS, repeat=2)
    assert completions(llmock) == 12 and not first["cached"].any()
    llmock.reset()
    hits_before = counters.hits
    second = orbit_nb.compare(prompts, MODELS, repeat=2)
    assert completions(llmock) == 0
    assert second["cached"].all() and (second["attempts"] == 0).all()
    assert (second["status"] == "ok").all()
    pd.testing.assert_frame_equal(first[KEPT], second[KEPT])
    assert counters.hits - hits_before == 12
    stats = cache_stats()
    assert (stats.backend, stats.entries) == (backend, 12)
    assert stats.bytes > 0


@pytest.mark.parametrize(
    "change",
    [
        {"system": "You are terse."},
        {"temperature": 0.3},
        {"max_tokens": 77},
        {"prompts": "a different prompt"},
        {"models": ["openai:gpt-4o"]},
        {"repeat": 2},
    ],
)
def test_anything_that_changes_the_answer_is_a_miss(
    llmock: LLMock, backend: str, change: dict[str, object]
) -> None:
    base: dict[str, object] = {"prompts": "a prompt", "models": ["openai:gpt-4o-mini"]}
    orbit_nb.compare(**base)  # type: ignore[arg-type]
    llmock.reset()
    df = orbit_nb.compare(**{**base, **change})  # type: ignore[arg-type]
    assert completions(llmock) >= 1
    assert not df["cached"].iloc[-1]


def test_a_changed_endpoint_url_is_a_miss(
    llmock: LLMock, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    orbit_nb.compare("a prompt", ["openai:gpt-4o-mini"])
    # The same server under another spelling of its address is another endpoint.
    monkeypatch.setenv(
        "OPENAI_BASE_URL", llmock.base_url("openai").replace("127.0.0.1", "localhost")
    )
    df = orbit_nb.compare("a prompt", ["openai:gpt-4o-mini"])
    assert not df["cached"].iloc[0]


def test_the_api_key_is_not_part_of_the_key(
    llmock: LLMock, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    orbit_nb.compare("a prompt", MODELS)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-another-key")
    df = orbit_nb.compare("a prompt", MODELS)
    assert df["cached"].all()


def test_errors_are_not_cached(llmock: LLMock, backend: str) -> None:
    llmock.fail(400, times=1, provider="openai")
    assert orbit_nb.compare("a prompt", ["openai:gpt-4o-mini"])["status"].iloc[0] == "error"
    df = orbit_nb.compare("a prompt", ["openai:gpt-4o-mini"])
    assert (df["status"].iloc[0], df["cached"].iloc[0]) == ("ok", False)


def test_no_cache_bypasses_reads_but_still_writes(llmock: LLMock, backend: str) -> None:
    orbit_nb.compare("a prompt", MODELS)
    fresh = orbit_nb.compare("a prompt", MODELS, cache=False)
    assert not fresh["cached"].any()
    assert completions(llmock) == 6
    again = orbit_nb.compare("a prompt", MODELS)
    assert again["cached"].all()
    # The fresh answers replaced the old entries.
    pd.testing.assert_series_equal(again["latency_s"], fresh["latency_s"])


def test_identical_requests_in_flight_are_sent_once(llmock: LLMock, backend: str) -> None:
    llmock.delay(0.3, times=None)
    df = orbit_nb.compare({"a": "same words", "b": "same words"}, ["openai:gpt-4o-mini"])
    assert completions(llmock) == 1
    assert list(df["status"]) == ["ok", "ok"]
    assert list(df["cached"]) == [False, True]
    assert list(df["attempts"]) == [1, 0]
    assert df["content"].nunique() == 1


def test_clear_cache(llmock: LLMock, backend: str) -> None:
    orbit_nb.compare(["a", "b"], MODELS)
    assert clear_cache() == 6
    assert cache_stats().entries == 0
    assert not orbit_nb.compare(["a", "b"], MODELS)["cached"].any()


def test_entries_expire_after_the_ttl(
    llmock: LLMock, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORBIT_CACHE_TTL", "1")
    orbit_nb.compare("a prompt", ["openai:gpt-4o-mini"])
    assert orbit_nb.compare("a prompt", ["openai:gpt-4o-mini"])["cached"].iloc[0]
    time.sleep(1.3)
    assert not orbit_nb.compare("a prompt", ["openai:gpt-4o-mini"])["cached"].iloc[0]


def test_no_secret_in_the_store(llmock: LLMock, backend: str) -> None:
    orbit_nb.compare(["a", "b"], MODELS)
    store = open_store()
    keys = [k for k in _all_keys(store)]
    values = store.get_many(keys)
    blob = b"".join(values.values()) + "".join(keys).encode()
    assert len(values) == 6
    assert not [k for k in KEYS.values() if k.encode() in blob]


def _all_keys(store: object) -> list[str]:
    if hasattr(store, "_cache"):
        return [str(k) for k in store._cache.iterkeys()]
    prefix = b"orbit:cache:"
    return [k[len(prefix) :].decode() for k in store._keys()]  # type: ignore[attr-defined]


def test_unwritable_cache_dir_warns_and_runs_uncached(
    llmock: LLMock, monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    blocker = tmp_path / "not-a-dir"  # type: ignore[operator]
    blocker.write_text("a file where the cache dir should be")
    monkeypatch.setenv("ORBIT_CACHE_DIR", str(blocker))
    with pytest.warns(UserWarning) as warned:
        df = orbit_nb.compare("a prompt", MODELS)
    messages = sorted(str(w.message).split(" (")[0] for w in warned)
    assert messages == ["cache unavailable", "history not recorded"]
    assert (df["status"] == "ok").all()


def test_corrupted_cache_warns_and_runs_uncached(
    llmock: LLMock, monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    cache_dir = tmp_path / "cache"  # type: ignore[operator]
    cache_dir.mkdir()
    (cache_dir / "cache.db").write_bytes(b"this is not a sqlite database" * 100)
    monkeypatch.setenv("ORBIT_CACHE_DIR", str(tmp_path))
    with pytest.warns(UserWarning, match="cache unavailable"):
        df = orbit_nb.compare("a prompt", MODELS)
    assert (df["status"] == "ok").all()


def test_redis_down_warns_and_runs_uncached(
    llmock: LLMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORBIT_CACHE_URL", "redis://127.0.0.1:9/0")
    with pytest.warns(UserWarning, match="cache unavailable"):
        df = orbit_nb.compare("a prompt", MODELS)
    assert (df["status"] == "ok").all()


def test_identical_requests_of_concurrent_runs_are_sent_once(llmock: LLMock) -> None:
    llmock.delay(0.5, times=None)
    jobs = [start("same words", ["openai:gpt-4o-mini"]) for _ in range(2)]
    for job in jobs:
        job.wait()
    assert completions(llmock) == 1
    rows = [job.rows[0] for job in jobs]
    assert sorted(r.cached for r in rows) == [False, True]
    assert rows[0].content == rows[1].content
