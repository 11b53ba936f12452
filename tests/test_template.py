"""{var} interpolation of a cell's prompt, without a kernel."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from orbit_nb.errors import ParameterError
from orbit_nb.notebook.template import expand


def test_scalar() -> None:
    assert expand("Explain {topic}.", {"topic": "TCP"}) == {"p0": "Explain TCP."}


def test_list_fans_out_with_readable_ids() -> None:
    assert expand("Hi in {lang}", {"lang": ["fr", "de"]}) == {
        "lang=fr": "Hi in fr",
        "lang=de": "Hi in de",
    }


def test_cross_product_of_two_lists() -> None:
    prompts = expand("{a}-{b}-{a}", {"a": [1, 2], "b": ("x", "y", "z")})
    assert len(prompts) == 6
    assert prompts["a=2, b=z"] == "2-z-2"


def test_attribute_index_conversion_and_spec() -> None:
    ns = {"obj": SimpleNamespace(name="Ada"), "d": {"k": "v"}, "xs": [10], "n": 3.14159}
    text = "{obj.name} {d[k]} {xs[0]} {obj.name!r} {n:.2f}"
    assert expand(text, ns) == {"p0": "Ada v 10 'Ada' 3.14"}


def test_literal_braces_and_values_with_braces() -> None:
    assert expand('{{"json": {v}}}', {"v": "{x}"}) == {"p0": '{"json": {x}}'}


def test_long_or_repeated_values_get_index_ids() -> None:
    prompts = expand("{doc}", {"doc": ["same", "same", "x" * 100]})
    assert list(prompts) == ["doc[0]", "doc[1]", "doc[2]"]


@pytest.mark.parametrize(
    ("template", "ns", "message"),
    [
        ("line one\nabout {missing} here", {}, r"\{missing\} in line 2: 'about \{missing\} here'"),
        ("{obj.nope}", {"obj": SimpleNamespace()}, r"\{obj.nope\} in line 1"),
        ("{}", {}, "needs a variable name"),
        ("{0}", {}, "needs a variable name"),
        ("unbalanced { brace", {}, "write {{ and }} for literal braces"),
        ("{xs}", {"xs": []}, r"\{xs\} is an empty list"),
    ],
)
def test_errors_name_the_field(template: str, ns: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        expand(template, ns)
