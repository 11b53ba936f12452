"""%%orbit and %orbit in a real Jupyter kernel, against LLMock.

The magics are what a notebook user touches, so they are tested the way a
notebook runs them: cells sent to the venv's ipykernel through jupyter_client,
their replies and display messages read back, and what reached the providers
read from LLMock's request journal. One kernel serves the module (each test
uses its own prompts or --no-cache, so no row comes from another test's
cache); the tests of IPython's config get fresh kernels of their own.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llmock.journal import RequestRecord
from llmock.pytest_plugin import LLMock
from llmock.testing import LLMockServer

import orbit_nb

from conftest import KEYS
from kernel import (
    MODELS,
    REPORT_HELPERS,
    SLOW,
    Cell,
    Kernel,
    assert_one_line_usage_error,
    assert_rows,
    kernel_env,
    prompts_for,
    start_kernel,
    wait_for_answers,
)

OPENAI, ANTHROPIC, GEMINI = (
    "openai:gpt-4o-mini",
    "anthropic:claude-haiku-4-5",
    "gemini:gemini-2.5-flash",
)
ALL = f"{OPENAI},{ANTHROPIC},{GEMINI}"
# LLMock holds background calls this long, so a cell that waited for them is seen to
# have waited (the cell's own time, about 15 ms, is a figure of bench/kernel_responsiveness.py).
HELD = 5.0
INTERRUPT_BUDGET = 5.0  # seconds from an interrupt to the run's end (~65 ms on a quiet
# machine, printed; seconds with both cores taken by other work)
# Seconds to the cell's reply or the variable being set: the display and IPython's
# own work come on top, slow on a busy machine and not orbit's.
REPLY_BUDGET = 8.0


@pytest.fixture(scope="module")
def kernel(
    llmock_server: LLMockServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kernel]:
    """One kernel with orbit_nb loaded and every provider SDK already imported.

    The warm-up run imports the SDKs (seconds, in the caller's thread by
    design), so the timings below measure the magic, not the first import;
    test_first_background_cell_returns_at_once covers a fresh kernel.
    """
    env = kernel_env(llmock_server, tmp_path_factory.mktemp("orbit-cache"))
    with start_kernel(env) as kernel:
        kernel.run("%load_ext orbit_nb")
        kernel.run(REPORT_HELPERS)
        kernel.run(f"orbit_nb.compare('warm-up', {ALL!r}, cache=False)")
        yield kernel


def orbit(kernel: Kernel, options: str, body: str) -> Cell:
    """Run a ``%%orbit`` cell."""
    return kernel.execute(f"%%orbit {options}\n{body}")


def ok(cell: Cell) -> Cell:
    assert cell.status == "ok", cell.text
    return cell


def frame(kernel: Kernel, var: str, *columns: str) -> list[dict[str, Any]]:
    """The kernel's DataFrame ``var`` (some of its columns) as a list of records."""
    cols = list(columns)
    return json.loads(kernel.run(f"print({var}[{cols!r}].to_json(orient='records'))"))


def defined(kernel: Kernel, var: str) -> bool:
    return bool(kernel.evaluate(f"{var!r} in globals()"))


def completions(llmock: LLMock) -> list[RequestRecord]:
    """Requests that asked for an answer (not the free token-count endpoints)."""
    return [
        r
        for r in llmock.requests
        if not r.path.lower().endswith(("count_tokens", ":counttokens", "/input_tokens"))
    ]


def prompt_of(record: RequestRecord) -> str:
    """The user prompt a request carried, whatever the provider's wire format."""
    body = record.body
    if record.provider == "gemini":
        return str(body["contents"][-1]["parts"][0]["text"])
    return str(body["messages"][-1]["content"])


def sent_prompts(llmock: LLMock) -> list[str]:
    return sorted(prompt_of(r) for r in completions(llmock))


# -- options ---------------------------------------------------------------------


def test_models_system_temperature_and_max_tokens_reach_each_provider(
    kernel: Kernel, llmock: LLMock
) -> None:
    """-m/--models, -s/--system, -t/--temperature and --max-tokens, in each wire format."""
    ok(orbit(kernel, f"-m {ALL} -s Terse -t 0.3 --max-tokens 42 --no-cache -o opts", "Say hi."))

    rows = frame(kernel, "opts", "model_spec", "prompt", "status")
    assert sorted(r["model_spec"] for r in rows) == sorted(ALL.split(","))
    assert {(r["prompt"], r["status"]) for r in rows} == {("Say hi.", "ok")}
    bodies = {r.provider: r.body for r in completions(llmock)}
    assert set(bodies) == {"openai", "anthropic", "gemini"}
    openai, anthropic, gemini = bodies["openai"], bodies["anthropic"], bodies["gemini"]
    assert openai["messages"][0] == {"role": "system", "content": "Terse"}
    assert (openai["temperature"], openai["max_completion_tokens"]) == (0.3, 42)
    assert (anthropic["system"], anthropic["temperature"], anthropic["max_tokens"]) == (
        "Terse",
        0.3,
        42,
    )
    assert gemini["systemInstruction"] == {"parts": [{"text": "Terse"}]}
    assert gemini["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 42}


@pytest.mark.parametrize("quoted", ['"Answer in French."', "'Answer in French.'", '"$french"'])
def test_quoted_system_prompt_is_sent_without_its_quotes(
    kernel: Kernel, llmock: LLMock, quoted: str
) -> None:
    """A system prompt of several words has to be quoted on the magic line (also when
    it comes from a $variable); the quotes are shell syntax, not part of the prompt."""
    kernel.run("french = 'Answer in French.'")
    ok(orbit(kernel, f"-m {OPENAI} -s {quoted} --no-cache -o sysq", "Say hi."))

    (request,) = completions(llmock)
    assert request.body["messages"][0] == {"role": "system", "content": "Answer in French."}


def test_repeat_samples_each_prompt_and_model(kernel: Kernel, llmock: LLMock) -> None:
    ok(orbit(kernel, f"-m {OPENAI} -n 3 --no-cache -o rep", "repeat: pick a colour."))

    assert [r["repeat"] for r in frame(kernel, "rep", "repeat")] == [0, 1, 2]
    assert sent_prompts(llmock) == ["repeat: pick a colour."] * 3


def test_no_cache_asks_the_model_again(kernel: Kernel, llmock: LLMock) -> None:
    body = "no-cache: name a river."
    ok(orbit(kernel, f"-m {OPENAI} -o first", body))
    ok(orbit(kernel, f"-m {OPENAI} -o again", body))
    assert len(completions(llmock)) == 1
    assert frame(kernel, "again", "cached") == [{"cached": True}]

    ok(orbit(kernel, f"-m {OPENAI} --no-cache -o fresh", body))
    assert len(completions(llmock)) == 2
    assert frame(kernel, "fresh", "cached", "status") == [{"cached": False, "status": "ok"}]


def test_out_names_the_variable_and_defaults_to_orbit(kernel: Kernel, llmock: LLMock) -> None:
    ok(orbit(kernel, f"-m {OPENAI} --no-cache", "out: default variable."))
    assert frame(kernel, "_orbit", "prompt") == [{"prompt": "out: default variable."}]

    ok(orbit(kernel, f"-m {OPENAI} --no-cache --out named", "out: named variable."))
    assert frame(kernel, "named", "prompt") == [{"prompt": "out: named variable."}]
    assert frame(kernel, "_orbit", "prompt") == [{"prompt": "out: default variable."}]


def test_stream_streams_every_answer_and_records_ttft(kernel: Kernel, llmock: LLMock) -> None:
    ok(orbit(kernel, f"-m {ALL} --stream --no-cache -o streamed", "stream: name a colour."))

    rows = frame(kernel, "streamed", "status", "ttft_s", "latency_s")
    assert len(rows) == 3
    assert all(r["status"] == "ok" and 0 < r["ttft_s"] <= r["latency_s"] for r in rows)
    assert sorted(r.provider for r in completions(llmock) if r.stream) == [
        "anthropic",
        "gemini",
        "openai",
    ]
    assert_one_line_usage_error(kernel.execute("%%orbit --bogus\nhi"), "[--stream]")


def overlapping(records: list[RequestRecord]) -> int:
    """The most requests the server was serving at one moment."""
    events = sorted([(r.started_at, 1) for r in records] + [(r.ended_at, -1) for r in records])
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def test_concurrency_caps_calls_in_flight(kernel: Kernel, llmock: LLMock) -> None:
    kernel.run("conc_items = ['a', 'b', 'c']")
    body = "concurrency {conc_items}"
    llmock.delay(0.3, times=None)
    ok(orbit(kernel, f"-m {OPENAI} -c 1 --no-cache -o conc1", body))
    assert overlapping(completions(llmock)) == 1

    llmock.reset().delay(0.3, times=None)
    ok(orbit(kernel, f"-m {OPENAI} --concurrency 3 --no-cache -o conc3", body))
    assert overlapping(completions(llmock)) == 3
    assert {r["status"] for r in frame(kernel, "conc1", "status")} == {"ok"}


def test_timeout_turns_a_slow_call_into_a_timeout_row(
    kernel: Kernel, llmock_server: LLMockServer, llmock: LLMock
) -> None:
    llmock.delay(3, times=1)
    cell = ok(orbit(kernel, f"-m {OPENAI} --timeout 0.5 --no-cache -o slow", "timeout: wait."))

    assert cell.seconds < 2.0
    (row,) = frame(kernel, "slow", "status", "error_type")
    assert row == {"status": "error", "error_type": "timeout"}


def test_budget_below_the_estimate_is_refused_before_any_call(
    kernel: Kernel, llmock: LLMock
) -> None:
    cell = orbit(kernel, f"-m {ALL} --budget 0.000001 --max-tokens 500 -o spent", "budget: hi.")
    assert_one_line_usage_error(cell, "exceeds budget", "nothing was sent")
    assert completions(llmock) == []
    assert not defined(kernel, "spent")

    ok(orbit(kernel, f"-m {ALL} --budget 1 --max-tokens 500 -o spent", "budget: hi."))
    assert {r["status"] for r in frame(kernel, "spent", "status")} == {"ok"}
    assert len(completions(llmock)) == 3


def test_dry_run_shows_the_estimate_and_calls_nothing(kernel: Kernel, llmock: LLMock) -> None:
    cell = ok(orbit(kernel, f"-m {ALL} --max-tokens 100 --dry-run -o dry", "dry run: hi."))

    (shown,) = cell.outputs("display_data")
    for mime in ("text/plain", "text/html"):
        assert "max cost ($)" in shown["data"][mime]
        for spec in ALL.split(","):
            assert spec in shown["data"][mime]
    assert completions(llmock) == []
    assert not defined(kernel, "dry")


def test_dry_run_prices_the_service_tier_asked_for(kernel: Kernel, llmock: LLMock) -> None:
    spec, prompt = "openai:gpt-5.4", "dry tier: hi."
    options = f"-m {spec} --max-tokens 100 --service-tier priority --dry-run"
    cell = ok(orbit(kernel, options, prompt))

    (shown,) = cell.outputs("display_data")
    priority = orbit_nb.estimate(prompt, [spec], max_tokens=100, service_tier="priority")
    standard = orbit_nb.estimate(prompt, [spec], max_tokens=100)
    cost = priority.loc[spec, "max_cost_usd"]
    assert cost == pytest.approx(2 * standard.loc[spec, "max_cost_usd"])
    assert shown["data"]["text/plain"] == repr(priority)
    assert completions(llmock) == []


def test_dollar_variables_in_option_values(kernel: Kernel, llmock: LLMock) -> None:
    """Option values may use $var, like other magics."""
    kernel.run(f"models = {OPENAI + ',' + GEMINI!r}; temp = 0.7; reps = 2; target = 'dollar'")
    ok(orbit(kernel, "-m $models -t $temp -n $reps -o $target --no-cache", "dollar: hi."))

    rows = frame(kernel, "dollar", "model_spec", "repeat")
    assert sorted((r["model_spec"], r["repeat"]) for r in rows) == sorted(
        (spec, n) for spec in (OPENAI, GEMINI) for n in (0, 1)
    )
    bodies = {r.provider: r.body for r in completions(llmock)}
    assert bodies["openai"]["temperature"] == 0.7
    assert bodies["gemini"]["generationConfig"]["temperature"] == 0.7


# -- interpolation ---------------------------------------------------------------


def test_scalar_field_in_a_stripped_body(kernel: Kernel, llmock: LLMock) -> None:
    kernel.run("topic = 'TCP slow start'")
    ok(orbit(kernel, f"-m {OPENAI} -o scalar", "\n\n   scalar: explain {topic}.  \n\n"))

    assert sent_prompts(llmock) == ["scalar: explain TCP slow start."]
    assert frame(kernel, "scalar", "prompt_id") == [{"prompt_id": "p0"}]


def test_list_fans_out_one_prompt_per_item(kernel: Kernel, llmock: LLMock) -> None:
    kernel.run("langs = ['fr', 'de', 'es']")
    ok(orbit(kernel, f"-m {OPENAI} -o fan", "fan-out: say hi in {langs}."))

    rows = frame(kernel, "fan", "prompt_id", "prompt")
    assert [(r["prompt_id"], r["prompt"]) for r in rows] == [
        (f"langs={lang}", f"fan-out: say hi in {lang}.") for lang in ("fr", "de", "es")
    ]
    assert sent_prompts(llmock) == sorted(r["prompt"] for r in rows)


def test_two_lists_give_their_cross_product(kernel: Kernel, llmock: LLMock) -> None:
    kernel.run("tones = ('calm', 'angry'); animals = ['cat', 'dog', 'owl']")
    ok(orbit(kernel, f"-m {OPENAI} -o cross", "cross: a {tones} {animals}."))

    rows = frame(kernel, "cross", "prompt_id", "prompt")
    expected = [
        (f"tones={t}, animals={a}", f"cross: a {t} {a}.")
        for t in ("calm", "angry")
        for a in ("cat", "dog", "owl")
    ]
    assert sorted((r["prompt_id"], r["prompt"]) for r in rows) == sorted(expected)
    assert sent_prompts(llmock) == sorted(p for _, p in expected)


def test_attribute_and_index_access(kernel: Kernel, llmock: LLMock) -> None:
    kernel.run(
        "import types; person = types.SimpleNamespace(name='Ada'); "
        "place = {'city': 'Paris'}; years = [1815, 1852]"
    )
    ok(orbit(kernel, f"-m {OPENAI} -o access", "{person.name} of {place[city]}, {years[1]}."))

    assert sent_prompts(llmock) == ["Ada of Paris, 1852."]


def test_double_braces_are_literal(kernel: Kernel, llmock: LLMock) -> None:
    kernel.run("n_items = 3")
    ok(orbit(kernel, f"-m {OPENAI} -o braces", 'braces: reply {{"items": {n_items}}}'))

    assert sent_prompts(llmock) == ['braces: reply {"items": 3}']


def test_missing_name_is_named_with_its_line_and_nothing_is_sent(
    kernel: Kernel, llmock: LLMock
) -> None:
    cell = orbit(kernel, f"-m {OPENAI} -o missing", "missing: first line\nsecond {nope} line")

    assert_one_line_usage_error(cell, "'nope'", "line 2", "second {nope} line")
    assert completions(llmock) == []
    assert not defined(kernel, "missing")


def test_value_with_braces_is_inserted_verbatim(kernel: Kernel, llmock: LLMock) -> None:
    kernel.run("snippet = 'def f(): return {x} or {{y}} or {}'")
    ok(orbit(kernel, f"-m {OPENAI} -o verbatim", "verbatim: explain {snippet}"))

    assert sent_prompts(llmock) == ["verbatim: explain def f(): return {x} or {{y}} or {}"]


# -- display ---------------------------------------------------------------------


def display_id(content: dict[str, Any]) -> str:
    return str(content.get("transient", {}).get("display_id", ""))


WIDGET = "application/vnd.jupyter.widget-view+json"


def widget_texts(cell: Cell) -> list[str]:
    """Every text the progress widgets of ``cell`` were given, in order."""
    states = [
        m["content"]["data"].get("state", {})
        for m in cell.messages
        if m["msg_type"] in ("comm_open", "comm_msg")
    ]
    return [s["value"] for s in states if isinstance(s.get("value"), str)]


def test_result_replaces_a_live_progress_bar(kernel: Kernel, llmock: LLMock) -> None:
    """A run over a second draws a progress widget, which the result view replaces."""
    llmock.delay(2.5, times=None, provider="openai")
    llmock.fail(400, times=None, provider="gemini", message="bad request for display")
    cell = ok(orbit(kernel, f"-m {OPENAI},{GEMINI} --no-cache -o shown", "display: hi."))

    (first,) = cell.outputs("display_data")
    assert WIDGET in first["data"]
    updates = cell.outputs("update_display_data")
    assert display_id(first) and all(display_id(u) == display_id(first) for u in updates)
    texts = [t for t in widget_texts(cell) if "calls" in t]
    assert any("1/2 calls" in t and "1 error" in t for t in texts), texts  # before the end

    final = updates[-1]["data"]
    html, text = final["text/html"], final["text/plain"]
    assert text.startswith("result in shown\n2 calls · 1 ok · 1 errors"), text
    for spec in (OPENAI, GEMINI):
        assert spec in text and spec in html
    assert "orbit-nb-grid" in html and "Usage and cost" in html
    assert "orbit-nb-badge-error'>bad_request</span>" in html
    assert "[bad_request]" in text
    assert not cell.outputs("error") and "Traceback" not in cell.text


def test_compare_in_a_cell_shows_progress_then_its_final_line(
    kernel: Kernel, llmock: LLMock
) -> None:
    llmock.delay(2.5, times=None)
    code = f"import orbit_nb\ncmp = orbit_nb.compare('progress: hi', {OPENAI!r}, cache=False)"
    cell = ok(kernel.execute(code))
    (first,) = cell.outputs("display_data")
    assert WIDGET in first["data"]
    assert any("0/1 calls" in t for t in widget_texts(cell)), widget_texts(cell)
    final = cell.outputs("update_display_data")[-1]["data"]
    assert final["text/plain"].startswith("done: 1/1 calls · 0 errors"), final
    assert frame(kernel, "cmp", "status") == [{"status": "ok"}]


def test_a_quick_run_shows_the_result_without_progress(kernel: Kernel, llmock: LLMock) -> None:
    cell = ok(orbit(kernel, f"-m {OPENAI},{GEMINI} --no-cache -o quick", "quick: hi."))
    (shown,) = cell.outputs("display_data")
    assert WIDGET not in shown["data"] and "orbit-nb-grid" in shown["data"]["text/html"]
    assert not cell.outputs("update_display_data")


# -- streamed runs: live cards ------------------------------------------------------

#: A streamed answer: LLMock sends it a word a chunk, with markup that must stay text.
LIVE_ANSWER = "<script>window.__orbit_xss=1</script> <img src=x onerror=alert(1)> " + " ".join(
    f"word{i}" for i in range(24)
)
LIVE_PACE_MS = 120  # between chunks: each answer streams for about three seconds
# A live card's status line, and its streamed text while it has one.
_CARD = re.compile(
    r"role='status'>(.*?)</div>(?:<div class='orbit-nb-answer orbit-nb-pcard-live'>(.*?)</div>)?",
    re.S,
)


def live_displays(cell: Cell) -> list[dict[str, Any]]:
    """What the live cards showed, in order: the display and its updates until the end."""
    shown = cell.outputs("display_data", "update_display_data")
    return [c["data"] for c in shown if "orbit-nb-live" in c["data"].get("text/html", "")]


def live_cards(html: str) -> list[tuple[str, str]]:
    """Each card of a live display, in the grid's order: its status and streamed text."""
    return _CARD.findall(html)


def test_a_streamed_cell_shows_its_answers_growing_then_the_result(
    kernel: Kernel, llmock: LLMock
) -> None:
    llmock.pace(LIVE_PACE_MS)
    llmock.reply(LIVE_ANSWER, times=None)
    cell = ok(orbit(kernel, f"-m {ALL} --stream --no-cache -o live", "live: count slowly."))

    (first,) = cell.outputs("display_data")
    updates = cell.outputs("update_display_data")
    assert all(display_id(u) == display_id(first) for u in updates)
    live = live_displays(cell)
    assert live and live[0] == first["data"], "the first display is the live cards"
    # Laid out like the result view: a column per model, a row for the prompt.
    html = live[-1]["text/html"]
    for spec in ALL.split(","):
        assert f"scope='col'>{spec}</th>" in html
    assert html.count("<div class='orbit-nb-card orbit-nb-pcard'>") == 3
    classes = {c for attr in re.findall(r"class='([^']*)'", html) for c in attr.split()}
    assert all(c.startswith("orbit-nb") for c in classes - {"mathjax_ignore", "tex2jax_ignore"})
    for rule in re.findall(
        r"([^{}]+)\{[^{}]*\}", "".join(re.findall(r"<style>(.*?)</style>", html))
    ):
        assert all(".orbit-nb" in selector for selector in rule.split(",")), rule  # scoped
    # Each card's text grew while it streamed: drawn more than once, never shrinking.
    drawn = [live_cards(d["text/html"]) for d in live]
    for column in range(3):
        lengths = [len(c[column][1]) for c in drawn if c[column][0] == "streaming"]
        assert len(set(lengths)) >= 2 and lengths == sorted(lengths), (column, lengths)
    statuses = {status for cards in drawn for status, _ in cards}
    assert statuses <= {"queued", "running", "streaming"} | {
        s for s in statuses if s.startswith("done in ")
    }, statuses
    # Drawn about ten times a second at most (a busy machine draws less often).
    assert len(live) <= 10 * cell.seconds + 3, (len(live), cell.seconds)
    # Model output is text: escaped in every update.
    for data in live:
        assert "<script" not in data["text/html"] and "<img" not in data["text/html"]
    texts = [text for cards in drawn for _, text in cards]
    assert any("&lt;script&gt;window.__orbit_xss=1" in t for t in texts), texts
    assert any("streaming: " in d["text/plain"] for d in live), live[-1]["text/plain"]

    final = updates[-1]["data"]  # the result view replaces the live cards
    assert "orbit-nb-live" not in final["text/html"] and "orbit-nb-grid" in final["text/html"]
    assert final["text/plain"].startswith("result in live\n3 calls · 3 ok · 0 errors")
    rows = frame(kernel, "live", "status", "attempts", "content")
    assert [(r["status"], r["attempts"], r["content"]) for r in rows] == [
        ("ok", 1, LIVE_ANSWER)
    ] * 3


def test_a_stream_broken_after_the_live_cards_showed_text_is_not_retried(
    kernel: Kernel, llmock: LLMock
) -> None:
    llmock.pace(LIVE_PACE_MS)
    llmock.reply(LIVE_ANSWER, times=None)
    llmock.truncate(after_chunks=8, provider="openai")
    ok(orbit(kernel, f"-m {OPENAI} --stream --no-cache -o cut", "live: cut short."))
    (row,) = frame(kernel, "cut", "status", "error_type", "attempts", "content", "error_message")
    assert (row["status"], row["error_type"], row["attempts"]) == ("error", "truncated", 1), row
    assert row["content"] and LIVE_ANSWER.startswith(row["content"]), row
    assert "not retried: that text had been shown" in row["error_message"], row
    assert len(completions(llmock)) == 1


def test_compare_streamed_in_a_cell_shows_live_cards_then_its_final_line(
    kernel: Kernel, llmock: LLMock
) -> None:
    llmock.pace(LIVE_PACE_MS)
    llmock.reply(LIVE_ANSWER, times=None)
    code = f"cmp_live = orbit_nb.compare('live compare', {ALL!r}, stream=True, cache=False)"
    cell = ok(kernel.execute(code))
    (first,) = cell.outputs("display_data")
    assert "orbit-nb-live" in first["data"]["text/html"]
    assert any(text for d in live_displays(cell) for _, text in live_cards(d["text/html"]))
    final = cell.outputs("update_display_data")[-1]["data"]
    assert final["text/plain"].startswith("done: 3/3 calls"), final
    assert "text/html" not in final
    assert {r["status"] for r in frame(kernel, "cmp_live", "status")} == {"ok"}


def test_a_streamed_background_cell_shows_live_cards_then_the_result(
    kernel: Kernel, llmock: LLMock
) -> None:
    llmock.pace(LIVE_PACE_MS)
    llmock.reply(LIVE_ANSWER, times=None)
    cell = ok(orbit(kernel, f"--background --stream -m {OPENAI} --no-cache -o bgs", "bg live."))
    assert "bgs" in cell.stdout
    (shown,) = cell.outputs("display_data")
    assert "orbit-nb-live" in shown["data"]["text/html"]
    assert shown["data"]["text/plain"].startswith("background → bgs · ")
    msg = kernel.wait_for(
        lambda m: (
            m["msg_type"] == "update_display_data"
            and display_id(m["content"]) == display_id(shown)
            and "orbit-nb-view" in m["content"]["data"].get("text/html", "")
        ),
        60.0,
    )
    assert msg["content"]["data"]["text/plain"].startswith("result in bgs\n1 calls · 1 ok")
    assert frame(kernel, "bgs", "status", "content") == [{"status": "ok", "content": LIVE_ANSWER}]


@pytest.mark.parametrize("command", ["models", "prices", "jobs", "history 1"])
def test_line_magic_tables_have_html_and_plain_text(kernel: Kernel, command: str) -> None:
    (result,) = ok(kernel.execute(f"%orbit {command}")).outputs("execute_result")
    assert set(result["data"]) >= {"text/plain", "text/html"}


# -- user errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "needle"),
    [
        ("%%orbit --bogus\nhi", "unrecognized arguments: --bogus (usage: %%orbit [-m MODELS]"),
        ("%%orbit -n many\nhi", "-n/--repeat: invalid int value: 'many' (usage: %%orbit"),
        ("%%orbit -s 'unbalanced\nhi", "cannot split the options"),
        ("%%orbit -m nope:x\nhi", "unknown provider 'nope' in 'nope:x'"),
        ("%%orbit -m openai:gpt-4o-mini -n 0\nhi", "repeat"),
        ("%%orbit -m openai:gpt-4o-mini\n{unclosed", "{{ and }}"),
        ("%orbit nope", "unknown %orbit command 'nope'"),
        ("%orbit cache bogus", "'stats' or 'clear'"),
        ("%orbit history many", "one number of calls"),
        ("%orbit cancel no_such_run", "no background run named 'no_such_run'"),
    ],
)
def test_user_errors_are_one_line_usage_errors(
    kernel: Kernel, llmock: LLMock, cell: str, needle: str
) -> None:
    assert_one_line_usage_error(kernel.execute(cell), needle)
    assert completions(llmock) == []


# -- background runs -------------------------------------------------------------


def start_background(kernel: Kernel, options: str, body: str) -> tuple[Cell, str, float]:
    """Start a --background run; return its cell, its display id and its start time."""
    started = time.monotonic()
    cell = ok(orbit(kernel, f"--background {options}", body))
    (shown,) = cell.outputs("display_data")
    assert WIDGET in shown["data"]
    assert any("background →" in t for t in widget_texts(cell)), widget_texts(cell)
    return cell, display_id(shown), started


def wait_for_result(kernel: Kernel, shown_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """The background display's last update: the comparison that replaces the progress bar."""
    msg = kernel.wait_for(
        lambda m: (
            m["msg_type"] == "update_display_data"
            and display_id(m["content"]) == shown_id
            and "<table" in m["content"]["data"].get("text/html", "")
        ),
        timeout,
    )
    return dict(msg["content"]["data"])


def jobs_table(kernel: Kernel) -> dict[str, dict[str, Any]]:
    kernel.run("_jobs = %orbit jobs")
    return {r["var"]: r for r in frame(kernel, "_jobs", "var", "answered", "calls", "state")}


def test_background_returns_at_once_and_fills_its_variable_when_done(
    kernel: Kernel, llmock: LLMock
) -> None:
    kernel.run("bg_topics = ['tides', 'comets', 'glaciers']; bgA = 'untouched'")
    llmock.delay(HELD, times=None)
    cell, shown_id, started = start_background(
        kernel, f"-m {OPENAI},{GEMINI} --no-cache -o bgA", "background: explain {bg_topics}."
    )
    print(f"\n--background cell returned in {cell.seconds * 1000:.0f} ms")
    assert "bgA" in cell.stdout

    quick = kernel.execute("1 + 1")  # other cells run meanwhile ...
    print(f"a cell during the run took {quick.seconds * 1000:.0f} ms")
    assert kernel.evaluate("bgA") == "untouched"
    # ... while the run is still waiting for its answers.
    job = jobs_table(kernel)["bgA"]
    assert (job["state"], job["calls"]) == ("running", 6) and job["answered"] < 6
    assert kernel.evaluate("orbit_nb.jobs()[-1].done") is False

    final = wait_for_result(kernel, shown_id)
    landed = time.monotonic() - started
    print(f"variable landed {landed:.2f} s after the cell started (LLMock delay {HELD} s)")
    assert landed >= HELD - 0.1
    assert final["text/plain"].startswith("result in bgA\n6 calls · 6 ok · 0 errors")
    rows = frame(kernel, "bgA", "status", "prompt")
    assert len(rows) == 6 and {r["status"] for r in rows} == {"ok"}
    assert jobs_table(kernel)["bgA"]["state"] == "done"


def test_second_background_run_gets_its_own_variable(kernel: Kernel, llmock: LLMock) -> None:
    llmock.delay(0.5, times=None)
    first, first_id, _ = start_background(kernel, f"-m {OPENAI} --no-cache", "second: run one.")
    second, second_id, _ = start_background(kernel, f"-m {OPENAI} --no-cache", "second: run two.")
    var_one = first.stdout.split("lands in ")[1].split(".")[0]
    var_two = second.stdout.split("lands in ")[1].split(".")[0]
    assert var_one != var_two
    assert {var_one, var_two} <= set(jobs_table(kernel))

    wait_for_result(kernel, first_id)
    wait_for_result(kernel, second_id)
    assert frame(kernel, var_one, "prompt") == [{"prompt": "second: run one."}]
    assert frame(kernel, var_two, "prompt") == [{"prompt": "second: run two."}]


def test_cancel_stops_a_background_run_and_keeps_finished_rows(
    kernel: Kernel, llmock: LLMock, llmock_server: LLMockServer
) -> None:
    prompts = prompts_for("cancel")
    kernel.run(f"cancel_prompts = {prompts!r}")
    llmock.delay(30, times=None, provider=SLOW)
    _, shown_id, _ = start_background(kernel, f"-m {MODELS} --no-cache -o bgc", "{cancel_prompts}")
    wait_for_answers(llmock_server, answered=3, held=3)
    assert jobs_table(kernel)["bgc"]["state"] == "running"

    cancelled = time.monotonic()
    assert ok(kernel.execute("%orbit cancel bgc")).stdout.strip() == "cancelled: bgc"
    final = wait_for_result(kernel, shown_id, timeout=REPLY_BUDGET + 2)
    print(f"\n%orbit cancel -> variable set in {(time.monotonic() - cancelled) * 1000:.0f} ms")
    assert time.monotonic() - cancelled < REPLY_BUDGET
    assert kernel.evaluate("orbit_nb.jobs()[-1].ended") - cancelled < INTERRUPT_BUDGET
    assert final["text/plain"].startswith("cancelled: ")
    assert "3 ok" in final["text/plain"] and "3 cancelled" in final["text/plain"]
    assert_rows(json.loads(kernel.run("_report(bgc)")), prompts, "cancelled")
    assert jobs_table(kernel)["bgc"]["state"] == "cancelled"


def test_interrupt_of_a_foreground_run_keeps_finished_rows(
    kernel: Kernel, llmock: LLMock, llmock_server: LLMockServer
) -> None:
    """The stop button during a %%orbit cell: finished rows in VAR, the rest cancelled."""
    prompts = prompts_for("foreground")
    kernel.run(f"fg_prompts = {prompts!r}")
    llmock.delay(30, times=None, provider=SLOW)
    code = f"%%orbit -m {MODELS} --no-cache --timeout 60 -o fg\n{{fg_prompts}}"

    cell, latency = kernel.interrupt(code, llmock_server, answered=3, held=3)
    print(f"\n%%orbit: interrupt -> execute_reply in {latency * 1000:.0f} ms")
    assert kernel.cancel_latency() < INTERRUPT_BUDGET
    assert latency < REPLY_BUDGET
    assert cell.status == "ok", cell.text
    # The result replaces the progress bar, or comes alone if none was drawn yet.
    shown = cell.outputs("update_display_data") or cell.outputs("display_data")
    final = shown[-1]["data"]["text/plain"]
    assert final.startswith("interrupted: ") and "result in fg\n6 calls · 3 ok" in final
    assert_rows(json.loads(kernel.run("_report(fg)")), prompts, "cancelled")


# -- %orbit commands -------------------------------------------------------------


def test_orbit_models_lists_providers_and_whether_keys_are_set(
    kernel: Kernel, llmock_server: LLMockServer
) -> None:
    cell = ok(kernel.execute("%orbit models"))
    kernel.run("_models = %orbit models")
    table = kernel.evaluate("_models.reset_index().to_dict('records')")

    by_name = {r["provider"]: r for r in table}
    assert {"anthropic", "gemini", "openai"} <= set(by_name)
    for name in ("anthropic", "gemini", "openai"):
        assert by_name[name]["key_set"] is True
        assert by_name[name]["base_url"].startswith(llmock_server.url)
    assert "gpt-4o-mini" in by_name["openai"]["priced_models"]
    assert not any(key in cell.text for key in KEYS.values())


def test_orbit_prices_is_the_price_table(kernel: Kernel) -> None:
    kernel.run("_prices = %orbit prices")
    assert kernel.evaluate("_prices.equals(orbit_nb.prices())") is True
    assert kernel.evaluate("'gpt-4o-mini' in _prices.index") is True


def test_orbit_cache_stats_and_clear(kernel: Kernel, llmock: LLMock) -> None:
    body = "cache: name a mountain."
    ok(orbit(kernel, f"-m {OPENAI} -o c1", body))
    ok(orbit(kernel, f"-m {OPENAI} -o c2", body))
    kernel.run("_stats = %orbit cache stats")
    stats = kernel.evaluate("_stats['value'].to_dict()")
    assert stats["backend"] == "disk" and stats["entries"] >= 1 and stats["hits"] >= 1
    (shown,) = ok(kernel.execute("%orbit cache stats")).outputs("execute_result")
    assert (
        "orbit-nb-table" in shown["data"]["text/html"] and "entries" in shown["data"]["text/html"]
    )

    cleared = ok(kernel.execute("%orbit cache clear")).stdout
    assert cleared.startswith("removed ") and cleared.strip().endswith(" cached responses")
    assert int(cleared.split()[1]) >= 1
    kernel.run("_stats = %orbit cache stats")
    assert kernel.evaluate("_stats.loc['entries', 'value']") == 0

    ok(orbit(kernel, f"-m {OPENAI} -o c3", body))
    assert len(completions(llmock)) == 2
    assert frame(kernel, "c3", "cached") == [{"cached": False}]


def test_orbit_history_shows_the_last_n_calls(kernel: Kernel) -> None:
    ok(orbit(kernel, f"-m {OPENAI},{GEMINI} -n 3 --no-cache -o hist", "history: count to 3."))
    kernel.run("_history = %orbit history 5")

    rows = frame(kernel, "_history", "prompt", "run_id")
    run_id = frame(kernel, "hist", "run_id")[0]["run_id"]
    assert len(rows) == 5
    assert all(r == {"prompt": "history: count to 3.", "run_id": run_id} for r in rows)


def test_orbit_config_and_percent_config_set_the_defaults(kernel: Kernel, llmock: LLMock) -> None:
    kernel.run("_config = %orbit config")
    before = kernel.evaluate("_config['value'].to_dict()")
    assert set(before) >= {"default_models", "system", "max_tokens", "concurrency", "timeout"}
    try:
        kernel.run(f"%config Orbit.default_models = [{GEMINI!r}]")
        kernel.run("%config Orbit.max_tokens = 33")
        kernel.run("_config = %orbit config")
        assert kernel.evaluate("_config['value'].to_dict()")["default_models"] == [GEMINI]

        ok(orbit(kernel, "--no-cache -o configured", "config: hi."))
        assert frame(kernel, "configured", "model_spec") == [{"model_spec": GEMINI}]
        (request,) = completions(llmock)
        assert request.body["generationConfig"]["maxOutputTokens"] == 33
    finally:
        kernel.run(f"%config Orbit.default_models = {before['default_models']!r}")
        kernel.run(f"%config Orbit.max_tokens = {before['max_tokens']!r}")


# -- IPython config --------------------------------------------------------------


@pytest.fixture
def configured_kernel(llmock_server: LLMockServer, tmp_path: Path) -> Iterator[Kernel]:
    """A fresh kernel whose IPython profile loads orbit_nb (no %load_ext) and sets a default."""
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["orbit_nb"]\n'
        f"c.Orbit.default_models = [{OPENAI!r}, {GEMINI!r}]\n"
    )
    env = kernel_env(llmock_server, tmp_path / "cache", IPYTHONDIR=str(tmp_path / "ipython"))
    with start_kernel(env) as kernel:
        yield kernel


def test_extension_and_defaults_from_ipython_config(
    configured_kernel: Kernel, llmock: LLMock
) -> None:
    loaded = configured_kernel.evaluate("sorted(get_ipython().extension_manager.loaded)")
    assert "orbit_nb" in loaded
    ok(orbit(configured_kernel, "-o from_config", "config file: hi."))

    rows = frame(configured_kernel, "from_config", "model_spec", "status")
    assert sorted((r["model_spec"], r["status"]) for r in rows) == [
        (GEMINI, "ok"),
        (OPENAI, "ok"),
    ]
    assert sent_prompts(llmock) == ["config file: hi."] * 2


def test_first_background_cell_returns_at_once(configured_kernel: Kernel, llmock: LLMock) -> None:
    """--background returns before its calls are answered, also as a fresh kernel's
    first run (which starts the engine and its adapters)."""
    llmock.delay(HELD, times=None)
    cell, shown_id, _ = start_background(
        configured_kernel, f"-m {ALL} --no-cache -o first_bg", "first background: hi."
    )
    print(f"\nfirst --background cell of a fresh kernel returned in {cell.seconds:.2f} s")
    running = configured_kernel.evaluate("__import__('orbit_nb').jobs()[-1].state")
    assert running == "running", running
    wait_for_result(configured_kernel, shown_id)


def test_loading_the_extension_imports_the_sdks_in_the_background(
    configured_kernel: Kernel,
) -> None:
    """The first cell must not wait 2 s for the SDKs: the extension imports them on
    a worker thread as it loads, while the kernel stays free."""
    deadline = time.monotonic() + 60
    wanted = "all(m in sys.modules for m in ('anthropic', 'openai', 'aiohttp', 'pandas'))"
    configured_kernel.run("import sys")
    while not configured_kernel.evaluate(wanted):
        assert time.monotonic() < deadline, "the SDKs were never imported"
        time.sleep(0.2)


def test_service_tier_is_asked_for_and_priced(kernel: Kernel, llmock: LLMock) -> None:
    # gpt-5.4-mini has a flex price; LLMock does not say which tier served, so the
    # row is priced at the tier asked for, and price_source says so.
    spec = "openai:gpt-5.4-mini"
    ok(orbit(kernel, f"-m {spec} --service-tier flex --no-cache -o tiered", "tier: flex."))
    (sent,) = [r for r in completions(llmock) if r.provider == "openai"]
    assert sent.body["service_tier"] == "flex"
    (row,) = frame(kernel, "tiered", "status", "price_source")
    assert row["status"] == "ok" and "flex price" in row["price_source"]
    error = kernel.execute("%%orbit --service-tier cheap\nhi")
    assert_one_line_usage_error(error, "service_tier='cheap'")
