"""config is the one reader of the environment, and it reads it at call time."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import orbit_nb
from orbit_nb import cache, config
from orbit_nb.engine import new_loop
from orbit_nb.specs import PROVIDER_ENV, parse_model, resolve

PACKAGE = Path(orbit_nb.__file__).resolve().parent


def test_orbit_variable_names() -> None:
    assert config.CACHE_DIR == "ORBIT_CACHE_DIR"
    assert config.CACHE_URL == "ORBIT_CACHE_URL"
    assert config.CACHE_TTL == "ORBIT_CACHE_TTL"
    assert config.PRICES == "ORBIT_PRICES"


def test_provider_variables_are_the_config_constants() -> None:
    assert set(PROVIDER_ENV) == {
        config.ANTHROPIC_API_KEY,
        config.ANTHROPIC_BASE_URL,
        config.GEMINI_API_KEY,
        config.GEMINI_BASE_URL,
        config.GOOGLE_API_KEY,
        config.GOOGLE_GEMINI_BASE_URL,
        config.OPENAI_API_KEY,
        config.OPENAI_BASE_URL,
    }


@pytest.mark.parametrize(
    ("reader", "name"),
    [
        (config.cache_dir, "ORBIT_CACHE_DIR"),
        (config.cache_url, "ORBIT_CACHE_URL"),
        (config.prices_file, "ORBIT_PRICES"),
    ],
)
def test_each_reader_sees_a_change_at_once(
    monkeypatch: pytest.MonkeyPatch, reader: object, name: str
) -> None:
    assert callable(reader)
    monkeypatch.setenv(name, "first")
    assert reader() == "first"
    monkeypatch.setenv(name, "second")
    assert reader() == "second"
    monkeypatch.setenv(name, "")  # empty counts as unset
    assert reader() is None
    monkeypatch.delenv(name)
    assert reader() is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1", 1.0), ("0.5", 0.5), ("3600", 3600.0), ("0", None), ("-5", None),
     ("soon", None), ("nan", None), ("", None)],
)  # fmt: skip
def test_cache_ttl(monkeypatch: pytest.MonkeyPatch, value: str, seconds: float | None) -> None:
    monkeypatch.setenv("ORBIT_CACHE_TTL", value)
    assert config.cache_ttl() == seconds
    assert cache.ttl() == seconds


def test_cache_ttl_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORBIT_CACHE_TTL", raising=False)
    assert config.cache_ttl() is None


def test_environ_is_the_live_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    env = config.environ()
    assert env is os.environ
    monkeypatch.setenv("OPENAI_API_KEY", "sk-set-after")
    assert env["OPENAI_API_KEY"] == "sk-set-after"


def test_users_follow_the_environment_between_calls(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ORBIT_CACHE_DIR", str(tmp_path / "a"))
    assert cache.data_dir() == tmp_path / "a"
    monkeypatch.setenv("ORBIT_CACHE_DIR", str(tmp_path / "b"))
    assert cache.data_dir() == tmp_path / "b"

    spec = parse_model("openai:gpt-4o")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-one")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:1/v1/")
    target = resolve([spec])["openai"]
    assert (target.api_key, target.base_url) == ("sk-one", "http://localhost:1/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-two")
    monkeypatch.delenv("OPENAI_BASE_URL")
    target = resolve([spec])["openai"]
    assert (target.api_key, target.base_url) == ("sk-two", "https://api.openai.com/v1")


def test_only_config_reads_the_environment() -> None:
    reads = re.compile(r"os\.environ|getenv|putenv|from os import[^\n]*environ")
    offenders = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != PACKAGE / "config.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if reads.search(line)
    ]
    assert offenders == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, True), ("1", True), ("0", False), ("false", False), ("OFF", False), ("no", False)],
)
def test_orbit_uvloop_turns_the_engine_loop_off_uvloop(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool
) -> None:
    if value is None:
        monkeypatch.delenv("ORBIT_UVLOOP", raising=False)
    else:
        monkeypatch.setenv("ORBIT_UVLOOP", value)
    assert config.use_uvloop() is expected
    loop = new_loop()
    try:
        assert ("uvloop" in type(loop).__module__) is expected  # uvloop: the `fast` extra
    finally:
        loop.close()
