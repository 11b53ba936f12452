"""The rich view of a result: answers side by side, errors in place, both mime types."""

from __future__ import annotations

from datetime import UTC, datetime

from orbit_nb.frame import to_frame
from orbit_nb.types import ModelSpec, Request, Row, Usage
from orbit_nb.notebook.view import Comparison, progress_bundle

GPT, CLAUDE = ModelSpec("openai", "gpt-4o-mini"), ModelSpec("anthropic", "claude-haiku-4-5")


def rows() -> list[Row]:
    now = datetime.now(UTC)
    ok = Row(
        "r1",
        Request("p0", "Compare <b>tags</b>", GPT),
        status="ok",
        content="Use <em> & friends",
        usage=Usage(10, 20),
        latency_s=0.42,
        cost_usd=0.0000141,
        attempts=1,
        started_at=now,
    )
    failed = Row(
        "r1",
        Request("p0", "Compare <b>tags</b>", CLAUDE),
        status="error",
        error_type="rate_limit",
        error_message="429 slow down",
        attempts=6,
        started_at=now,
    )
    return [ok, failed]


def test_html_shows_answers_side_by_side_escaped_with_errors_in_place() -> None:
    bundle = Comparison(to_frame(rows()), "2 calls")._repr_mimebundle_()
    html = bundle["text/html"]
    assert "Use &lt;em&gt; &amp; friends" in html and "<em>" not in html
    assert "Compare &lt;b&gt;tags&lt;/b&gt;" in html
    assert "[rate_limit] 429 slow down" in html and "class='ans err'" in html
    assert "0.42 s" in html and "10→20 tok" in html and "$0.000014" in html
    assert "6 attempts" in html
    assert "Usage and cost" in html


def test_plain_text_fallback_is_readable() -> None:
    text = Comparison(to_frame(rows()), "2 calls")._repr_mimebundle_()["text/plain"]
    assert text.splitlines()[:3] == [
        "2 calls",
        "== p0: Compare <b>tags</b>",
        "-- openai:gpt-4o-mini (0.42 s · 10→20 tok · $0.000014)",
    ]
    assert "   [rate_limit] 429 slow down" in text
    assert "total" in text  # the cost table follows


def test_progress_bundle() -> None:
    bundle = progress_bundle(3, 12, "running")
    assert bundle["text/plain"].endswith("3/12 calls")
    assert "<progress value='3' max='12'" in bundle["text/html"]
