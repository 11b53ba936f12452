"""Model spec parsing, aliases, prefix inference and registered endpoints."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orbit_nb import register_endpoint
from orbit_nb.errors import ConfigError, SpecError
from orbit_nb.specs import _ENDPOINTS, parse_model, parse_models, resolve
from orbit_nb.types import ModelSpec


@pytest.fixture
def ollama() -> Iterator[None]:
    register_endpoint("ollama", base_url="http://localhost:11434/v1")
    yield
    _ENDPOINTS.pop("ollama", None)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("openai:gpt-4o", ModelSpec("openai", "gpt-4o")),
        (" anthropic:claude-haiku-4-5 ", ModelSpec("anthropic", "claude-haiku-4-5")),
        ("OpenAI:gpt-4o", ModelSpec("openai", "gpt-4o")),
        ("gemini:models/gemini-2.5-flash", ModelSpec("gemini", "gemini-2.5-flash")),
        ("claude-sonnet-4-5", ModelSpec("anthropic", "claude-sonnet-4-5")),
        ("gpt-4o-mini", ModelSpec("openai", "gpt-4o-mini")),
        ("o3", ModelSpec("openai", "o3")),
        ("gemini-2.5-pro", ModelSpec("gemini", "gemini-2.5-pro")),
        ("haiku", ModelSpec("anthropic", "claude-haiku-4-5")),
        ("flash", ModelSpec("gemini", "gemini-2.5-flash")),
    ],
)
def test_parse_model(spec: str, expected: ModelSpec) -> None:
    assert parse_model(spec) == expected


def test_model_with_colon_tag(ollama: None) -> None:
    assert parse_model("ollama:llama3.2:3b") == ModelSpec("ollama", "llama3.2:3b")


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("nope:x", "unknown provider 'nope' in 'nope:x'; known: anthropic, gemini, openai"),
        ("openai:", "model name '' in 'openai:'"),
        ("openai: gpt 4o", "model name 'gpt 4o'"),
        ("", "empty model spec"),
        ("llama3", "cannot tell the provider of 'llama3'"),
        (42, "model spec 42 is a int"),
    ],
)
def test_bad_spec_names_the_value(spec: object, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_model(spec)  # type: ignore[arg-type]
    assert fragment in str(info.value)


def test_parse_models_accepts_list_and_comma_string() -> None:
    expected = [ModelSpec("openai", "gpt-4o"), ModelSpec("gemini", "gemini-2.5-flash")]
    assert parse_models("openai:gpt-4o, gemini:gemini-2.5-flash") == expected
    assert parse_models(["openai:gpt-4o", "gemini:gemini-2.5-flash"]) == expected


@pytest.mark.parametrize(
    ("models", "fragment"),
    [
        ([], "no models given"),
        ("", "no models given"),
        ("openai:gpt-4o,openai:gpt-4o", "listed twice"),
        ({"openai": "gpt-4o"}, "must be a list"),
        (None, "must be a list"),
        ("openai:gpt-4o,,gemini:x", "empty model spec"),
    ],
)
def test_bad_models(models: object, fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        parse_models(models)  # type: ignore[arg-type]


def test_registered_endpoint_resolves_without_key(ollama: None) -> None:
    targets = resolve([parse_model("ollama:llama3.2")], environ={})
    target = targets["ollama"]
    assert (target.kind, target.base_url, target.api_key) == (
        "openai",
        "http://localhost:11434/v1",
        None,
    )


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"name": "Bad Name", "base_url": "http://x"}, "endpoint name 'Bad Name'"),
        ({"name": "openai", "base_url": "http://x"}, "built-in provider"),
        ({"name": "local", "base_url": "localhost:8000"}, "base_url 'localhost:8000'"),
        ({"name": "local", "base_url": "http://x", "concurrency": 0}, "concurrency 0"),
    ],
)
def test_register_endpoint_rejects(kwargs: dict[str, object], fragment: str) -> None:
    with pytest.raises(SpecError, match=fragment):
        register_endpoint(**kwargs)  # type: ignore[arg-type]


def test_missing_key_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="GEMINI_API_KEY or GOOGLE_API_KEY is not set"):
        resolve([parse_model("gemini:gemini-2.5-flash")], environ={})
    targets = resolve([parse_model("gemini:gemini-2.5-flash")], environ={"GOOGLE_API_KEY": "k"})
    assert targets["gemini"].api_key == "k"


def test_target_repr_hides_key() -> None:
    target = resolve([parse_model("openai:gpt-4o")], environ={"OPENAI_API_KEY": "sk-secret"})
    assert "sk-secret" not in repr(target)


_token = st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True)


@given(provider=st.sampled_from(["anthropic", "openai", "gemini"]), model=_token)
def test_spec_round_trip(provider: str, model: str) -> None:
    spec = parse_model(f"{provider}:{model}")
    assert parse_model(spec.spec) == spec
    assert spec == ModelSpec(provider, model)
