"""Properties of the pure parts: spec parsing, prompt interpolation and cache keys.

Hypothesis draws the inputs; each property holds for every one of them. The
example counts are kept small so the file runs in a few seconds.
"""

from __future__ import annotations

import dataclasses
import re
import string

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from orbit_nb.cache import request_key
from orbit_nb.errors import ParameterError, SpecError
from orbit_nb.notebook.template import expand
from orbit_nb.specs import _PREFIXES, Target, endpoints, parse_model, parse_models
from orbit_nb.types import ModelSpec, Request

FAST = settings(max_examples=60, deadline=None, database=None)
BUILTIN = ["anthropic", "gemini", "openai"]
# What a model id may look like (specs.py accepts these characters).
MODEL_CHARS = string.ascii_letters + string.digits + "._:/@+-"
model_ids = st.text(MODEL_CHARS, min_size=0, max_size=30).map(lambda rest: "m" + rest)
# str.strip() whitespace, as a user might leave around a spec or its colon.
blanks = st.text(" \t\n\r\x0b\x0c", max_size=3)
identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,15}", fullmatch=True)


# -- spec parsing --------------------------------------------------------------


@FAST
@given(provider=st.sampled_from(BUILTIN), model=model_ids)
def test_spec_round_trips_through_its_text(provider: str, model: str) -> None:
    assume(not (provider == "gemini" and model.startswith("models/")))
    spec = parse_model(f"{provider}:{model}")
    assert spec == ModelSpec(provider, model)
    assert parse_model(spec.spec) == spec
    assert str(spec) == spec.spec == f"{provider}:{model}"


@FAST
@given(
    provider=st.sampled_from(BUILTIN),
    upper=st.lists(st.booleans(), min_size=9, max_size=9),
    model=model_ids,
    pads=st.tuples(blanks, blanks, blanks, blanks),
)
def test_spec_whitespace_and_provider_case_are_normalised(
    provider: str, upper: list[bool], model: str, pads: tuple[str, str, str, str]
) -> None:
    assume(not (provider == "gemini" and model.startswith("models/")))
    cased = "".join(c.upper() if u else c for c, u in zip(provider, upper, strict=False))
    text = f"{pads[0]}{cased}{pads[1]}:{pads[2]}{model}{pads[3]}"
    # The provider is case-insensitive; the model id keeps its case.
    assert parse_model(text) == ModelSpec(provider, model)


@FAST
@given(prefix=st.sampled_from(_PREFIXES), rest=st.text(MODEL_CHARS.replace(":", ""), max_size=20))
def test_bare_model_names_infer_their_provider(prefix: tuple[str, str], rest: str) -> None:
    # Without a colon: "claude-x:y" reads as provider "claude-x".
    start, provider = prefix
    assert parse_model(start + rest) == ModelSpec(provider, start + rest)


anything = st.one_of(
    st.text(max_size=40),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789:-./ ,", max_size=30),
    st.sampled_from(BUILTIN).map(lambda p: p + ":"),
    st.binary(max_size=10),
    st.integers(),
    st.floats(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)


@FAST
@given(spec=anything)
def test_any_spec_parses_or_raises_spec_error(spec: object) -> None:
    try:
        parsed = parse_model(spec)  # type: ignore[arg-type]
    except SpecError as exc:
        assert isinstance(exc, ValueError) and str(exc)
        return
    assert isinstance(spec, str)
    assert parsed.provider in endpoints()
    assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*", parsed.model)


@FAST
@given(models=st.one_of(anything, st.lists(anything, max_size=4)))
def test_any_model_list_parses_or_raises_spec_error(models: object) -> None:
    try:
        parsed = parse_models(models)  # type: ignore[arg-type]
    except SpecError:
        return
    assert parsed and len(set(parsed)) == len(parsed)
    assert all(isinstance(m, ModelSpec) for m in parsed)


# -- interpolation -------------------------------------------------------------

no_braces = st.text(max_size=40).filter(lambda t: "{" not in t and "}" not in t)


@FAST
@given(text=no_braces)
def test_text_without_braces_is_one_prompt_unchanged(text: str) -> None:
    assert expand(text, {"unused": [1, 2, 3]}) == {"p0": text}


@FAST
@given(parts=st.lists(st.one_of(no_braces, st.just("{{"), st.just("}}")), max_size=8))
def test_doubled_braces_are_literal_braces(parts: list[str]) -> None:
    template = "".join(parts)
    expected = "".join({"{{": "{", "}}": "}"}.get(p, p) for p in parts)
    assert expand(template, {}) == {"p0": expected}


@FAST
@given(items=st.lists(st.one_of(st.text(max_size=50), st.integers()), min_size=1, max_size=8))
def test_a_list_of_n_items_gives_n_prompts_with_unique_ids(items: list[object]) -> None:
    prompts = expand("Question: {item}!", {"item": items})
    assert len(prompts) == len(items)
    assert list(prompts.values()) == [f"Question: {i}!" for i in items]


short = st.text("ab, y=", min_size=1, max_size=6)


@FAST
@given(xs=st.lists(short, min_size=1, max_size=4), ys=st.lists(short, min_size=1, max_size=4))
@example(xs=["a", "a, y=b"], ys=["b, y=c", "c"])
def test_two_lists_give_every_combination(xs: list[str], ys: list[str]) -> None:
    prompts = expand("{x}|{y}", {"x": xs, "y": ys})
    assert sorted(prompts.values()) == sorted(f"{x}|{y}" for x in xs for y in ys)


@FAST
@given(value=st.text(max_size=40), items=st.lists(st.text(max_size=20), min_size=1, max_size=4))
def test_values_with_braces_are_inserted_verbatim(value: str, items: list[str]) -> None:
    assert expand("<{v}>", {"v": value}) == {"p0": f"<{value}>"}
    assert list(expand("[{v}]", {"v": items}).values()) == [f"[{i}]" for i in items]


@FAST
@given(name=identifiers, others=st.dictionaries(identifiers, st.text(max_size=5), max_size=3))
def test_missing_names_raise_parameter_error_naming_the_field(
    name: str, others: dict[str, str]
) -> None:
    others.pop(name, None)
    with pytest.raises(ParameterError) as info:
        expand(f"Tell me about {{{name}}}.\nThanks.", others)
    message = str(info.value)
    assert f"{{{name}}}" in message and f"{name!r} is not defined" in message


# -- cache keys ----------------------------------------------------------------

# (endpoint name, kind): the built-ins and two registered OpenAI-compatible servers.
ENDPOINTS = [(p, p) for p in BUILTIN] + [("ollama", "openai"), ("vllm", "openai")]
api_keys = st.text(min_size=1, max_size=30).map(lambda k: "sk-" + k)
# Everything that shapes an answer, and so must be part of the key.
SHAPING: dict[str, st.SearchStrategy[object]] = {
    "endpoint": st.sampled_from(ENDPOINTS),
    "base_url": st.sampled_from(["http://127.0.0.1:1/v1", "http://localhost:1/v1"])
    | st.text(string.ascii_lowercase, min_size=1, max_size=12).map(lambda h: f"https://{h}"),
    "model": model_ids,
    "system": st.none() | st.text(max_size=30),
    "prompt": st.text(min_size=1, max_size=60),
    "temperature": st.none() | st.floats(0.0, 2.0),
    "max_tokens": st.none() | st.integers(1, 10**6),
    "repeat": st.integers(0, 50),
}
FIELDS = st.fixed_dictionaries(SHAPING)


def build(fields: dict[str, object], api_key: str = "sk-test") -> tuple[Request, Target]:
    endpoint, kind = fields["endpoint"]  # type: ignore[misc]
    request = Request(
        prompt_id="p0",
        prompt=fields["prompt"],  # type: ignore[arg-type]
        model=ModelSpec(endpoint, fields["model"]),  # type: ignore[arg-type]
        repeat=fields["repeat"],  # type: ignore[arg-type]
        system=fields["system"],  # type: ignore[arg-type]
        temperature=fields["temperature"],  # type: ignore[arg-type]
        max_tokens=fields["max_tokens"],  # type: ignore[arg-type]
    )
    return request, Target(endpoint, kind, fields["base_url"], api_key)  # type: ignore[arg-type]


@FAST
@given(fields=FIELDS)
def test_the_same_request_gives_the_same_key(fields: dict[str, object]) -> None:
    key = request_key(*build(fields))
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert request_key(*build(dict(fields))) == key
    request, target = build(fields)
    # The prompt id names a row, it does not shape the answer.
    assert request_key(dataclasses.replace(request, prompt_id="other"), target) == key


@FAST
@given(fields=FIELDS, field=st.sampled_from(sorted(SHAPING)), data=st.data())
def test_any_change_that_shapes_the_answer_changes_the_key(
    fields: dict[str, object], field: str, data: st.DataObject
) -> None:
    new_value = data.draw(SHAPING[field], label=field)
    assume(new_value != fields[field])
    changed = {**fields, field: new_value}
    assert request_key(*build(changed)) != request_key(*build(fields))


@FAST
@given(fields=FIELDS, one=api_keys, other=api_keys)
def test_the_api_key_never_changes_or_appears_in_the_key(
    fields: dict[str, object], one: str, other: str
) -> None:
    key = request_key(*build(fields, one))
    assert request_key(*build(fields, other)) == key
    assert one not in key and other not in key
