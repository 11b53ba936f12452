"""Server-sent events, as the three APIs stream their answers: an incremental
parser, and the read loop that turns a stream that breaks into
:class:`~.base.StreamBroken` rather than a short answer.

Each adapter keeps the state of one streamed answer in an :class:`Answer`: it
takes the events one by one and knows whether its API's finish signal came
(OpenAI's ``[DONE]``, Anthropic's ``message_stop``, a Gemini ``finishReason``).
:func:`read` feeds it, and decides how a stream that goes wrong failed:

- ``stalled``: no byte of the body for ``stall_s`` seconds (:class:`Stall`; the
  wait for the headers is under the HTTP client's read timeout, as any call);
- ``disconnected``: the connection dropped (a transport error while reading);
- ``truncated``: the stream ended cleanly, but before the finish signal;
- ``malformed``: raised by the answer, for an event that is not what its API
  sends (not JSON, not an object, or not the documented shape).

Once the finish signal has come, the answer is whole: what happens to the rest
of the stream (read to its end, so the connection can be reused) does not matter.

Every chunk of a stream passes through here, so the read loop is kept lean: it
awaits the HTTP client's own read call (:data:`NextChunk`), not layers of async
iterators (an SDK client's body on its aiohttp transport is read straight from
aiohttp, see :func:`sdk_chunks`), and a chunk sets no timer: aiohttp's read
timeout sets a new one on every chunk, :class:`Stall` one per ``stall_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .base import StreamBroken

__all__ = [
    "SHAPE_ERRORS",
    "Answer",
    "Decoder",
    "NextChunk",
    "Pieces",
    "Stall",
    "aiohttp_chunks",
    "chunks_of",
    "malformed_error",
    "misshapen",
    "parse",
    "read",
    "sdk_chunks",
    "sdk_transport",
]

#: Reads the next chunk of a body: its bytes, or ``b""`` once the body has ended.
NextChunk = Callable[[], Awaitable[bytes]]
#: The context a read runs in, which turns the transport's errors into its client's.
Translate = Callable[[], AbstractContextManager[object]]


class Answer(Protocol):
    """One streamed answer being put together."""

    #: Whether the API's finish signal has arrived.
    finished: bool
    #: The finish signal, as an error message names it (``"[DONE]"``).
    signal: str

    def event(self, name: bytes, data: bytes) -> None:
        """Take one event (``name`` is empty when the event has none)."""
        ...


class Pieces:
    """What every adapter's :class:`Answer` keeps: the text so far (each piece also
    handed to ``on_text`` as it comes), the usage, finish reason and model."""

    def __init__(self, on_text: Callable[[str], None]) -> None:
        self.on_text = on_text
        self.finished = False
        self.pieces: list[str] = []
        self.usage: Mapping[str, Any] | None = None
        self.finish_reason: str | None = None
        self.model: str | None = None
        self.service_tier: str | None = None

    def text(self, piece: object) -> None:
        """Take the next piece of the answer (a non-text piece is a misshapen event)."""
        if not isinstance(piece, str):
            raise TypeError(f"the text is a {type(piece).__name__}")
        if piece:
            self.pieces.append(piece)
            self.on_text(piece)


class Decoder:
    """Bytes in, events out: the ``event`` and ``data`` fields of each event, as the
    SSE format defines them (lines end with LF or CRLF; a blank line ends an event;
    lines starting with ``:`` are comments; other fields are ignored)."""

    __slots__ = ("_data", "_event", "_tail")

    def __init__(self) -> None:
        self._tail = b""  # the start of a line whose end has not come yet
        self._event = b""
        self._data: bytes | None = None

    def feed(self, chunk: bytes) -> list[tuple[bytes, bytes]]:
        """The events completed by ``chunk``, as (name, data) pairs."""
        lines = (self._tail + chunk).split(b"\n")
        self._tail = lines.pop()
        events: list[tuple[bytes, bytes]] = []
        for line in lines:
            if line[-1:] == b"\r":
                line = line[:-1]
            if not line:
                if self._data is not None:
                    events.append((self._event, self._data))
                self._event, self._data = b"", None
                continue
            name, _, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if name == b"data":
                self._data = value if self._data is None else self._data + b"\n" + value
            elif name == b"event":
                self._event = value
        return events

    def end(self) -> list[tuple[bytes, bytes]]:
        """At the end of the stream: an event whose lines all came, but not the blank
        line after them (a line cut short is dropped: the stream was cut)."""
        data, self._data = self._data, None
        return [(self._event, data)] if data is not None else []


class Stall:
    """The stall limit of one stream's body, at the cost of one timer per
    ``stall_s`` seconds rather than one per chunk (None: no limit of its own).

    The read loop notes when each chunk came (:attr:`last`); the timer is due
    ``stall_s`` after the note it saw, and when it fires it looks again: if a
    chunk came meanwhile, it sets itself ``stall_s`` after that one, else the
    read is cancelled and leaving the ``async with`` raises ``TimeoutError``.
    """

    __slots__ = ("_handle", "_loop", "_scope", "last", "stall_s")

    def __init__(self, stall_s: float | None) -> None:
        self.stall_s = stall_s
        self._loop = asyncio.get_running_loop()
        #: When the last chunk came (the loop's clock).
        self.last = self._loop.time()
        self._scope = asyncio.timeout(None)
        self._handle: asyncio.TimerHandle | None = None

    async def __aenter__(self) -> Stall:
        await self._scope.__aenter__()
        if self.stall_s is not None:
            self._handle = self._loop.call_at(self.last + self.stall_s, self._check)
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._handle is not None:
            self._handle.cancel()
        await self._scope.__aexit__(*exc_info)

    def _check(self) -> None:
        assert self.stall_s is not None
        due = self.last + self.stall_s
        if self._loop.time() < due:
            self._handle = self._loop.call_at(due, self._check)
        else:  # nothing for stall_s: end the read now
            self._scope.reschedule(self._loop.time())


async def read(
    next_chunk: NextChunk,
    answer: Answer,
    *,
    stall_s: float | None,
    read_errors: tuple[type[BaseException], ...],
    read_timeouts: tuple[type[BaseException], ...] = (),
    translate: Translate = contextlib.nullcontext,
) -> None:
    """Feed the events of the body that ``next_chunk`` reads to ``answer`` until the
    body ends; raise :class:`StreamBroken` unless its finish signal came.

    A body that goes ``stall_s`` seconds without a chunk is ``stalled``
    (:class:`Stall`; None: the HTTP client's read timeout is the limit).
    ``read_errors`` are what the client raises when a connection drops while
    reading; ``read_timeouts`` (and any ``TimeoutError``), those that are its
    read timeout: a stall. Reading runs in ``translate()`` (once for the whole
    stream, not per chunk), so errors are named as the client names them (see
    :func:`sdk_chunks`).
    """
    decoder = Decoder()
    feed, event = decoder.feed, answer.event
    dropped: tuple[type[BaseException], ...] = (TimeoutError, *read_errors)
    watch = Stall(stall_s)
    now = asyncio.get_running_loop().time
    try:
        async with watch:
            with translate():
                while chunk := await next_chunk():
                    watch.last = now()
                    for name, data in feed(chunk):
                        event(name, data)
    except dropped as exc:
        if not answer.finished:  # else the answer is whole: the rest does not matter
            raise _broken(exc, isinstance(exc, (TimeoutError, *read_timeouts)), stall_s) from None
    for name, data in decoder.end():
        event(name, data)
    if not answer.finished:
        raise StreamBroken(
            "truncated", f"the stream ended before the answer did (no {answer.signal})"
        )


def aiohttp_chunks(response: Any, stall_s: float | None) -> NextChunk:
    """The read call of an ``aiohttp.ClientResponse``'s body, for :func:`read`.

    With ``stall_s``, :func:`read` watches the body for stalls itself, so
    aiohttp's read timeout (a new timer on every chunk) is turned off for the
    rest of this response; the wait for its headers was under it already.
    The connection's next request sets its own.
    """
    protocol = getattr(response.connection, "protocol", None)
    if stall_s is not None and protocol is not None:
        protocol.read_timeout = None
    return response.content.readany  # type: ignore[no-any-return]


def chunks_of(chunks: AsyncIterable[bytes]) -> NextChunk:
    """:data:`NextChunk` over an async iterable of byte chunks (empty ones skipped)."""
    iterator = aiter(chunks)

    async def next_chunk() -> bytes:
        async for chunk in iterator:
            if chunk:
                return chunk
        return b""

    return next_chunk


def sdk_chunks(response: Any, transport: Any, stall_s: float | None) -> tuple[NextChunk, Translate]:
    """How to read the body of an SDK client's streamed ``response`` (an
    ``httpx2.Response``): the read call, and the context that names its errors.

    ``transport`` is the SDK's own aiohttp transport module (its vendored
    ``httpx_aiohttp.transport``), or None. When the response came through it
    and its body has no content encoding to undo, the body is read straight
    from aiohttp's stream (see :func:`aiohttp_chunks`), in the transport's own
    exception mapping: the bytes and errors of ``response.aiter_bytes()``,
    without its four async generators per chunk. Otherwise
    ``response.aiter_bytes()`` is read. Either way the caller closes the response.
    """
    stream = getattr(response.stream, "_stream", None)  # inside httpx2's timing wrapper
    if transport is None or not isinstance(stream, transport.AiohttpResponseStream):
        return chunks_of(response.aiter_bytes()), contextlib.nullcontext
    next_chunk = aiohttp_chunks(stream._aiohttp_response, stall_s)
    if _encoded(response.headers.get_list("content-encoding", split_commas=True)):
        return chunks_of(response.aiter_bytes()), contextlib.nullcontext
    return next_chunk, transport.map_aiohttp_exceptions


def sdk_transport(sdk: str) -> Any:
    """The aiohttp transport module an SDK's ``DefaultAioHttpClient`` uses (each
    SDK vendors its own copy, with its own exception mapping), or None."""
    try:
        return importlib.import_module(f"{sdk}._vendor.httpx_aiohttp.transport")
    except ImportError:
        return None


def _encoded(encodings: list[str]) -> bool:
    """Whether a body has a content encoding that httpx2 would decode."""
    return any(value.strip().lower() != "identity" for value in encodings)


def _broken(exc: BaseException, stalled: bool, stall_s: float | None) -> StreamBroken:
    cause = exc.__cause__ or exc
    what = f"{type(cause).__name__}: {' '.join(str(cause).split())}"[:300]
    if stalled and stall_s is not None:
        return StreamBroken("stalled", f"the stream stalled: nothing arrived for {stall_s:g} s")
    if stalled:
        return StreamBroken("stalled", f"the stream stalled: the read timed out ({what})")
    return StreamBroken("disconnected", f"the connection dropped mid-stream ({what})")


_DECODE = json.JSONDecoder().raw_decode
#: What reading an event of the wrong shape raises (a missing key, a wrong type).
SHAPE_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)


def parse(data: bytes) -> dict[str, Any]:
    """An event's JSON object, or ``malformed``."""
    try:
        text = data.decode().strip()
        value, end = _DECODE(text)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError alike
        raise malformed_error(f"an event is not valid JSON: {_quote(data)}") from None
    if end != len(text):
        raise malformed_error(f"an event is not valid JSON: {_quote(data)}")
    if not isinstance(value, dict):
        raise malformed_error(f"an event is not a JSON object: {_quote(data)}")
    return value


def misshapen(what: str, exc: Exception) -> StreamBroken:
    """The error of an event whose shape is not the documented one (``exc`` says how)."""
    return malformed_error(
        f"{what} does not have the documented shape ({type(exc).__name__}: {exc})"
    )


def malformed_error(message: str) -> StreamBroken:
    """The error of a stream that carried something its API does not send."""
    return StreamBroken("malformed", message)


def _quote(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return repr(text if len(text) <= 80 else text[:80] + "…")
