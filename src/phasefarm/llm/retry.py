"""How a model call is tried again: transient errors with backoff, 429s through the limiter,
all of it bounded by attempts and by the call's time limit.

The time limit (`RetryPolicy.max_elapsed_s`, `--call-timeout`) is a deadline handed to every
attempt: the limiter's wait for a key and the HTTP call itself count against it, so a server
that only ever answers 429 ends the call in bounded time with a clear error.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from phasefarm import scope
from phasefarm.errors import ProviderError, RateLimited, TransientError

__all__ = ["LoopEvent", "RetryPolicy", "with_retries"]

T = TypeVar("T")
log = logging.getLogger("phasefarm.llm")


@dataclass(frozen=True)
class RetryPolicy:
    """How often a call is tried again, and how long to wait in between.

    Rate-limited attempts wait in the limiter (which keeps the key blocked until its
    Retry-After), so they only add a small jitter; transient errors back off exponentially
    with full jitter. Both are bounded by attempts and by `max_elapsed_s`.
    """

    transient_attempts: int = 5
    rate_limited_attempts: int = 30
    backoff_base_s: float = 0.25
    backoff_max_s: float = 8.0
    rate_limited_jitter_s: float = 0.02
    max_elapsed_s: float = 300.0

    def transient_wait(self, failures: int, rng: random.Random) -> float:
        return rng.uniform(0, min(self.backoff_max_s, self.backoff_base_s * 2 ** (failures - 1)))


async def with_retries(
    policy: RetryPolicy,
    task: str,
    attempt: Callable[[float], Awaitable[T]],
    jitter: random.Random,
) -> T:
    """`attempt(deadline)` until it succeeds; transient errors and 429s tried again, bounded
    by attempts and by the deadline (loop time), which limiter waits count against too."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + policy.max_elapsed_s
    transient = rate_limited = 0
    while True:
        try:
            return await attempt(deadline)
        except RateLimited as exc:
            rate_limited += 1
            if rate_limited >= policy.rate_limited_attempts:
                raise _gave_up(exc, task, f"{rate_limited} rate-limited attempts") from None
            wait = jitter.uniform(0, policy.rate_limited_jitter_s)
            error: ProviderError = exc
        except TransientError as exc:
            transient += 1
            if transient >= policy.transient_attempts:
                raise
            wait = policy.transient_wait(transient, jitter)
            error = exc
        if loop.time() + wait >= deadline:
            spent = f"{loop.time() - started:.1f} s, the call's time limit"
            raise _gave_up(error, task, spent) from None
        scope.emit(
            "llm.retry",
            task=task,
            reason=type(error).__name__,
            attempt=transient + rate_limited,
            wait_s=round(wait, 3),
        )
        log.info("task %r: %s, retrying in %.2fs", task, error, wait)
        await asyncio.sleep(wait)


def _gave_up(error: ProviderError, task: str, why: str) -> ProviderError:
    """The last error of a call that is given up, saying why (same class, so it is handled the
    same way above)."""
    message = f"task {task!r}: gave up after {why}: {error}"
    if isinstance(error, RateLimited):
        return RateLimited(message, retry_after=error.retry_after, key_id=error.key_id)
    return type(error)(message)


class LoopEvent:
    """An `asyncio.Event` for the running loop (an LLM may serve several runs, one loop each):
    `set` wakes every waiter once."""

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._event is None or self._loop is not loop:
            self._event, self._loop = asyncio.Event(), loop
        return self._event

    def set(self) -> None:
        event = self._get()
        event.set()
        self._event = asyncio.Event()  # later waiters wait for the next `set`

    async def wait(self) -> None:
        await self._get().wait()
