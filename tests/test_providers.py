"""Each provider's happy path against LLMock: answers, exact token counts, wire format."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from llmock.pytest_plugin import LLMock
from llmock.simulation import estimate_tokens

import orbit_nb
from orbit_nb.frame import COLUMNS
from orbit_nb.specs import _ENDPOINTS

MODELS = ["anthropic:claude-haiku-4-5", "openai:gpt-4o-mini", "gemini:gemini-2.5-flash"]


def bodies(llmock: LLMock, provider: str) -> list[dict[str, object]]:
    return [r.body for r in llmock.requests if r.provider == provider]


@pytest.mark.parametrize("spec", MODELS)
def test_happy_path_exact_tokens(llmock: LLMock, spec: str) -> None:
    prompt, system = "Name three prime numbers, please.", "Answer in one line."
    df = orbit_nb.compare(prompt, [spec], system=system, max_tokens=50)
    row = df.iloc[0]
    assert row["status"] == "ok", row["error_message"]
    assert row["content"]
    # LLMock counts len(text) // 4 per message: the prompt and the system prompt.
    assert row["input_tokens"] == estimate_tokens(prompt) + estimate_tokens(system)
    assert row["output_tokens"] == estimate_tokens(row["content"])
    assert row["total_tokens"] == row["input_tokens"] + row["output_tokens"]
    assert row["attempts"] == 1
    assert row["latency_s"] > 0
    assert row["cost_usd"] > 0
    assert row["finish_reason"] in {"end_turn", "stop", "STOP"}
    assert not row["cached"]


def test_wire_format_per_provider(llmock: LLMock) -> None:
    orbit_nb.compare("hi there", MODELS, system="be brief", temperature=0.5, max_tokens=42)
    (claude,) = bodies(llmock, "anthropic")
    assert claude["system"] == "be brief"
    assert claude["max_tokens"] == 42
    assert claude["temperature"] == 0.5
    (gpt,) = bodies(llmock, "openai")
    assert gpt["messages"][0] == {"role": "system", "content": "be brief"}
    assert gpt["max_completion_tokens"] == 42
    (gem,) = bodies(llmock, "gemini")
    assert gem["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert gem["generationConfig"] == {"temperature": 0.5, "maxOutputTokens": 42}


def test_unset_parameters_are_not_sent(llmock: LLMock) -> None:
    orbit_nb.compare("hi there", MODELS)
    (claude,) = bodies(llmock, "anthropic")
    assert claude["max_tokens"] == 1024  # the Messages API requires one
    assert "temperature" not in claude and "system" not in claude
    (gpt,) = bodies(llmock, "openai")
    assert set(gpt) == {"model", "messages"}
    (gem,) = bodies(llmock, "gemini")
    assert set(gem) == {"contents"}


def test_one_row_per_prompt_model_repeat(llmock: LLMock) -> None:
    prompts = {"a": "first prompt", "b": "second prompt"}
    df = orbit_nb.compare(prompts, MODELS, repeat=2)
    assert len(df) == 12
    assert len(llmock.requests) == 12
    assert df["run_id"].nunique() == 1
    keys = list(zip(df["prompt_id"], df["model_spec"], df["repeat"], strict=True))
    assert keys[:3] == [("a", MODELS[0], 0), ("a", MODELS[0], 1), ("a", MODELS[1], 0)]
    assert len(set(keys)) == 12
    assert (df["status"] == "ok").all()


def test_frame_schema(llmock: LLMock) -> None:
    df = orbit_nb.compare(["one prompt"], MODELS[:1])
    assert list(df.columns) == list(COLUMNS)
    assert {c: str(t) for c, t in df.dtypes.items()} == COLUMNS
    assert isinstance(df["started_at"].iloc[0], pd.Timestamp)
    assert str(df["started_at"].dt.tz) == "UTC"


def test_each_run_gets_its_own_run_id(llmock: LLMock) -> None:
    first = orbit_nb.compare("hello", MODELS[:1])
    second = orbit_nb.compare("hello", MODELS[:1])
    assert first["run_id"].iloc[0] != second["run_id"].iloc[0]


def test_environment_is_read_at_each_run(llmock: LLMock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    broken = orbit_nb.compare("hello", ["openai:gpt-4o-mini"], timeout=3)
    assert broken["status"].iloc[0] == "error"
    assert broken["error_type"].iloc[0] in {"connection", "timeout"}
    monkeypatch.setenv("OPENAI_BASE_URL", llmock.base_url("openai"))
    fixed = orbit_nb.compare("hello", ["openai:gpt-4o-mini"])
    assert fixed["status"].iloc[0] == "ok"


@pytest.fixture
def local_endpoint(llmock: LLMock) -> Iterator[str]:
    orbit_nb.register_endpoint("local", base_url=llmock.base_url("openai"))
    yield "local"
    _ENDPOINTS.pop("local", None)


def test_registered_openai_compatible_endpoint(llmock: LLMock, local_endpoint: str) -> None:
    with pytest.warns(UserWarning, match="unpriced: endpoint 'local' has no price for 'llama3.2'"):
        df = orbit_nb.compare("hello", [f"{local_endpoint}:llama3.2"], max_tokens=20)
    row = df.iloc[0]
    assert row["status"] == "ok", row["error_message"]
    assert (row["provider"], row["model"]) == ("local", "llama3.2")
    (body,) = bodies(llmock, "openai")
    assert body["max_tokens"] == 20  # compatible servers know max_tokens
    assert pd.isna(row["cost_usd"])  # a local model has no price


def test_unknown_price_warns_once(llmock: LLMock) -> None:
    with pytest.warns(
        UserWarning, match="genai-prices [0-9.]+ has no price for 'gpt-imaginary'"
    ) as record:
        df = orbit_nb.compare(["a", "b", "c"], ["openai:gpt-imaginary"])
    assert len([w for w in record if "no price for" in str(w.message)]) == 1
    assert df["cost_usd"].isna().all()
    assert (df["status"] == "ok").all()


def test_compare_inside_a_running_event_loop(llmock: LLMock) -> None:
    import asyncio

    async def caller() -> pd.DataFrame:
        return orbit_nb.compare("hello", MODELS)

    df = asyncio.run(caller())
    assert (df["status"] == "ok").all()


@pytest.mark.anyio
async def test_acompare(llmock: LLMock) -> None:
    df = await orbit_nb.acompare(["x", "y"], MODELS)
    assert len(df) == 6
    assert (df["status"] == "ok").all()
