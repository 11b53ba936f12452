"""Server-sent events, as the three APIs stream their answers: an incremental
parser, and the read loop that turns a stream that breaks into
:class:`~.base.StreamBroken` rather than a short answer.

Each adapter keeps the state of one streamed answer in an :class:`Answer`: it
takes the events one by one and knows whether its API's finish signal came
(OpenAI's ``[DONE]``, Anthropic's ``message_stop``, a Gemini ``finishReason``).
:func:`read` feeds it, and decides how a stream that goes wrong failed:

- ``stalled``: no byte for ``stall_s`` seconds (the HTTP client's read timeout);
- ``disconnected``: the connection dropped (a transport error while reading);
- ``truncated``: the stream ended cleanly, but before the finish signal;
- ``malformed``: raised by the answer, for an event that is not what its API
  sends (not JSON, not an object, or not the documented shape).

Once the finish signal has come, the answer is whole: what happens to the rest
of the stream (read to its end, so the connection can be reused) does not matter.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Callable, Mapping
from typing import Any, Protocol

from .base import StreamBroken

__all__ = [
    "SHAPE_ERRORS",
    "Answer",
    "Decoder",
    "Pieces",
    "malformed_error",
    "misshapen",
    "parse",
    "read",
]


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


async def read(
    chunks: AsyncIterable[bytes],
    answer: Answer,
    *,
    stall_s: float | None,
    read_errors: tuple[type[BaseException], ...],
    read_timeouts: tuple[type[BaseException], ...] = (),
) -> None:
    """Feed the events of ``chunks`` to ``answer`` until the stream ends; raise
    :class:`StreamBroken` unless its finish signal came.

    The HTTP client enforces the stall limit: its read timeout is ``stall_s``
    (so a chunk costs no timer of its own). ``read_errors`` are what it raises
    when a connection drops while reading; ``read_timeouts`` (and any
    ``TimeoutError``), those that are its read timeout: a stall.
    """
    decoder = Decoder()
    dropped: tuple[type[BaseException], ...] = (TimeoutError, *read_errors)
    try:
        async for chunk in chunks:
            for name, data in decoder.feed(chunk):
                answer.event(name, data)
    except dropped as exc:
        if not answer.finished:  # else the answer is whole: the rest does not matter
            raise _broken(exc, isinstance(exc, (TimeoutError, *read_timeouts)), stall_s) from None
    for name, data in decoder.end():
        answer.event(name, data)
    if not answer.finished:
        raise StreamBroken(
            "truncated", f"the stream ended before the answer did (no {answer.signal})"
        )


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
