"""The public API is curated: __all__ is sorted and is exactly what the README documents."""

from __future__ import annotations

import re
from pathlib import Path

import orbit_nb

README = Path(__file__).resolve().parent.parent / "README.md"


def documented_names() -> list[str]:
    section = README.read_text().split("## Public API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- `(\w+)`", section, flags=re.MULTILINE)


def test_all_is_sorted_and_matches_readme() -> None:
    assert orbit_nb.__all__ == sorted(orbit_nb.__all__)
    assert sorted(documented_names()) == orbit_nb.__all__


def test_every_public_name_exists_and_has_a_docstring() -> None:
    for name in orbit_nb.__all__:
        obj = getattr(orbit_nb, name)
        assert obj.__doc__, name
