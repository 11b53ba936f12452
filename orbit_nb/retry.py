"""One call's attempts: its deadline, which failures are retried, and the backoff.

Retries are orbit's own (the SDKs' are off). A retryable failure waits with
jittered exponential backoff, never less than the server's Retry-After; a call
gives up after :data:`MAX_ATTEMPTS` attempts, or when the next attempt could not
start before the call's deadline (its ``timeout``, retries included).

A streamed call is retried by the same rules, its partial text dropped, unless
part of its answer was shown: once a display showed some of an attempt's text
(the send's text callback says so, see :data:`OnText`), a failure ends the call
(its text is kept, and the message says so), so what was shown never starts
over. A call that ends on a failure keeps the text its last attempt received.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .providers.base import Failure
from .types import Completion

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_ATTEMPTS",
    "STALL_TIMEOUT",
    "OnText",
    "Outcome",
    "Send",
    "backoff",
    "call",
    "timed_out",
]

#: Seconds a call may take in all, retries included, unless ``timeout=`` says otherwise.
DEFAULT_TIMEOUT = 600.0
#: HTTP attempts per call at most (the first one and its retries).
MAX_ATTEMPTS = 6
#: Seconds a streamed answer may go without a byte before it is ``stalled``. Long
#: enough for a model that thinks before it writes (the APIs send keep-alive
#: events meanwhile), short against the call's ``timeout``.
STALL_TIMEOUT = 120.0
_SHOWN = "; not retried: that text had been shown"
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 30.0
#: The jitter's own generator: a notebook that seeded ``random`` gets the same
#: numbers whether or not a call was retried.
_JITTER = random.Random()


def backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential with jitter (each wait at least 1.6x the previous), and never
    shorter than what the server asked for in Retry-After.
    """
    base = min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0 ** (attempt - 1))
    wait: float = base * _JITTER.uniform(0.8, 1.0)
    if retry_after is not None:
        wait = max(wait, retry_after * _JITTER.uniform(1.0, 1.1))
    return wait


def timed_out(timeout: float, note: str = "") -> Failure:
    """The failure of a call that had no answer within its ``timeout``."""
    return Failure("timeout", f"no answer within the {timeout:g} s timeout{note}", False)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a call ended: a completion, or the failure that ended it (with a note
    on the text a broken stream kept, and on why it was not retried when that
    was for lack of time or because part of the answer had been shown)."""

    completion: Completion | None
    failure: Failure | None
    latency_s: float  # of the last attempt
    note: str = ""
    #: Seconds from the last attempt's send to its first text (streams only).
    ttft_s: float | None = None
    #: The text a failed stream's last attempt received before it broke ("" if none).
    partial: str = ""


#: Sends one attempt; streamed calls pass each piece of text to the callable given.
Send = Callable[[Callable[[str], None]], Awaitable[Completion]]
#: Passes one piece of a streamed answer on; True if a display showed it.
OnText = Callable[[str], bool]


class _Streamed:
    """The text one attempt has passed on so far, when the first piece came, and
    whether a display showed any of it."""

    __slots__ = ("first_at", "loop", "on_text", "pieces", "shown")

    def __init__(self, loop: asyncio.AbstractEventLoop, on_text: OnText) -> None:
        self.loop, self.on_text = loop, on_text
        self.pieces: list[str] = []
        self.first_at: float | None = None
        self.shown = False

    def __call__(self, text: str) -> None:
        if self.first_at is None:
            self.first_at = self.loop.time()
        self.pieces.append(text)
        if self.on_text(text):
            self.shown = True

    def ttft(self, start: float) -> float | None:
        return None if self.first_at is None else self.first_at - start


async def call(
    send: Send,
    classify: Callable[[Exception], Failure],
    *,
    timeout: float,
    on_attempt: Callable[[int], object],
    on_retry: Callable[[int, Failure, float], object],
    on_text: OnText = lambda _: False,
) -> Outcome:
    """Send until answered, a failure that is not retried, :data:`MAX_ATTEMPTS`,
    or the deadline ``timeout`` seconds from now.

    ``on_attempt(n)`` runs as attempt ``n`` (1-based) starts; ``on_retry(n,
    failure, wait_s)`` before the wait that follows a retryable failure;
    ``on_text(piece)`` for each piece of a streamed answer as it arrives, and
    says whether a display showed it: a stream that breaks after a piece was
    shown is not retried.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempt = 0
    while True:
        attempt += 1
        on_attempt(attempt)
        start = loop.time()
        streamed = _Streamed(loop, on_text)
        try:
            async with asyncio.timeout_at(deadline) as scope:
                completion = await send(streamed)
        except Exception as exc:
            failure = timed_out(timeout) if scope.expired() else classify(exc)
        else:
            return Outcome(completion, None, loop.time() - start, ttft_s=streamed.ttft(start))
        latency = loop.time() - start
        if not failure.retryable or attempt >= MAX_ATTEMPTS:
            return _failed(failure, latency, streamed, start)
        if streamed.shown:  # what was shown never starts over
            return _failed(failure, latency, streamed, start, _SHOWN)
        wait = backoff(attempt, failure.retry_after)
        if loop.time() + wait > deadline:
            note = f"; no time left for a retry within {timeout:g} s"
            return _failed(failure, latency, streamed, start, note)
        on_retry(attempt, failure, wait)  # the next attempt's text starts over
        await asyncio.sleep(wait)


def _failed(
    failure: Failure, latency: float, streamed: _Streamed, start: float, why: str = ""
) -> Outcome:
    """The call's end on its last attempt's ``failure``; a stream keeps the text that
    attempt received, and the note says so (then ``why`` it was not retried)."""
    partial = "".join(streamed.pieces)
    if partial:
        kept = f"; after {len(partial)} characters of the answer had arrived"
        why = f"{kept} (kept in content, incomplete){why}"
    return Outcome(None, failure, latency, why, streamed.ttft(start), partial)
