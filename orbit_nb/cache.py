"""The response cache: re-running a notebook must not re-bill anyone.

Entries live in diskcache under ``ORBIT_CACHE_DIR`` (default: the per-user
cache dir), or in Redis when ``ORBIT_CACHE_URL=redis://...`` so a team shares
one cache across kernels and machines. ``ORBIT_CACHE_TTL`` (seconds) makes
entries expire. Keys hash every field that affects the answer, never the API
key; values are JSON, never pickles, so a shared store cannot run code.

The stores are synchronous: the engine calls them from worker threads only,
never on its event loop, about once a second while a run goes. Each waits at
most :data:`DEADLINE_S` for a file another process has locked (or for Redis),
then gives up with a :class:`StoreError` that names the file and why. A store
that fails (unwritable or corrupted dir, Redis down) is reported as a warning
and the run goes on uncached; a cache in a read-only directory is still read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from . import config
from .specs import Target
from .types import Completion, Request, Row, Usage

if TYPE_CHECKING:
    import diskcache  # imported where used: it costs 50 ms, and a Redis user never needs it

__all__ = [
    "DEADLINE_S",
    "CacheStats",
    "Entry",
    "Store",
    "StoreError",
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
_T = TypeVar("_T")

#: Seconds a cache or history operation waits for a file another process has
#: locked (SQLite's busy timeout) or for Redis, before it gives up: short, so a
#: stuck store costs a run seconds, not minutes.
DEADLINE_S = 2.0


def data_dir() -> Path:
    """Where the cache and the history live: ``ORBIT_CACHE_DIR`` or the user cache dir."""
    configured = config.cache_dir()
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("orbit_nb"))


#: Request fields every key has carried since version 1, even when unset; a
#: field added later joins the key only when set, so stored answers stay found.
_KEY_V1_FIELDS = frozenset({"system", "temperature", "max_tokens", "repeat"})


def request_key(request: Request, target: Target) -> str:
    """sha256 over every field that changes the answer: the endpoint, the model,
    the messages and every other :class:`~orbit_nb.types.Request` field (the
    options sent with it, and the repeat index, so that n repeats stay n
    samples); never over the API key or the prompt's id."""
    fields: dict[str, object] = {
        "v": _KEY_VERSION,
        "kind": target.kind,
        "endpoint": target.endpoint,
        "base_url": target.base_url,
        "model": request.model.model,
        "messages": [{"role": "user", "content": request.prompt}],
    }
    for f in dataclasses.fields(request):
        if f.name in ("prompt_id", "prompt", "model"):
            continue
        value = getattr(request, f.name)
        if f.name in _KEY_V1_FIELDS or value != f.default:
            fields[f.name] = value
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a lone surrogate (from a broken decode) still gets a key;
    # every other text encodes exactly as plain UTF-8, so keys do not change.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """What the cache keeps of a successful call."""

    completion: Completion
    latency_s: float | None
    ttft_s: float | None
    cost_usd: float | None
    price_source: str | None = None

    @classmethod
    def of(cls, row: Row) -> Entry:
        completion = Completion(
            row.content or "",
            row.usage,
            row.finish_reason,
            row.request_id,
            response_model=row.served_model,
            service_tier=row.service_tier,
        )
        return cls(completion, row.latency_s, row.ttft_s, row.cost_usd, row.price_source)

    def dumps(self) -> bytes:
        data = asdict(self)
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def loads(cls, raw: bytes) -> Entry:
        data = json.loads(raw)
        comp = data["completion"]
        completion = Completion(**{**comp, "usage": Usage(**comp["usage"])})
        return cls(
            completion,
            data["latency_s"],
            data["ttft_s"],
            data["cost_usd"],
            data.get("price_source"),
        )


class Store(Protocol):
    """A key-value store of cache entries (synchronous; call from worker threads)."""

    name: str

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]: ...
    def put_many(self, items: Mapping[str, bytes], ttl: float | None) -> None: ...
    def clear(self) -> int: ...
    def entries(self) -> int: ...
    def size_bytes(self) -> int: ...


class StoreError(OSError):
    """A cache or history store could not be used; the message names the file
    (or server) and why, e.g. ``cache write to /x/cache gave up after 2 s: the
    cache is locked by another process``."""


def gave_up(action: str, where: object, what: str) -> StoreError:
    """The error of an operation that waited :data:`DEADLINE_S` for a lock."""
    return StoreError(
        f"{action} {where} gave up after {DEADLINE_S:g} s: the {what} is locked by another process"
    )


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` says another process holds the file's lock."""
    text = str(exc).lower()
    return type(exc).__name__ == "Timeout" or "locked" in text or "busy" in text


def read_connection(path: Path) -> sqlite3.Connection:
    """A connection that only reads ``path``, also in a directory this process cannot write."""
    import urllib.parse

    uri = "file:" + urllib.parse.quote(str(path))
    conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=DEADLINE_S)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1")  # opening is lazy: fail here
        return conn
    except sqlite3.Error as exc:
        conn.close()
        if is_locked(exc) or not isinstance(exc, sqlite3.OperationalError):
            raise  # locked or corrupted: reading it another way would not help
    # A WAL-mode file needs its -shm file, which SQLite cannot create in a
    # read-only directory; read the file as it stands instead (whoever cannot
    # create that file cannot be writing the database either, from here).
    return sqlite3.connect(uri + "?immutable=1", uri=True, timeout=DEADLINE_S)


def _writable(directory: Path) -> bool:
    """Whether this process can create files in ``directory`` (mode bits alone
    do not say: root ignores them, a read-only mount overrides them)."""
    try:
        with tempfile.TemporaryFile(dir=directory):
            return True
    except OSError:
        return False


_MODE_RAW, _MODE_BINARY = 1, 2  # diskcache's modes for bytes inline and bytes in a file
_SELECT = (
    "SELECT key, mode, filename, value FROM Cache WHERE raw = 1 AND key IN ({})"
    " AND (expire_time IS NULL OR expire_time > ?)"
)
_CHUNK = 500  # keys per query, under SQLite's limit on bound variables


class DiskStore:
    """diskcache in a directory; safe across threads and processes.

    Reads go through a read-only SQLite connection of our own, so a cache in a
    directory this process cannot write is still read, and a stored value is
    only ever bytes (diskcache would unpickle a planted pickle). Writes go
    through diskcache, opened on the first write.
    """

    name = "disk"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._db = directory / "cache.db"
        self._cache: diskcache.Cache | None = None
        self._opening = threading.Lock()
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot make the cache directory {directory}: {describe(exc)}"
            ) from exc
        self._check_readable()

    def _check_readable(self) -> None:
        """Refuse a corrupted cache now rather than on every read."""
        if not self._db.exists():
            return
        try:
            with closing(read_connection(self._db)) as conn:
                conn.execute("SELECT 1 FROM Cache LIMIT 1")
        except sqlite3.Error as exc:
            if not is_locked(exc) and "no such table" not in str(exc):
                raise StoreError(
                    f"the cache at {self.directory} cannot be read: {describe(exc)}"
                ) from exc

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        keys = list(keys)
        if not keys or not self._db.exists():
            return {}
        try:
            with closing(read_connection(self._db)) as conn:
                rows = [row for chunk in _chunks(keys) for row in self._select(conn, chunk)]
        except sqlite3.Error as exc:
            raise self._failure("read from", exc) from exc
        found = {key: self._value(mode, name, value) for key, mode, name, value in rows}
        return {key: value for key, value in found.items() if value is not None}

    @staticmethod
    def _select(conn: sqlite3.Connection, keys: Sequence[str]) -> list[tuple[str, int, str, bytes]]:
        query = _SELECT.format(", ".join("?" * len(keys)))
        return conn.execute(query, (*keys, time.time())).fetchall()

    def _value(self, mode: object, filename: object, value: object) -> bytes | None:
        """The stored bytes; None for what orbit never stores (text, pickles)."""
        if mode == _MODE_RAW and isinstance(value, bytes):
            return value
        if mode == _MODE_BINARY and isinstance(filename, str):
            try:
                return (self.directory / filename).read_bytes()
            except OSError:  # removed by a concurrent eviction: a miss
                return None
        return None

    def put_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        if not items:
            return
        import diskcache

        writer = self._open_writer()
        try:
            with writer.transact():
                for key, value in items.items():
                    writer.set(key, value, expire=ttl)
        except (diskcache.Timeout, sqlite3.Error, OSError) as exc:
            raise self._failure("write to", exc) from exc

    def _open_writer(self) -> diskcache.Cache:
        import diskcache

        with self._opening:  # worker threads may write at once; open one writer
            if self._cache is None:
                try:
                    self._wait_for_lock()
                    self._cache = diskcache.Cache(str(self.directory), timeout=DEADLINE_S)
                except (sqlite3.Error, OSError) as exc:
                    raise self._failure("write to", exc) from exc
            return self._cache

    def _wait_for_lock(self) -> None:
        """diskcache's own setup retries a locked file for 60 s: wait for the
        lock here instead, with our deadline."""
        if not self._db.exists():
            return
        with closing(sqlite3.connect(self._db, timeout=DEADLINE_S, isolation_level=None)) as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")

    def _failure(self, action: str, exc: BaseException) -> StoreError:
        if is_locked(exc):
            return gave_up(f"cache {action}", self.directory, "cache")
        writing = action != "read from"
        if writing and ("readonly" in str(exc).lower() or not _writable(self.directory)):
            return StoreError(
                f"the cache at {self.directory} is read-only: "
                "answers are read from it, new ones are not saved"
            )
        return StoreError(f"cache {action} {self.directory} failed: {describe(exc)}")

    def clear(self) -> int:
        import diskcache

        writer = self._open_writer()
        try:
            return int(writer.clear())
        except (diskcache.Timeout, sqlite3.Error, OSError) as exc:
            raise self._failure("clear of", exc) from exc

    def entries(self) -> int:
        return int(self._scalar("SELECT COUNT(*) FROM Cache"))

    def size_bytes(self) -> int:
        pages = self._scalar(
            "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size"
        )
        files = self._scalar("SELECT value FROM Settings WHERE key = 'size'")
        return int(pages) + int(files)

    def _scalar(self, query: str) -> int:
        if not self._db.exists():
            return 0
        try:
            with closing(read_connection(self._db)) as conn:
                row = conn.execute(query).fetchone()
        except sqlite3.Error as exc:
            raise self._failure("read from", exc) from exc
        return int(row[0]) if row and isinstance(row[0], int) else 0


def _chunks(keys: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), _CHUNK):
        yield keys[start : start + _CHUNK]


class RedisStore:
    """A Redis server shared by every kernel that points at it."""

    name = "redis"

    def __init__(self, url: str) -> None:
        import redis

        self.location = redact(url)
        self._client = redis.Redis.from_url(
            url, socket_timeout=DEADLINE_S, socket_connect_timeout=DEADLINE_S
        )
        self._guard("connect to", self._client.ping)

    def _guard(self, action: str, call: Callable[[], _T]) -> _T:
        """``call()``, its failure told as which server, and why."""
        import redis

        try:
            return call()
        except redis.TimeoutError as exc:
            raise StoreError(
                f"cache {action} {self.location} gave up after {DEADLINE_S:g} s: "
                "the server did not answer"
            ) from exc
        except redis.RedisError as exc:
            raise StoreError(f"cache {action} {self.location} failed: {describe(exc)}") from exc

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        keys = list(keys)
        if not keys:
            return {}
        read = partial(self._client.mget, [_REDIS_PREFIX + k for k in keys])
        values = self._guard("read from", read)
        return {k: v for k, v in zip(keys, values, strict=True) if isinstance(v, bytes)}

    def put_many(self, items: Mapping[str, bytes], ttl: float | None) -> None:
        pipe = self._client.pipeline(transaction=False)
        for key, value in items.items():
            pipe.set(_REDIS_PREFIX + key, value, px=None if ttl is None else int(ttl * 1000))
        self._guard("write to", pipe.execute)

    def _keys(self) -> list[bytes]:
        scan = self._client.scan_iter(match=_REDIS_PREFIX + "*", count=1000)
        return self._guard("read from", partial(list, scan))

    def clear(self) -> int:
        keys = self._keys()
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            self._guard("clear of", partial(self._client.delete, *batch))
        return len(keys)

    def entries(self) -> int:
        return len(self._keys())

    def size_bytes(self) -> int:
        pipe = self._client.pipeline(transaction=False)
        for key in self._keys():
            pipe.strlen(key)
        return int(sum(self._guard("read from", pipe.execute)))


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def open_store() -> Store:
    """The store the environment names now (opened once per location).

    Raises OSError, sqlite3 or redis errors when the store is unusable; the
    caller turns those into a warning.
    """
    url = config.cache_url()
    where = url or str(data_dir() / "cache")
    with _stores_lock:
        store = _stores.get(where)
        if store is None:
            store = RedisStore(url) if url else DiskStore(Path(where))
            _stores[where] = store
        return store


def ttl() -> float | None:
    """Entry lifetime in seconds from ``ORBIT_CACHE_TTL``, or None (keep forever).

    See :func:`orbit_nb.config.cache_ttl`.
    """
    return config.cache_ttl()


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
    location = redact(config.cache_url() or str(data_dir() / "cache"))
    return CacheStats(
        counters.hits, counters.misses, store.entries(), store.size_bytes(), store.name, location
    )


def clear_cache() -> int:
    """Delete every cached response; returns how many were removed."""
    return open_store().clear()


def describe(exc: BaseException) -> str:
    """A one-line reason for a store failure: never empty, never a URL's password.

    A :class:`StoreError` already says where and why; anything else is told as
    its type and message (or, for an exception raised without one, its cause
    or what its type stands for).
    """
    text = str(exc) if isinstance(exc, StoreError) else f"{type(exc).__name__}: {_reason(exc)}"
    return redact(" ".join(text.split()))[:300]


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if text:
        return text
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    if cause is not None:
        return _reason(cause)
    doc = (type(exc).__doc__ or "").strip().splitlines()
    if doc and type(exc).__module__ != "builtins":  # e.g. diskcache's "Database timeout expired."
        return doc[0]
    return "no reason given"


# userinfo of any URL: "redis://user:pass@host" -> "redis://…@host"
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)[^/\s]*@")


def redact(text: str) -> str:
    """``text`` without the user and password of any URL in it, nor the
    password of ``ORBIT_CACHE_URL`` wherever it appears."""
    import urllib.parse

    text = _USERINFO.sub("\\1…@", text)
    url = config.cache_url() or ""
    secret = urllib.parse.urlsplit(url).password if "://" in url else None
    return text.replace(secret, "…") if secret else text


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
