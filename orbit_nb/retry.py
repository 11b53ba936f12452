"""One call's attempts: its deadline, which failures are retried, and the backoff.

Retries are orbit's own (the SDKs' are off). A retryable failure waits with
jittered exponential backoff, never less than the server's Retry-After; a call
gives up after :data:`MAX_ATTEMPTS` attempts, or when the next attempt could not
start before the call's deadline (its ``timeout``, retries included).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .providers.base import Failure
from .types import Completion

__all__ = ["DEFAULT_TIMEOUT", "MAX_ATTEMPTS", "Outcome", "backoff", "call", "timed_out"]

#: Seconds a call may take in all, retries included, unless ``timeout=`` says otherwise.
DEFAULT_TIMEOUT = 600.0
#: HTTP attempts per call at most (the first one and its retries).
MAX_ATTEMPTS = 6
_BACKOFF_BASE = 0.5
_BACKOFF_CAP = 30.0


def backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential with jitter (each wait at least 1.6x the previous), and never
    shorter than what the server asked for in Retry-After.
    """
    wait: float = min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0 ** (attempt - 1)) * random.uniform(0.8, 1.0)
    if retry_after is not None:
        wait = max(wait, retry_after * random.uniform(1.0, 1.1))
    return wait


def timed_out(timeout: float, note: str = "") -> Failure:
    """The failure of a call that had no answer within its ``timeout``."""
    return Failure("timeout", f"no answer within the {timeout:g} s timeout{note}", False)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a call ended: a completion, or the failure that ended it (with a note
    on why it was not retried, if that was for lack of time)."""

    completion: Completion | None
    failure: Failure | None
    latency_s: float  # of the last attempt
    note: str = ""


async def call(
    send: Callable[[], Awaitable[Completion]],
    classify: Callable[[Exception], Failure],
    *,
    timeout: float,
    on_attempt: Callable[[int], object],
    on_retry: Callable[[int, Failure, float], object],
) -> Outcome:
    """Send until answered, a failure that is not retried, :data:`MAX_ATTEMPTS`,
    or the deadline ``timeout`` seconds from now.

    ``on_attempt(n)`` runs as attempt ``n`` (1-based) starts; ``on_retry(n,
    failure, wait_s)`` before the wait that follows a retryable failure.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempt = 0
    while True:
        attempt += 1
        on_attempt(attempt)
        start = loop.time()
        try:
            async with asyncio.timeout_at(deadline) as scope:
                completion = await send()
        except Exception as exc:
            failure = timed_out(timeout) if scope.expired() else classify(exc)
        else:
            return Outcome(completion, None, loop.time() - start)
        latency = loop.time() - start
        if not failure.retryable or attempt >= MAX_ATTEMPTS:
            return Outcome(None, failure, latency)
        wait = backoff(attempt, failure.retry_after)
        if loop.time() + wait > deadline:
            note = f"; no time left for a retry within {timeout:g} s"
            return Outcome(None, failure, latency, note)
        on_retry(attempt, failure, wait)
        await asyncio.sleep(wait)
