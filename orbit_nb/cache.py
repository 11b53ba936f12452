"""The response cache: re-running a notebook must not re-bill anyone.

Entries live in diskcache under ``ORBIT_CACHE_DIR`` (default: the per-user
cache dir), or in Redis when ``ORBIT_CACHE_URL=redis://...`` so a team shares
one cache across kernels and machines. ``ORBIT_CACHE_TTL`` (seconds) makes
entries expire. Keys hash every field that affects the answer, never the API
key; values are JSON, never pickles, so a shared store cannot run code.

The stores are synchronous: the engine calls them from worker threads only,
never on its event loop. A store that fails (unwritable or corrupted dir,
Redis down) is reported as a warning and the run goes on uncached.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from .specs import Target
from .types import Completion, Request, Row, Usage

__all__ = [
    "CacheStats",
    "Entry",
    "Store",
    "cache_stats",
    "clear_cache",
    "counters",
    "data_dir",
    "open_store",
    "request_key",
    "ttl",
]

_KEY_VERSION = 1
_REDIS_PREFIX = "orbit:cache:"


def data_dir() -> Path:
    """Where the cache and the history live: ``ORBIT_CACHE_DIR`` or the user cache dir."""
    configured = os.environ.get("ORBIT_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("orbit_nb"))


def request_key(request: Request, target: Target) -> str:
    """sha256 over every field that changes the answer (and the repeat index,
    so that n repeats stay n samples); never over the API key."""
    fields = {
        "v": _KEY_VERSION,
        "kind": target.kind,
        "endpoint": target.endpoint,
        "base_url": target.base_url,
        "model": request.model.model,
        "system": request.system,
        "messages": [{"role": "user", "content": request.prompt}],
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "repeat": request.repeat,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """What the cache keeps of a successful call."""

    completion: Completion
    latency_s: float | None
    ttft_s: float | None
    cost_usd: float | None

    @classmethod
    def of(cls, row: Row) -> Entry:
        completion = Completion(
            row.content or "", row.usage, row.finish_reason, row.request_id, None
        )
        return cls(completion, row.latency_s, row.ttft_s, row.cost_usd)

    def dumps(self) -> bytes:
        data = asdict(self)
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, raw: bytes) -> Entry:
        data = json.loads(raw)
        comp = data["completion"]
        completion = Completion(**{**comp, "usage": Usage(**comp["usage"])})
        return cls(completion, data["latency_s"], data["ttft_s"], data["cost_usd"])

    def fill(self, row: Row) -> None:
        """Make ``row`` a cache hit: the original answer, usage, latency and cost."""
        c = self.completion
        row.content, row.usage, row.finish_reason = c.content, c.usage, c.finish_reason
        row.request_id = c.request_id
        row.latency_s, row.ttft_s, row.cost_usd = self.latency_s, self.ttft_s, self.cost_usd
        row.cached, row.attempts, row.status = True, 0, "ok"


class Store(Protocol):
    """A key-value store of cache entries (synchronous; call from worker threads)."""

    name: str

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]: ...
    def put_many(self, items: Mapping[str, bytes], ttl: float | None) -> None: ...
    def clear(self) -> int: ...
    def entries(self) -> int: ...
    def size_bytes(self) -> int: ...


class DiskStore:
    """diskcache in a directory; safe across threads and processes."""

    name = "disk"

    def __init__(self, directory: Path) -> None:
        import diskcache

        self.directory = directory
        self._cache = diskcache.Cache(str(directory), timeout=30)

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        found = {}
        for key in keys:
            value = self._cache.get(key)
            if isinstance(value, bytes):
                found[key] = value
        return found

    def put_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        with self._cache.transact():
            for key, value in items.items():
                self._cache.set(key, value, expire=ttl)

    def clear(self) -> int:
        return int(self._cache.clear())

    def entries(self) -> int:
        return len(self._cache)

    def size_bytes(self) -> int:
        return int(self._cache.volume())


class RedisStore:
    """A Redis server shared by every kernel that points at it."""

    name = "redis"

    def __init__(self, url: str) -> None:
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=10)
        self._client.ping()

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        keys = list(keys)
        if not keys:
            return {}
        values = self._client.mget([_REDIS_PREFIX + k for k in keys])
        return {k: v for k, v in zip(keys, values, strict=True) if isinstance(v, bytes)}

    def put_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        pipe = self._client.pipeline(transaction=False)
        for key, value in items.items():
            pipe.set(_REDIS_PREFIX + key, value, px=None if ttl is None else int(ttl * 1000))
        pipe.execute()

    def _keys(self) -> list[bytes]:
        return list(self._client.scan_iter(match=_REDIS_PREFIX + "*", count=1000))

    def clear(self) -> int:
        keys = self._keys()
        for start in range(0, len(keys), 1000):
            self._client.delete(*keys[start : start + 1000])
        return len(keys)

    def entries(self) -> int:
        return len(self._keys())

    def size_bytes(self) -> int:
        pipe = self._client.pipeline(transaction=False)
        for key in self._keys():
            pipe.strlen(key)
        return int(sum(pipe.execute()))


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def open_store() -> Store:
    """The store the environment names now (opened once per location).

    Raises OSError, sqlite3 or redis errors when the store is unusable; the
    caller turns those into a warning.
    """
    url = os.environ.get("ORBIT_CACHE_URL")
    where = url or str(data_dir() / "cache")
    with _stores_lock:
        store = _stores.get(where)
        if store is None:
            store = RedisStore(url) if url else DiskStore(Path(where))
            _stores[where] = store
        return store


def ttl() -> float | None:
    """Entry lifetime in seconds from ``ORBIT_CACHE_TTL``, or None (keep forever)."""
    value = os.environ.get("ORBIT_CACHE_TTL")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds > 0 else None


class _Counters:
    """Hits and misses since the process started."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0


counters = _Counters()


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What :func:`cache_stats` reports."""

    hits: int
    misses: int
    entries: int
    bytes: int
    backend: str
    location: str


def cache_stats() -> CacheStats:
    """Hits and misses since the process started; entries, bytes and backend from the store.

    A miss is a lookup that found nothing; runs with ``cache=False`` look
    nothing up, so they count neither.

    >>> orbit_nb.cache_stats()   # doctest: +SKIP
    CacheStats(hits=60, misses=60, entries=60, bytes=41984, backend='disk', location='...')
    """
    store = open_store()
    location = os.environ.get("ORBIT_CACHE_URL") or str(data_dir() / "cache")
    if "@" in location:  # a redis URL may carry a password
        location = location.split("://", 1)[0] + "://…@" + location.rsplit("@", 1)[1]
    return CacheStats(
        counters.hits, counters.misses, store.entries(), store.size_bytes(), store.name, location
    )


def clear_cache() -> int:
    """Delete every cached response; returns how many were removed."""
    return open_store().clear()


def describe(exc: BaseException) -> str:
    """A one-line reason for a store failure, without secrets (URLs are not echoed)."""
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def safe_loads(raw: bytes) -> Entry | None:
    """An entry, or None if what is stored cannot be read (treated as a miss)."""
    try:
        return Entry.loads(raw)
    except (ValueError, KeyError, TypeError):
        return None


def entries_of(rows: Sequence[Row], keys: Sequence[str]) -> dict[str, bytes]:
    """Serialised entries for the fresh (not cached) ok rows, by their request keys."""
    return {
        key: Entry.of(row).dumps()
        for row, key in zip(rows, keys, strict=True)
        if row.status == "ok" and not row.cached
    }
