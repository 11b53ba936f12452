"""The result view's HTML and text: sanitized Markdown, scoped styling, every sample
reachable, big runs summarised. (What it looks like is checked in a real browser
by test_browser_view.py.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

import orbit_nb
from orbit_nb.errors import ParameterError
from orbit_nb.frame import to_frame
from orbit_nb.notebook.markdown import render
from orbit_nb.notebook.view import Comparison
from orbit_nb.types import ModelSpec, Request, Row, Usage

GPT, CLAUDE = ModelSpec("openai", "gpt-4o-mini"), ModelSpec("anthropic", "claude-haiku-4-5")
NOW = datetime.now(UTC)
HOSTILE = (
    '<img src=x onerror="window.__orbit_xss=1"> <script>window.__orbit_xss=2</script> '
    "[click](javascript:window.__orbit_xss=3) <iframe src=x></iframe> <style>*{}</style>"
)


def ok(pid: str, model: ModelSpec, content: str, repeat: int = 0, **kw: object) -> Row:
    values: dict[str, object] = {
        "usage": Usage(1200, 20),
        "latency_s": 0.42,
        "cost_usd": 0.0000141,
        "attempts": 1,
    }
    values.update(kw)
    return Row(
        "r1",
        Request(pid, f"prompt {pid}", model, repeat),
        status="ok",
        content=content,
        started_at=NOW,
        **values,  # type: ignore[arg-type]
    )


def failed(pid: str, model: ModelSpec) -> Row:
    return Row(
        "r1",
        Request(pid, f"prompt {pid}", model),
        status="error",
        error_type="rate_limit",
        error_message="429 <slow> down",
        attempts=6,
        started_at=NOW,
    )


def html_of(rows: list[Row], **kw: object) -> str:
    return Comparison(to_frame(rows), "title", **kw)._repr_html_()  # type: ignore[arg-type]


def test_markdown_renders_and_nothing_hostile_survives() -> None:
    page = html_of([ok("p0", GPT, "## Title\n\n- a\n- b\n\n```py\nx = 1\n```\n\n" + HOSTILE)])
    assert "<h2>Title</h2>" in page and "<li>a</li>" in page
    assert '<pre><code class="language-py">x = 1' in page
    for live in ("<img", "<script", "<iframe", 'href="javascript', "<style>*"):
        assert live not in page.lower(), live
    assert not re.search(r"<[^>]*\bonerror=", page)  # as text only, never an attribute
    assert "&lt;script&gt;window.__orbit_xss=2&lt;/script&gt;" in page  # shown as text


def test_every_class_and_css_rule_is_prefixed_and_scoped() -> None:
    page = html_of([ok("p0", GPT, "hi"), failed("p0", CLAUDE)])
    classes = {c for attr in re.findall(r"class='([^']*)'", page) for c in attr.split()}
    classes -= {"mathjax_ignore", "tex2jax_ignore"}  # dollars are not TeX
    assert classes and all(c.startswith("orbit-nb") for c in classes), classes
    assert page.startswith("<div class='orbit-nb orbit-nb-view mathjax_ignore tex2jax_ignore'>")
    css = "".join(re.findall(r"<style>(.*?)</style>", page, flags=re.S))
    for rule in re.findall(r"([^{}]+)\{[^{}]*\}", css):
        for selector in rule.split(","):
            assert ".orbit-nb" in selector, selector  # nothing global


def test_card_footer_errors_and_marks() -> None:
    cheap = ok("p0", GPT, "fast one", latency_s=0.2, cost_usd=0.001)
    slow = ok("p0", CLAUDE, "slow one", latency_s=1.5, cost_usd=0.0000297, cached=True)
    page = html_of([cheap, slow])
    assert "0.20 s · 1,200→20 tok · $0.001" in page
    assert "$0.0000297" in page and "e-0" not in page  # never scientific notation
    assert page.count("badge-fastest'>") == 1 and page.count("badge-cheapest'>") == 1
    assert "orbit-nb-badge-cached" in page
    page = html_of([ok("p0", GPT, "x"), failed("p0", CLAUDE)])
    assert "orbit-nb-badge-error'>rate_limit</span>" in page and "429 &lt;slow&gt; down" in page
    assert "6 attempts" in page and "<NA>" not in page and "n/a" not in page


def test_every_repeat_is_reachable() -> None:
    page = html_of([ok("p0", GPT, f"answer number {r}", repeat=r) for r in range(3)])
    for r in range(3):
        assert f"answer number {r}" in page
    assert "sample 1/3" in page and "sample 3/3" in page


def test_big_runs_are_summarised() -> None:
    rows = [ok(f"p{i}", m, "word " * 60) for i in range(100) for m in (GPT, CLAUDE)]
    rows += [ok(f"p{i}", ModelSpec("gemini", "gemini-2.5-flash"), "x " * 60) for i in range(100)]
    view = Comparison(to_frame(rows), "300 calls", var="_orbit")
    page = view._repr_html_()
    assert len(page.encode()) <= 150_000, len(page)
    assert page.count("<tr>") <= 20 + 1 + 7  # prompt rows + header + the cost table
    assert "+80 more prompts: see _orbit" in page
    assert len(repr(view)) < 12_000


def test_big_runs_with_repeats_are_summarised() -> None:
    models = (GPT, CLAUDE, ModelSpec("gemini", "gemini-2.5-flash"))
    answer = "A fairly typical answer of a few sentences. " * 6
    rows = [ok(f"p{i}", m, answer, repeat=r) for i in range(20) for m in models for r in range(5)]
    view = Comparison(to_frame(rows), "300 calls", var="_orbit")
    page = view._repr_html_()
    assert len(page.encode()) <= 150_000, len(page)
    assert "+10 more prompts: see _orbit" in page  # 10 rows of 15 answers
    assert "sample 5/5" in page  # every sample of a drawn row is reachable
    text = repr(view)
    assert len(text) < 12_000 and "(+4 more samples)" in text


def test_long_answers_are_capped_with_a_toggle() -> None:
    page = html_of([ok("p0", GPT, "\n\n".join(f"line {i}" for i in range(40)))])
    assert "orbit-nb-capped" in page and "orbit-nb-toggle" in page
    huge = html_of([ok("p0", GPT, "y" * 20_000)])
    assert "17,000 more characters" in huge and len(huge) < 15_000


def test_plain_text_fallback() -> None:
    text = repr(Comparison(to_frame([ok("p0", GPT, "Use <em>\nnow"), failed("p0", CLAUDE)]), "t"))
    lines = text.splitlines()
    assert lines[0] == "t"
    assert lines[1].startswith("2 calls · 1 ok · 1 errors")
    assert "-- openai:gpt-4o-mini: Use <em> now (0.42 s · 1,200→20 tok · $0.0000141)" in lines
    assert "-- anthropic:claude-haiku-4-5: [rate_limit] 429 <slow> down" in lines


def test_show_checks_its_input() -> None:
    view = orbit_nb.show(to_frame([ok("p0", GPT, "hi")]))
    assert "orbit-nb-grid" in view._repr_mimebundle_()["text/html"]
    with pytest.raises(ParameterError, match="show\\(\\) takes the DataFrame"):
        orbit_nb.show("not a frame")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="max_prompts=0"):
        orbit_nb.show(to_frame([ok("p0", GPT, "hi")]), max_prompts=0)


def test_render_keeps_safe_links_only() -> None:
    out = render("[a](https://example.org) [b](javascript:alert(1)) ![i](https://x/y.png)")
    assert 'href="https://example.org"' in out and 'rel="noopener noreferrer nofollow"' in out
    assert "javascript:" not in out.split("[b]")[0] and "<img" not in out
