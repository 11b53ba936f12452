"""Model specs ("provider:model"), aliases, and the endpoints they resolve to.

An *endpoint* is a named place to send requests: the three built-in providers
plus any OpenAI-compatible server registered with :func:`register_endpoint`.
Keys and base URLs are read from the environment (through :mod:`orbit_nb.config`)
each time a run resolves its targets, so a variable set in a notebook takes
effect on the next run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from . import config
from .errors import ConfigError, SpecError
from .types import ModelSpec

__all__ = [
    "ALIASES",
    "PROVIDER_ENV",
    "Endpoint",
    "Target",
    "endpoints",
    "parse_model",
    "parse_models",
    "register_endpoint",
    "resolve",
]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where requests for one provider name go, and which key they carry."""

    name: str
    kind: str  # which adapter speaks to it: "anthropic", "openai" or "gemini"
    default_base_url: str
    base_url_envs: tuple[str, ...] = ()
    key_envs: tuple[str, ...] = ()  # tried in order; empty means no key is needed
    concurrency: int = 50  # default in-flight calls; sized for real rate limits
    price_as: str | None = None  # "provider:model" whose price a registered endpoint's calls take

    def base_url(self, environ: Mapping[str, str]) -> str:
        for name in self.base_url_envs:
            if environ.get(name):
                return environ[name].rstrip("/")
        return self.default_base_url.rstrip("/")

    def api_key(self, environ: Mapping[str, str], spec: str) -> str | None:
        """The key from the first of ``key_envs`` that is set and not blank."""
        if not self.key_envs:
            return None
        for name in self.key_envs:
            # A key read from a file or pasted from a terminal often brings a newline.
            value = environ.get(name, "").strip()
            if value:
                return _checked_key(name, value)
        wanted = " or ".join(self.key_envs)
        raise ConfigError(f"{wanted} is not set; it is needed for {spec!r}")


#: What an API key is made of: printable ASCII without spaces. Anything else
#: would be refused by the HTTP layer, with the key quoted in its error.
_KEY = re.compile(r"[!-~]+")


def _checked_key(name: str, value: str) -> str:
    if not _KEY.fullmatch(value):
        raise ConfigError(
            f"{name} contains whitespace, a control character or a non-ASCII character "
            "inside it; an API key is printable ASCII without spaces: check how it was "
            "set (its value is not shown)"
        )
    return value


@dataclass(frozen=True, slots=True)
class Target:
    """An endpoint resolved against the environment for one run."""

    endpoint: str
    kind: str
    base_url: str
    api_key: str | None = field(default=None, repr=False)
    concurrency: int = 50


_BUILTIN = (
    Endpoint(
        "anthropic",
        "anthropic",
        "https://api.anthropic.com",
        (config.ANTHROPIC_BASE_URL,),
        (config.ANTHROPIC_API_KEY,),
        concurrency=50,
    ),
    Endpoint(
        "gemini",
        "gemini",
        "https://generativelanguage.googleapis.com",
        (config.GEMINI_BASE_URL, config.GOOGLE_GEMINI_BASE_URL),
        (config.GEMINI_API_KEY, config.GOOGLE_API_KEY),
        concurrency=100,
    ),
    Endpoint(
        "openai",
        "openai",
        "https://api.openai.com/v1",
        (config.OPENAI_BASE_URL,),
        (config.OPENAI_API_KEY,),
        concurrency=100,
    ),
)
_ENDPOINTS: dict[str, Endpoint] = {e.name: e for e in _BUILTIN}

#: The environment variables that point the built-in providers somewhere (base
#: URLs) and hold their keys: what a test or a demo clears to stay offline.
PROVIDER_ENV: tuple[str, ...] = tuple(
    name for e in _BUILTIN for name in (*e.base_url_envs, *e.key_envs)
)

#: Short names accepted in place of a full spec.
ALIASES: dict[str, str] = {
    "haiku": "anthropic:claude-haiku-4-5",
    "sonnet": "anthropic:claude-sonnet-4-6",
    "opus": "anthropic:claude-opus-4-8",
    "flash": "gemini:gemini-2.5-flash",
    "flash-lite": "gemini:gemini-2.5-flash-lite",
}

# Bare model names whose provider is unambiguous.
_PREFIXES = (
    ("claude-", "anthropic"),
    ("gemini-", "gemini"),
    ("gpt-", "openai"),
    ("chatgpt-", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4-", "openai"),
)

_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]*")


def endpoints() -> dict[str, Endpoint]:
    """The known endpoints by name, built-in and registered."""
    return dict(_ENDPOINTS)


def register_endpoint(
    name: str,
    *,
    base_url: str,
    api_key_env: str | None = None,
    concurrency: int = 8,
    price_as: str | None = None,
) -> Endpoint:
    """Register an OpenAI-compatible server (Ollama, vLLM, LM Studio) under ``name``.

    Afterwards ``"<name>:<model>"`` specs go to ``base_url`` with the key read
    from the environment variable ``api_key_env`` (``None``: no key needed)::

        orbit_nb.register_endpoint("ollama", base_url="http://localhost:11434/v1")
        orbit_nb.compare("hi", ["ollama:llama3.2", "openai:gpt-4o-mini"])

    Its calls have no cost (``cost_usd`` NA): a local server answering as
    ``gpt-4o`` is not billed at OpenAI's price. ``price_as="openai:gpt-4o-mini"``
    prices every call like that public model; ``orbit_nb.set_price(model, ...,
    endpoint=name)`` prices one model.

    Registering a name again replaces it; the built-in providers cannot be replaced.
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SpecError(
            f"endpoint name {name!r} is not valid; use lowercase letters, digits, '-' or '_'"
        )
    if name in {e.name for e in _BUILTIN}:
        raise SpecError(f"endpoint name {name!r} is a built-in provider; choose another name")
    if not isinstance(base_url, str) or not re.match(r"https?://[^/\s]+", base_url):
        raise SpecError(f"base_url {base_url!r} for endpoint {name!r} must be an http(s) URL")
    if api_key_env is not None and not (isinstance(api_key_env, str) and api_key_env):
        raise SpecError(f"api_key_env {api_key_env!r} must be an environment variable name or None")
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise SpecError(f"concurrency {concurrency!r} for endpoint {name!r} must be an int >= 1")
    if price_as is not None:
        provider, _, model = price_as.partition(":") if isinstance(price_as, str) else ("", "", "")
        if provider not in {e.name for e in _BUILTIN} or not model:
            raise SpecError(
                f"price_as={price_as!r} for endpoint {name!r} must be a public model spec "
                "such as 'openai:gpt-4o-mini'"
            )
    keys = (api_key_env,) if api_key_env else ()
    endpoint = Endpoint(name, "openai", base_url, (), keys, concurrency, price_as)
    _ENDPOINTS[name] = endpoint
    return endpoint


def _known() -> str:
    return ", ".join(sorted(_ENDPOINTS))


def parse_model(spec: str) -> ModelSpec:
    """Parse one spec: ``"provider:model"``, an alias, or a bare model name.

    >>> parse_model("openai:gpt-4o")
    ModelSpec(provider='openai', model='gpt-4o')
    >>> parse_model("claude-haiku-4-5").provider
    'anthropic'
    """
    if not isinstance(spec, str):
        raise SpecError(f"model spec {spec!r} is a {type(spec).__name__}, expected a str")
    text = spec.strip()
    if not text:
        raise SpecError("empty model spec; expected 'provider:model', e.g. 'openai:gpt-4o'")
    if text in ALIASES:
        text = ALIASES[text]
    provider, sep, model = text.partition(":")
    if not sep:
        return _infer(text, spec)
    provider = provider.strip().lower()
    model = model.strip()
    if provider not in _ENDPOINTS:
        raise SpecError(f"unknown provider {provider!r} in {spec!r}; known: {_known()}")
    if provider == "gemini":
        model = model.removeprefix("models/")
    if not _MODEL.fullmatch(model):
        raise SpecError(
            f"model name {model!r} in {spec!r} is empty or has characters a model id "
            "cannot have; expected e.g. 'openai:gpt-4o'"
        )
    return ModelSpec(provider, model)


def _infer(model: str, spec: str) -> ModelSpec:
    for prefix, provider in _PREFIXES:
        if model.startswith(prefix) and _MODEL.fullmatch(model):
            return ModelSpec(provider, model)
    raise SpecError(
        f"cannot tell the provider of {spec!r}; write it as 'provider:model' "
        f"(known providers: {_known()})"
    )


def parse_models(models: str | Iterable[str]) -> list[ModelSpec]:
    """Parse a comma-separated string or a list of specs; duplicates are an error."""
    if isinstance(models, str):
        items: list[object] = list(models.split(","))
    elif isinstance(models, Iterable) and not isinstance(models, Mapping | bytes):
        items = list(models)
    else:
        raise SpecError(
            f"models {models!r} must be a list of 'provider:model' strings "
            "or one comma-separated string"
        )
    if not items or all(isinstance(m, str) and not m.strip() for m in items):
        raise SpecError(
            "no models given; pass e.g. ['openai:gpt-4o', 'anthropic:claude-haiku-4-5']"
        )
    parsed = [parse_model(m) for m in items]  # type: ignore[arg-type]
    seen: set[ModelSpec] = set()
    for spec in parsed:
        if spec in seen:
            raise SpecError(f"model {spec.spec!r} is listed twice; use repeat= for more samples")
        seen.add(spec)
    return parsed


def resolve(
    specs: Iterable[ModelSpec], environ: Mapping[str, str] | None = None
) -> dict[str, Target]:
    """Resolve each provider used by ``specs`` against the environment, by name.

    Raises :class:`ConfigError` naming the variable when a needed key is missing.
    """
    env = config.environ() if environ is None else environ
    targets: dict[str, Target] = {}
    for spec in specs:
        if spec.provider in targets:
            continue
        endpoint = _ENDPOINTS.get(spec.provider)
        if endpoint is None:
            raise SpecError(
                f"unknown provider {spec.provider!r} in {spec.spec!r}; known: {_known()}"
            )
        targets[spec.provider] = Target(
            endpoint.name,
            endpoint.kind,
            endpoint.base_url(env),
            endpoint.api_key(env, spec.spec),
            endpoint.concurrency,
        )
    return targets
