"""Streamed answers (``stream=True``): each provider's stream format against LLMock
and the documented shapes, time to first token, usage and cost equal to the
unstreamed call's, RowDelta events, the shared cache, and streams that break.

A stream that breaks (LLMock's stream faults: disconnect, truncate, stall, a
malformed chunk) is an error row, never a short answer. It is retried like a
dropped connection (its partial text dropped) unless part of its text was
shown: with a listener that shows text subscribed (the panel, a streamed run's
live cards) it is not retried once text has arrived (the text shown never
starts over), and the row keeps the text that arrived.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from llmock.journal import RequestRecord
from llmock.pytest_plugin import LLMock
from llmock.simulation import estimate_tokens
from llmock.testing import LLMockServer
from llmock.verdict import judge

import orbit_nb
from orbit_nb import events as ev
from orbit_nb import retry
from orbit_nb.api import launch, prepare, start
from orbit_nb.errors import ParameterError
from orbit_nb.notebook.live import LiveCards
from orbit_nb.notebook.view import MAX_PROMPTS
from orbit_nb.specs import _ENDPOINTS
from orbit_nb.types import Options

from canned import CannedServer, Reply
from conftest import KEYS

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]
PROVIDERS = ("anthropic", "openai", "gemini")
#: LLMock streams a reply one word a chunk: twelve pieces of text.
TEXT = "one two three four five six seven eight nine ten eleven twelve"
#: LLMock's stream faults and the error_type each becomes.
ERROR_TYPES = {
    "disconnect": "disconnected",
    "truncate": "truncated",
    "stall": "stalled",
    "malformed": "malformed",
}
#: A fault at chunk 0 comes before any text in every format; one at chunk 5 after
#: some (Anthropic's first text is its 4th event, OpenAI's its 2nd, Gemini's its 1st).
BEFORE_TEXT, AFTER_TEXT = 0, 5
#: The stall limit in these tests (retry.STALL_TIMEOUT, lowered), and how long LLMock
#: stalls: wide apart, so a busy machine cannot blur them. The limit also bounds the
#: wait for a response's headers, which a busy machine has stretched past 1.5 s.
STALL_LIMIT, STALL_S = 5.0, 20.0
#: Milliseconds between chunks in the fault tests (see scripted()).
PACE_MS = 50
#: The verdict findings that would mean a broken stream was taken for an answer.
ACCEPTED = {"truncated_stream_accepted", "malformed_chunk_ignored"}
#: start()'s keywords for a listener that shows streamed text as it arrives.
SHOWN: dict[str, Any] = {"on_event": lambda _: None, "shows_text": True}


# -- helpers -----------------------------------------------------------------------


def scripted(llmock: LLMock, pace_ms: int = 0) -> None:
    """Every provider answers TEXT, in twelve streamed pieces, ``pace_ms`` apart.

    Paced, a stream is still going when orbit hangs up on a malformed chunk, so
    LLMock sees that it stopped reading (unpaced, the server may have sent the
    whole stream by then, and its verdict cannot tell the retry from a new call).
    """
    if pace_ms:
        llmock.pace(pace_ms)
    for provider in PROVIDERS:
        llmock.reply(TEXT, times=None, provider=provider)


def fault(llmock: LLMock, kind: str, provider: str, after_chunks: int) -> None:
    if kind == "stall":
        llmock.stall(after_chunks=after_chunks, seconds=STALL_S, provider=provider)
    else:
        getattr(llmock, {"malformed": "corrupt"}.get(kind, kind))(
            after_chunks=after_chunks, provider=provider
        )


Seen = list[tuple[str, ev.Event]]


def streamed(
    prompts: Any, models: list[str], *, shows_text: bool = False, **options: Any
) -> tuple[pd.DataFrame, Seen]:
    """Run with ``stream=True`` (and no cache); the frame, and every event with the
    name of the thread it came on. ``shows_text=True``: the listener subscribes as a
    display does, one that shows the text as it arrives."""
    seen: Seen = []

    def listen(event: ev.Event) -> None:
        seen.append((threading.current_thread().name, event))

    options = {"cache": False, **options}
    run = start(
        prompts, models, Options(stream=True, **options), on_event=listen, shows_text=shows_text
    )
    return run.wait(), seen


def deltas(seen: Seen, index: int) -> list[str]:
    return [e.text for _, e in seen if isinstance(e, ev.RowDelta) and e.index == index]


def last_attempt(seen: Seen, index: int) -> list[ev.Event]:
    """Row ``index``'s events after its last retry (all of them if it had none)."""
    mine = [e for _, e in seen if getattr(e, "index", None) == index]
    retries = [i for i, e in enumerate(mine) if isinstance(e, ev.RowRetrying)]
    return mine[retries[-1] + 1 :] if retries else mine


def settled(llmock: LLMock, count: int, faults: int = 0) -> list[RequestRecord]:
    """LLMock's journal once it holds ``count`` records, ``faults`` of them with a
    fault (a stalled request is recorded when the server notices the client has
    gone, which can come after the retries of other calls on a busy machine)."""
    deadline = time.monotonic() + 60
    while True:
        records = llmock.requests
        faulted = sum(r.fault is not None for r in records)
        if (len(records) >= count and faulted >= faults) or time.monotonic() > deadline:
            return records
        time.sleep(0.1)


def leaks(text: str) -> list[str]:
    return [name for name, key in KEYS.items() if key in text or key[-12:] in text]


# -- the happy path ------------------------------------------------------------------


@pytest.mark.parametrize("spec", MODELS)
def test_a_stream_gives_the_whole_answer_its_usage_and_ttft(llmock: LLMock, spec: str) -> None:
    scripted(llmock)
    prompt, system = "Count to twelve, please.", "Answer in words."
    df, seen = streamed(prompt, [spec], system=system, max_tokens=200)
    row = df.iloc[0]
    assert row["status"] == "ok", row["error_message"]
    assert (row["content"], row["attempts"]) == (TEXT, 1)
    assert row["finish_reason"] in {"end_turn", "stop", "STOP"}
    assert row["input_tokens"] == estimate_tokens(prompt) + estimate_tokens(system)
    assert row["output_tokens"] == estimate_tokens(TEXT)
    assert row["cost_usd"] > 0
    assert 0 < row["ttft_s"] <= row["latency_s"]
    pieces = deltas(seen, 0)
    assert len(pieces) == 12 and "".join(pieces) == TEXT
    (record,) = llmock.requests
    assert record.stream and record.completed and record.fault is None
    body = record.body
    if record.provider == "openai":
        assert body["stream"] is True
        assert body["stream_options"] == {"include_usage": True}
        assert body["max_completion_tokens"] == 200
    elif record.provider == "anthropic":
        assert (body["stream"], body["max_tokens"], body["system"]) == (True, 200, system)
    else:
        assert record.path.endswith("/models/gemini-2.5-flash:streamGenerateContent")
        assert "stream" not in body and body["generationConfig"] == {"maxOutputTokens": 200}


def test_streamed_and_unstreamed_calls_have_the_same_usage_and_cost(llmock: LLMock) -> None:
    prompts = {"a": "Explain caching in one line.", "b": "Name a prime number."}
    streamed_df = orbit_nb.compare(prompts, MODELS, system="Be brief.", stream=True, cache=False)
    plain = orbit_nb.compare(prompts, MODELS, system="Be brief.", cache=False)
    assert (streamed_df["status"] == "ok").all() and (plain["status"] == "ok").all()
    same = [
        "prompt_id",
        "model_spec",
        "content",
        "input_tokens",
        "cached_input_tokens",
        "cache_write_tokens",
        "output_tokens",
        "reasoning_tokens",
        "total_tokens",
        "cost_usd",
        "finish_reason",
    ]
    pd.testing.assert_frame_equal(streamed_df[same], plain[same])
    assert streamed_df["ttft_s"].notna().all()
    assert plain["ttft_s"].isna().all()  # not streamed: no time to first token


def test_a_slow_first_token_shows_in_ttft(llmock: LLMock) -> None:
    for provider in PROVIDERS:
        llmock.slow_first_token(2.0, provider=provider)
    slow = orbit_nb.compare("a slow start", MODELS, stream=True, cache=False)
    quick = orbit_nb.compare("a quick start", MODELS, stream=True, cache=False)
    assert (slow["status"] == "ok").all() and (quick["status"] == "ok").all()
    assert (slow["ttft_s"] >= 1.9).all(), slow["ttft_s"]
    assert (slow["ttft_s"] <= slow["latency_s"]).all()
    assert quick["ttft_s"].max() < slow["ttft_s"].min()


def test_row_deltas_arrive_in_order_on_the_engine_thread(llmock: LLMock) -> None:
    scripted(llmock, pace_ms=20)  # the six streams interleave
    df, seen = streamed({"a": "first question", "b": "second question"}, MODELS)
    assert (df["status"] == "ok").all()
    assert {thread for thread, _ in seen} == {"orbit-engine"}
    for index, row in enumerate(df.itertuples()):
        mine = [e for _, e in seen if getattr(e, "index", None) == index]
        kinds = [type(e).__name__ for e in mine]
        assert kinds[0] == "RowStarted" and kinds[-1] == "RowFinished"
        assert set(kinds[1:-1]) == {"RowDelta"} and len(kinds) == 14
        assert len({id(e.row) for e in mine}) == 1  # the run's own row, every time
        assert "".join(deltas(seen, index)) == row.content == TEXT


def test_a_stream_option_that_is_no_bool_is_refused() -> None:
    with pytest.raises(ParameterError, match="stream='yes' must be True or False"):
        Options(stream="yes")  # type: ignore[arg-type]


# -- the cache -----------------------------------------------------------------------


def test_streamed_and_unstreamed_calls_share_one_cache_entry(llmock: LLMock) -> None:
    scripted(llmock)
    first = orbit_nb.compare("shared words", MODELS, stream=True)
    again = orbit_nb.compare("shared words", MODELS)  # not streamed: the same entry
    assert again["cached"].all() and (again["content"] == TEXT).all()
    assert again["ttft_s"].tolist() == first["ttft_s"].tolist()  # the original call's
    orbit_nb.compare("other words", MODELS)
    seen: list[ev.Event] = []
    streamed_hit = start("other words", MODELS, Options(stream=True), on_event=seen.append).wait()
    assert streamed_hit["cached"].all() and streamed_hit["ttft_s"].isna().all()
    assert not [e for e in seen if isinstance(e, ev.RowDelta)]  # a hit is not streamed
    assert len(llmock.requests) == 6


def test_a_broken_stream_is_not_cached(llmock: LLMock) -> None:
    scripted(llmock)
    llmock.truncate(after_chunks=AFTER_TEXT, provider="openai")
    shown = start("cut short", ["openai:gpt-4o-mini"], Options(stream=True), **SHOWN)
    assert shown.wait()["status"].iloc[0] == "error"  # shown, so not retried
    whole = orbit_nb.compare("cut short", ["openai:gpt-4o-mini"], stream=True)
    row = whole.iloc[0]
    assert (row["status"], row["cached"], row["content"]) == ("ok", False, TEXT)


# -- streams that break ----------------------------------------------------------------


@pytest.fixture
def stall_limit(monkeypatch: pytest.MonkeyPatch) -> Iterator[float]:
    monkeypatch.setattr(retry, "STALL_TIMEOUT", STALL_LIMIT)
    yield STALL_LIMIT


@pytest.mark.parametrize("kind", list(ERROR_TYPES))
def test_a_stream_broken_before_any_text_is_retried(
    llmock: LLMock, stall_limit: float, kind: str
) -> None:
    scripted(llmock, PACE_MS)
    for provider in PROVIDERS:
        fault(llmock, kind, provider, BEFORE_TEXT)
    df, seen = streamed(f"broken early: {kind}", MODELS)
    assert (df["status"] == "ok").all(), df["error_message"].tolist()
    assert (df["content"] == TEXT).all()
    assert (df["attempts"] >= 2).all()
    retried = [e for _, e in seen if isinstance(e, ev.RowRetrying)]
    assert sorted(e.row.request.model.provider for e in retried) == sorted(PROVIDERS)
    assert {e.failure.error_type for e in retried} == {ERROR_TYPES[kind]}
    for index in range(3):  # the text shown is the answer's, once
        assert "".join(deltas(seen, index)) == TEXT
    records = settled(llmock, 6)
    assert sum(r.fault is not None for r in records) == 3
    verdict = judge(records)
    assert not ACCEPTED & {f.code for f in verdict.findings}
    verdict.assert_ok(strict=True)


@pytest.mark.parametrize("kind", list(ERROR_TYPES))
def test_a_stream_broken_after_text_nobody_saw_is_retried_to_the_whole_answer(
    llmock: LLMock, stall_limit: float, kind: str
) -> None:
    """No display showed the text (a script, a test): the partial text is dropped and
    the call retried like any failure of its kind; ttft_s is the answering attempt's."""
    scripted(llmock, PACE_MS)
    for provider in PROVIDERS:
        fault(llmock, kind, provider, AFTER_TEXT)
    df, seen = streamed(f"broken late, unseen: {kind}", MODELS)
    assert (df["status"] == "ok").all(), df["error_message"].tolist()
    assert (df["content"] == TEXT).all()
    assert (df["attempts"] >= 2).all()
    assert ((df["ttft_s"] > 0) & (df["ttft_s"] <= df["latency_s"])).all()
    retried = [e for _, e in seen if isinstance(e, ev.RowRetrying)]
    assert {e.failure.error_type for e in retried} == {ERROR_TYPES[kind]}
    for index in range(3):
        before = [e for _, e in seen if getattr(e, "index", None) == index]
        first = before.index(next(e for e in before if isinstance(e, ev.RowRetrying)))
        broken = "".join(e.text for e in before[:first] if isinstance(e, ev.RowDelta))
        assert broken and TEXT.startswith(broken) and broken != TEXT  # text came, then the break
        again = "".join(e.text for e in last_attempt(seen, index) if isinstance(e, ev.RowDelta))
        assert again == TEXT  # the answering attempt's pieces: the whole answer, once
    records = settled(llmock, 6, faults=3)
    assert sum(r.fault is not None for r in records) == 3
    verdict = judge(records)
    assert not ACCEPTED & {f.code for f in verdict.findings}, verdict.render()
    verdict.assert_ok(strict=True)


@pytest.mark.parametrize("kind", list(ERROR_TYPES))
def test_a_stream_broken_after_text_was_shown_is_an_error_row_keeping_that_text(
    llmock: LLMock, stall_limit: float, kind: str
) -> None:
    """A display showed the text: not retried, as the text shown would start over.
    LLMock's verdict reads a broken stream that was not retried as accepted (it
    cannot see the client's result), so its findings on these calls are checked
    against the rows: each is an error row."""
    scripted(llmock, PACE_MS)
    for provider in PROVIDERS:
        fault(llmock, kind, provider, AFTER_TEXT)
    df, seen = streamed(f"broken late, shown: {kind}", MODELS, shows_text=True)
    assert (df["status"] == "error").all()
    assert (df["error_type"] == ERROR_TYPES[kind]).all(), df["error_message"].tolist()
    assert (df["attempts"] == 1).all()
    for index, row in enumerate(df.itertuples()):
        assert row.content and TEXT.startswith(row.content) and row.content != TEXT
        assert row.content == "".join(deltas(seen, index))
        assert f"after {len(row.content)} characters" in row.error_message
        assert "(kept in content, incomplete); not retried" in row.error_message
        assert "had been shown" in row.error_message
        assert 0 < row.ttft_s <= row.latency_s
        assert pd.isna(row.input_tokens) and pd.isna(row.cost_usd)
        kinds = [type(e).__name__ for _, e in seen if getattr(e, "index", None) == index]
        assert "RowRetrying" not in kinds
    records = settled(llmock, 3, faults=3)
    assert len(records) == 3 and all(r.fault for r in records)  # one request a call
    rows = {row.provider: row for row in df.itertuples()}
    for finding in judge(records).findings:
        assert finding.code in ACCEPTED | {"gave_up"}, finding
        (record,) = [r for r in records if r.seq in finding.seqs]
        assert rows[record.provider].status == "error"
    assert leaks(df.to_csv()) == []


def test_live_cards_count_as_shown_only_the_rows_they_draw(
    llmock: LLMock, stall_limit: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Live cards draw the first 20 prompts of a one-model run: a stream that breaks
    after text in one of those is an error row, not retried; in the two prompts
    beyond them, whose text no display showed, it is retried like any other."""
    monkeypatch.setattr(retry, "MAX_ATTEMPTS", 2)
    monkeypatch.setattr(retry, "_BACKOFF_BASE", 0.01)
    scripted(llmock, PACE_MS)
    llmock.disconnect(after_chunks=AFTER_TEXT, times=None, provider="openai")
    prompts = {f"p{i:02}": f"drawn or not {i}" for i in range(MAX_PROMPTS + 2)}
    run = prepare(prompts, ["openai:gpt-4o-mini"], Options(stream=True, cache=False))
    LiveCards(run, show_after=3600)  # subscribed now; nothing drawn outside a kernel
    df = launch(run).wait()
    drawn, beyond = df.iloc[:MAX_PROMPTS], df.iloc[MAX_PROMPTS:]
    assert list(beyond["prompt_id"]) == ["p20", "p21"]
    assert (df["status"] == "error").all() and (df["error_type"] == "disconnected").all()
    assert (drawn["attempts"] == 1).all(), drawn["attempts"].tolist()
    assert drawn["error_message"].str.contains("had been shown").all()
    assert (beyond["attempts"] == 2).all(), beyond["error_message"].tolist()
    assert not beyond["error_message"].str.contains("had been shown").any()


def test_a_display_of_some_rows_shows_only_their_text() -> None:
    events = ev.Events()
    unsubscribe = events.subscribe(lambda _: None, shows_text=True, rows=[0, 2])
    assert events.shows_text
    assert [events.shows(i) for i in range(4)] == [True, False, True, False]
    events.subscribe(lambda _: None, shows_text=True)  # another display, of every row
    assert all(events.shows(i) for i in range(4))
    unsubscribe()
    assert events.shows(3)


def test_a_listener_can_leave_out_deltas(llmock: LLMock) -> None:
    """A run's own counter takes no RowDelta: with no listener of them, none is made."""
    scripted(llmock)
    seen: list[ev.Event] = []
    run = prepare("no deltas", MODELS, Options(stream=True, cache=False))
    assert not run.events.hears_deltas  # the run's own counter does not take them
    run.events.subscribe(seen.append, deltas=False)
    df = launch(run).wait()
    assert (df["status"] == "ok").all() and (df["content"] == TEXT).all()
    kinds = {type(e).__name__ for e in seen}
    assert kinds == {"RunStarted", "RowStarted", "RowFinished", "RunFinished"}, kinds
    assert run.finished == len(MODELS) and run.spent_usd > 0


def test_text_counts_as_shown_only_while_a_display_is_subscribed() -> None:
    events = ev.Events()
    assert not events.shows_text
    unsubscribe_plain = events.subscribe(lambda _: None)
    assert not events.shows_text  # a listener that records, not a display
    unsubscribe = events.subscribe(lambda _: None, shows_text=True)
    assert events.shows_text
    unsubscribe()
    assert not events.shows_text
    unsubscribe_plain()

    def broken_display(_: ev.Event) -> None:
        raise RuntimeError("a display that fails")

    events.subscribe(broken_display, shows_text=True)
    events.publish(ev.RunFinished("done"))  # logged, and the display dropped
    assert not events.shows_text


def test_the_verdict_finds_no_broken_stream_taken_for_an_answer(
    llmock: LLMock, llmock_server: LLMockServer, stall_limit: float
) -> None:
    """Every kind of fault at every chunk up to the first text of each format and at
    two chunks after it, among many calls and with no display: every one retried to
    a whole answer, and LLMock's verdict finds no broken stream taken for one.

    A queued fault goes to the next streamed request of its provider and fires when
    that response reaches its chunk; a request whose client hung up sooner (a stall
    timer run late on a busy machine) takes it unfired. So the faults not yet seen
    firing are queued again, for up to three rounds, until each one has fired.
    Stalls are queued once and not counted: a stalled request is recorded only when
    the server notices its client has gone, which a busy machine can put off.
    """
    scripted(llmock, PACE_MS)
    first_text = {"anthropic": 3, "openai": 1, "gemini": 0}  # chunk of the first text
    wanted = {
        (provider, kind, after)
        for provider, first in first_text.items()
        for after in [*range(first + 1), first + 1, first + AFTER_TEXT]
        for kind in ERROR_TYPES
    }
    judged = {w for w in wanted if w[1] != "stall"}
    fired: set[tuple[str, str, int]] = set()
    rows = 0
    for round_ in range(3):
        queue = sorted(wanted if round_ == 0 else judged - fired)
        if not queue:
            break
        for provider, kind, after in queue:
            fault(llmock, kind, provider, after)
        prompts = [f"fault mix {round_}.{i}" for i in range(len(queue))]
        df = orbit_nb.compare(prompts, MODELS, stream=True, cache=False)
        assert (df["status"] == "ok").all(), df["error_message"].dropna().tolist()
        assert (df["content"] == TEXT).all()
        rows += len(df)
        records = journal(llmock_server, rows)
        fired = {fault_of(r) for r in records if r.fault and r.fault.startswith("stream:")}
    assert judged <= fired, f"never fired: {sorted(judged - fired)}\n" + "\n".join(
        f"{r.seq} {r.provider} fault={r.fault} completed={r.completed} "
        f"chunks={r.chunks_sent} status={r.status}"
        for r in records
    )
    verdict = judge(records)
    assert not ACCEPTED & {f.code for f in verdict.findings}, verdict.render()
    verdict.assert_ok(strict=True)


def fault_of(record: RequestRecord) -> tuple[str, str, int]:
    """(provider, kind, chunk) of a record's stream fault (``stream:kind@chunk``)."""
    kind, _, chunk = record.fault.removeprefix("stream:").partition("@")  # type: ignore[union-attr]
    return record.provider, kind, int(chunk)


def journal(server: LLMockServer, count: int) -> list[RequestRecord]:
    """LLMock's journal of this test once it holds ``count`` records and no request
    is still being served (a stalled one ends within STALL_S of its client leaving)."""
    deadline = time.monotonic() + 60
    state = server.state
    while True:
        records = state.journal.records(wait=1.0)
        done = len(records) >= count and not state.journal.in_flight
        if done or time.monotonic() > deadline:
            return records
        time.sleep(0.1)


def test_a_timeout_mid_stream_keeps_the_text_and_says_so(llmock: LLMock) -> None:
    scripted(llmock, pace_ms=400)
    df = orbit_nb.compare("slowly now", ["openai:gpt-4o-mini"], stream=True, timeout=2)
    row = df.iloc[0]
    assert (row["status"], row["error_type"], row["attempts"]) == ("error", "timeout", 1)
    assert row["content"] and TEXT.startswith(row["content"]) and row["content"] != TEXT
    message = row["error_message"]
    assert f"after {len(row['content'])} characters" in message, message
    assert "(kept in content, incomplete)" in message, message


# -- documented shapes (a canned server) -----------------------------------------------


def sse(*events: tuple[str | None, object]) -> bytes:
    """An event stream: each (name, data) as one event, data JSON unless a str."""
    return "".join(
        (f"event: {name}\n" if name else "")
        + f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
        for name, data in events
    ).encode()


def stream_reply(body: bytes, **headers: str) -> Reply:
    return Reply(200, body, {"content-type": "text/event-stream", **headers})


def anthropic_events(*events: dict[str, Any]) -> list[tuple[str | None, object]]:
    return [(str(e["type"]), e) for e in events]


ANTHROPIC_START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5-20251001",
        "content": [],
        "stop_reason": None,
        "usage": {
            "input_tokens": 12,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 200,
            "cache_creation": {"ephemeral_5m_input_tokens": 60, "ephemeral_1h_input_tokens": 40},
            "output_tokens": 1,
        },
    },
}
ANTHROPIC_STREAM = sse(
    *anthropic_events(
        ANTHROPIC_START,
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Hm."},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "ping"},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi "}},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": "there"},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            # Cumulative; a null or missing count keeps message_start's.
            "usage": {
                "input_tokens": 12,
                "cache_creation_input_tokens": None,
                "output_tokens": 30,
                "output_tokens_details": {"thinking_tokens": 20},
            },
        },
        {"type": "message_stop"},
    )
)
ANTHROPIC_JSON = {
    **ANTHROPIC_START["message"],  # type: ignore[dict-item]
    "content": [{"type": "thinking", "thinking": "Hm."}, {"type": "text", "text": "Hi there"}],
    "stop_reason": "end_turn",
    "usage": {
        "input_tokens": 12,
        "cache_creation_input_tokens": 100,
        "cache_read_input_tokens": 200,
        "cache_creation": {"ephemeral_5m_input_tokens": 60, "ephemeral_1h_input_tokens": 40},
        "output_tokens": 30,
        "output_tokens_details": {"thinking_tokens": 20},
    },
}
OPENAI_USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1024},
    "completion_tokens_details": {"reasoning_tokens": 256},
}


def openai_chunk(
    delta: dict[str, Any], finish: str | None = None, usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {
        "id": "c1",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [] if usage else [choice],
        "usage": usage,
    }


def openai_stream(*, usage: bool = True) -> bytes:
    chunks = [
        openai_chunk({"role": "assistant", "content": ""}),
        openai_chunk({"content": "Hi "}),
        openai_chunk({"content": "there"}),
        openai_chunk({}, "stop"),
    ]
    if usage:
        chunks.append(openai_chunk({}, usage=OPENAI_USAGE))
    return sse(*((None, chunk) for chunk in chunks), (None, "[DONE]"))


OPENAI_JSON = {
    "id": "c1",
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi there"},
            "finish_reason": "stop",
        }
    ],
    "usage": OPENAI_USAGE,
}
GEMINI_USAGE = {
    "promptTokenCount": 50,
    "candidatesTokenCount": 7,
    "thoughtsTokenCount": 30,
    "cachedContentTokenCount": 20,
    "totalTokenCount": 87,
}


def gemini_chunk(part: dict[str, Any], last: bool = False) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [part], "role": "model"}, "index": 0}
    if last:
        candidate["finishReason"] = "STOP"
    # Only the last chunk's usage is complete.
    usage = GEMINI_USAGE if last else {"promptTokenCount": 50, "thoughtsTokenCount": 30}
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": "gemini-2.5-flash",
        "responseId": "resp-1",
    }


GEMINI_STREAM = sse(
    (None, gemini_chunk({"text": "Thinking.", "thought": True})),
    (None, gemini_chunk({"text": "Hi "})),
    (None, gemini_chunk({"text": "there"}, last=True)),
)
GEMINI_JSON = {
    "candidates": [
        {
            "content": {
                "parts": [{"text": "Thinking.", "thought": True}, {"text": "Hi there"}],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": GEMINI_USAGE,
    "modelVersion": "gemini-2.5-flash",
    "responseId": "resp-1",
}
DOCUMENTED = {
    "anthropic:claude-haiku-4-5": (ANTHROPIC_STREAM, ANTHROPIC_JSON, {"request-id": "req_a"}),
    "openai:gpt-4o-mini": (openai_stream(), OPENAI_JSON, {"x-request-id": "req_o"}),
    "gemini:gemini-2.5-flash": (GEMINI_STREAM, GEMINI_JSON, {}),
}
USAGE_COLUMNS = [
    "content",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
    "cost_usd",
    "finish_reason",
    "request_id",
]


@pytest.mark.parametrize("spec", list(DOCUMENTED))
def test_documented_stream_usage_is_the_unstreamed_usage(canned: CannedServer, spec: str) -> None:
    """Cache reads and writes (by TTL), reasoning and thinking, as each API streams them."""
    stream_body, json_body, headers = DOCUMENTED[spec]
    canned.queue(stream_reply(stream_body, **headers), Reply(200, json_body, headers))
    streamed_df = orbit_nb.compare("hello", [spec], stream=True, cache=False)
    plain = orbit_nb.compare("hello", [spec], cache=False)
    assert streamed_df["status"].iloc[0] == "ok", streamed_df["error_message"].iloc[0]
    pd.testing.assert_frame_equal(streamed_df[USAGE_COLUMNS], plain[USAGE_COLUMNS])
    assert streamed_df["content"].iloc[0] == "Hi there"
    assert streamed_df["cached_input_tokens"].iloc[0] > 0
    assert streamed_df["reasoning_tokens"].iloc[0] > 0
    request = canned.seen[0]
    if spec.startswith("gemini"):
        target = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        assert request.target == target
        assert request.headers["x-goog-api-key"] == KEYS["GEMINI_API_KEY"]
    assert leaks(request.target) == []


@pytest.mark.parametrize("spec", list(DOCUMENTED))
def test_a_compressed_stream_is_decoded(canned: CannedServer, spec: str) -> None:
    """A gzip-encoded event stream (its chunks are no events until decoded)."""
    stream_body, json_body, headers = DOCUMENTED[spec]
    compressed = stream_reply(gzip.compress(stream_body), **headers, **{"content-encoding": "gzip"})
    canned.queue(compressed, Reply(200, json_body, headers))
    df, seen = streamed("hello", [spec])
    plain = orbit_nb.compare("hello", [spec], cache=False)
    assert (df["status"].iloc[0], df["attempts"].iloc[0]) == ("ok", 1), df["error_message"].iloc[0]
    pd.testing.assert_frame_equal(df[USAGE_COLUMNS], plain[USAGE_COLUMNS])
    assert "".join(deltas(seen, 0)) == "Hi there"


@pytest.fixture
def compatible(canned: CannedServer) -> Iterator[str]:
    """A registered OpenAI-compatible endpoint on the canned server."""
    orbit_nb.register_endpoint("local", base_url=canned.url + "/v1")
    yield "local:llama3.2"
    _ENDPOINTS.pop("local", None)


def test_a_compatible_server_without_stream_usage_gives_na_usage(
    canned: CannedServer, compatible: str
) -> None:
    canned.queue(stream_reply(openai_stream(usage=False)))
    with pytest.warns(UserWarning, match="no price"):
        df = orbit_nb.compare("hello", [compatible], stream=True)
    row = df.iloc[0]
    assert (row["status"], row["content"]) == ("ok", "Hi there"), row["error_message"]
    for column in ("input_tokens", "output_tokens", "total_tokens", "cost_usd"):
        assert pd.isna(row[column]), column  # unknown, not 0


def test_a_compatible_server_that_does_not_stream_answers_in_one_piece(
    canned: CannedServer, compatible: str
) -> None:
    canned.queue(Reply(200, OPENAI_JSON))
    df, seen = streamed("hello", [compatible])
    row = df.iloc[0]
    assert (row["status"], row["content"], row["input_tokens"]) == ("ok", "Hi there", 1200)
    assert deltas(seen, 0) == ["Hi there"] and row["ttft_s"] <= row["latency_s"]


def test_a_success_that_is_no_event_stream_is_a_bad_response(canned: CannedServer) -> None:
    canned.queue(Reply(200, b"<html>Sign in to the Wi-Fi</html>", {"content-type": "text/html"}))
    df = orbit_nb.compare("hello", ["anthropic:claude-haiku-4-5"], stream=True)
    row = df.iloc[0]
    assert (row["status"], row["error_type"], row["attempts"]) == ("error", "bad_response", 1)
    assert "text/html, not an event stream" in row["error_message"]


def test_an_error_event_before_any_text_is_retried(canned: CannedServer) -> None:
    overloaded = sse(
        *anthropic_events(
            ANTHROPIC_START,
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        )
    )
    canned.queue(stream_reply(overloaded), stream_reply(ANTHROPIC_STREAM))
    df, seen = streamed("hello", ["anthropic:claude-haiku-4-5"])
    row = df.iloc[0]
    assert (row["status"], row["attempts"], row["content"]) == ("ok", 2, "Hi there")
    (retried,) = [e for _, e in seen if isinstance(e, ev.RowRetrying)]
    assert retried.failure.error_type == "overloaded"
    assert "Overloaded" in retried.failure.message
