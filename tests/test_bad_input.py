"""Bad input is refused before any request is sent, with a message naming the value."""

from __future__ import annotations

import math

import pytest
from llmock.pytest_plugin import LLMock

import orbit_nb
from orbit_nb.errors import ConfigError, OrbitError, ParameterError, SpecError

MODELS = ["openai:gpt-4o-mini", "anthropic:claude-haiku-4-5", "gemini:gemini-2.5-flash"]

CASES = [
    ({"prompts": ""}, ParameterError, "prompts is empty"),
    ({"prompts": "   "}, ParameterError, "prompts is empty"),
    ({"prompts": []}, ParameterError, "prompts is empty; give at least one prompt"),
    ({"prompts": ["ok", 3]}, ParameterError, "prompts[1] is a int (3); expected a str"),
    ({"prompts": ["ok", ""]}, ParameterError, "prompts[1] is empty"),
    ({"prompts": {"a": None}}, ParameterError, "prompts['a'] is a NoneType"),
    ({"prompts": 7}, ParameterError, "prompts 7 must be a str"),
    (
        {"prompts": {1: "one", "1": "also one"}},
        ParameterError,
        "prompts keys 1 and '1' both become prompt_id '1'",
    ),
    ({"models": "nope:x"}, SpecError, "unknown provider 'nope' in 'nope:x'"),
    ({"models": "openai"}, SpecError, "cannot tell the provider of 'openai'"),
    ({"models": []}, SpecError, "no models given"),
    ({"repeat": 0}, ParameterError, "repeat=0 must be >= 1"),
    ({"repeat": -2}, ParameterError, "repeat=-2 must be >= 1"),
    ({"repeat": 1.5}, ParameterError, "repeat=1.5 must be a whole number"),
    ({"repeat": True}, ParameterError, "repeat=True must be a whole number"),
    ({"concurrency": 0}, ParameterError, "concurrency=0 must be >= 1"),
    ({"concurrency": "8"}, ParameterError, "concurrency='8' must be a whole number"),
    ({"temperature": "hot"}, ParameterError, "temperature='hot' is not a number"),
    ({"temperature": math.nan}, ParameterError, "temperature=nan must be a finite number"),
    ({"temperature": -0.1}, ParameterError, "temperature=-0.1 is outside 0.."),
    ({"temperature": 1.5}, ParameterError, "outside 0..1, the range 'anthropic:claude-haiku-4-5'"),
    ({"temperature": 2.5, "models": "openai:gpt-4o"}, ParameterError, "outside 0..2"),
    ({"max_tokens": "100"}, ParameterError, "max_tokens='100' must be a whole number"),
    ({"max_tokens": 0}, ParameterError, "max_tokens=0 must be >= 1"),
    ({"max_tokens": 10.0}, ParameterError, "max_tokens=10.0 must be a whole number"),
    ({"timeout": 0}, ParameterError, "timeout=0 must be > 0"),
    ({"timeout": math.inf}, ParameterError, "timeout=inf must be a finite number"),
    ({"system": 5}, ParameterError, "system=5 must be a str"),
    ({"cache": "yes"}, ParameterError, "cache='yes' must be True or False"),
    ({"budget": 0}, ParameterError, "budget=0 must be > 0"),
    ({"budget": "5"}, ParameterError, "budget='5' is not a number"),
    ({"budget": math.nan}, ParameterError, "budget=nan must be a finite number"),
]


@pytest.mark.parametrize(("override", "error", "message"), CASES)
def test_bad_input_is_refused_before_any_call(
    llmock: LLMock, override: dict[str, object], error: type[Exception], message: str
) -> None:
    kwargs: dict[str, object] = {"prompts": "hello", "models": MODELS, **override}
    with pytest.raises(error) as info:
        orbit_nb.compare(**kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert isinstance(info.value, OrbitError)
    assert llmock.requests == []


def test_missing_key_is_refused_before_any_call(
    llmock: LLMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ConfigError, match=r"ANTHROPIC_API_KEY is not set.*'anthropic:claude"):
        orbit_nb.compare("hello", MODELS)
    assert llmock.requests == []


@pytest.mark.anyio
async def test_acompare_refuses_bad_input_too(llmock: LLMock) -> None:
    with pytest.raises(ParameterError, match="repeat=0"):
        await orbit_nb.acompare("hello", MODELS, repeat=0)
    assert llmock.requests == []
