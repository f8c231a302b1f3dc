"""One rate limiter per run, shared by every phase: it chooses a key for each call and makes
callers wait, first come, first served.

All state lives in one `RateLimiter` object behind two async methods, `acquire` and `release`,
so a Ray actor can hold it and every worker share it. Each API key (known only by its masked
id, "key#1") is paced by its own `KeyState` (`llm/key_pacing.py`: windows for known, announced
or learned limits, the block after a 429, AIMD before a first 429); the limiter adds what is
shared: the choice of key (the one with most headroom), FIFO waiting, a global concurrency cap,
and the token-estimate ratio (`EstimateRatio`: our estimate scaled by what servers reported, so
a server whose tokenizer counts more than our four characters a token still sees its tpm met).

Waiting is reported with `phasefarm.scope.emit("limiter.wait", key=..., seconds=...)` in the
caller's phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from phasefarm import scope
from phasefarm.errors import FatalError, RateLimited, UsageError
from phasefarm.llm.key_pacing import MIN_RATE, KeyState
from phasefarm.llm.provider import ServerLimits
from phasefarm.llm.window import EstimateRatio

__all__ = [
    "MAX_BLOCK_S",
    "MIN_RATE",
    "KeyState",
    "Lease",
    "Limiter",
    "LimiterStats",
    "RateLimiter",
]

_DEFAULT_BLOCK_S = 1.0  # a 429 that says nothing about when to come back
# No block is longer than this (a larger Retry-After is cut), so a server that only ever answers
# 429 cannot stretch a call without end; a caller's own time limit bounds the whole wait
# (`acquire(timeout=...)`). Learned paces have a floor too (`MIN_RATE`).
MAX_BLOCK_S = 60.0


@dataclass(frozen=True)
class Lease:
    """Permission for one call on one key. Give it back with `release`."""

    key_id: str
    tokens: int  # reserved: the estimate, scaled by the learned ratio
    granted_at: float
    waited_s: float
    estimated: int = 0  # the caller's estimate, unscaled
    seq: int = 0  # identifies the grant in the key's windows


class Limiter(Protocol):
    """What the LLM client needs of a limiter: `RateLimiter` in one process, and
    `phasefarm.backends.ray_limiter.SharedLimiter` for a Ray cluster (which holds a
    `RateLimiter` in one named actor)."""

    @property
    def stats(self) -> LimiterStats: ...

    @property
    def usable_keys(self) -> list[str]: ...

    async def acquire(self, tokens: int = 0, *, timeout: float | None = None) -> Lease: ...

    def set_aside(self, key_id: str) -> bool: ...

    async def release(
        self,
        lease: Lease,
        *,
        used_tokens: int | None = None,
        rate_limited: bool = False,
        retry_after: float | None = None,
        ok: bool = True,
        limits: ServerLimits | None = None,
    ) -> None: ...


@dataclass(frozen=True)
class LimiterStats:
    granted: int
    rate_limited: int  # 429s reported back
    waits: int  # acquires that had to wait
    waited_s: float
    windows: dict[str, float]  # adaptive concurrency window per key
    rates: dict[str, float | None] = field(default_factory=dict)  # rpm learned from 429s
    token_ratio: float = 1.0  # server-counted tokens per estimated token, learned


class RateLimiter:
    """Shared limiter over a pool of keys. `rpm`/`tpm` are per key; None means unknown."""

    def __init__(
        self,
        key_ids: Sequence[str],
        *,
        rpm: float | None = None,
        tpm: float | None = None,
        adaptive: bool | None = None,
        initial_window: float = 2.0,
        max_window: float = 256.0,
        max_concurrency: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not key_ids:
            raise UsageError("the limiter needs at least one key")
        if (rpm is not None and rpm <= 0) or (tpm is not None and tpm <= 0):
            raise UsageError("rpm and tpm must be positive")
        self._clock = clock
        self._ratio = EstimateRatio()
        self._seq = 0
        self.rpm = rpm
        self.tpm = tpm
        # Without known limits we learn from 429s; with them, windows alone pace the calls.
        self.adaptive = (rpm is None and tpm is None) if adaptive is None else adaptive
        self._max_window = max_window
        self._max_concurrency = max_concurrency
        self._keys = {
            key_id: KeyState.create(
                key_id, rpm=rpm, tpm=tpm, probing=self.adaptive, window=initial_window
            )
            for key_id in key_ids
        }
        self._order = list(self._keys)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turn = asyncio.Lock()  # FIFO: the first caller waiting is served first
        self._changed = asyncio.Event()
        self._in_flight = 0
        self._granted = 0
        self._rate_limited = 0
        self._waits = 0
        self._waited_s = 0.0

    def __repr__(self) -> str:
        return (
            f"RateLimiter(keys={self._order}, rpm={self.rpm}, tpm={self.tpm}, "
            f"adaptive={self.adaptive})"
        )

    @property
    def key_ids(self) -> list[str]:
        return list(self._order)

    def key_state(self, key_id: str) -> KeyState:
        return self._keys[key_id]

    @property
    def stats(self) -> LimiterStats:
        return LimiterStats(
            granted=self._granted,
            rate_limited=self._rate_limited,
            waits=self._waits,
            waited_s=self._waited_s,
            windows={k: s.window for k, s in self._keys.items()},
            rates={
                k: None if (rate := s.rate) is None else round(rate * 60, 1)
                for k, s in self._keys.items()
            },
            token_ratio=self._ratio.value,
        )

    def set_aside(self, key_id: str) -> bool:
        """Stop using a key for the rest of the run (the server refused it). True the first
        time; waiting callers are woken so they move to another key, or fail if none is left."""
        state = self._keys[key_id]
        if state.set_aside:
            return False
        state.set_aside = True
        self._changed.set()
        return True

    @property
    def usable_keys(self) -> list[str]:
        return [k for k, s in self._keys.items() if not s.set_aside]

    def _bind(self) -> None:
        """asyncio primitives belong to one loop; a limiter reused by a later run gets new ones."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._turn = asyncio.Lock()
            self._changed = asyncio.Event()

    async def acquire(self, tokens: int = 0, *, timeout: float | None = None) -> Lease:
        """Wait until some key has headroom for one call of about `tokens` tokens.

        `timeout` (seconds on the limiter's clock, the wait for the turn included) bounds the
        wait: `RateLimited` when no key could take the call in time. `FatalError` when every
        key was set aside.
        """
        start = self._clock()
        self._bind()
        estimated = tokens
        async with self._turn:
            while True:
                now = self._clock()
                tokens = self._ratio.scale(estimated)  # with what was learned while waiting
                if not self.usable_keys:
                    raise FatalError(
                        "every API key was refused by the server (401/403): "
                        f"{', '.join(self._order)}; check OPENAI_API_KEY"
                    )
                if timeout is not None and now - start >= timeout:
                    raise RateLimited(
                        f"no API key could take a call within {timeout:.1f} s "
                        "(rate limited; the call's time limit)"
                    )
                global_ok = self._max_concurrency is None or self._in_flight < self._max_concurrency
                candidates = (
                    [s for s in self._keys.values() if s.available(tokens, now)]
                    if global_ok
                    else []
                )
                if candidates:
                    state = max(candidates, key=lambda s: s.headroom(now))
                    break
                wake = [
                    at
                    for s in self._keys.values()
                    if global_ok and (at := s.ready_at(tokens, now)) is not None
                ]
                sleep = max(0.0, min(wake) - now) if wake else None
                if timeout is not None:
                    left = max(0.0, start + timeout - now)
                    sleep = left if sleep is None else min(sleep, left)
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), sleep)
            self._seq += 1
            state.grant(tokens, now, self._seq)
            self._in_flight += 1
            self._granted += 1
        waited = max(0.0, now - start)
        if waited > 0.001:
            self._waits += 1
            self._waited_s += waited
            scope.emit("limiter.wait", key=state.key_id, seconds=round(waited, 4))
        return Lease(
            key_id=state.key_id,
            tokens=tokens,
            granted_at=now,
            waited_s=waited,
            estimated=estimated,
            seq=self._seq,
        )

    async def release(
        self,
        lease: Lease,
        *,
        used_tokens: int | None = None,
        rate_limited: bool = False,
        retry_after: float | None = None,
        ok: bool = True,
        limits: ServerLimits | None = None,
    ) -> None:
        """Give the lease back: the real token usage, or the 429 and how long to stay away.

        A call that failed for another reason (`ok=False`) keeps its reservation; a call that
        never reached the server should still be released, with `used_tokens=0`. `limits` are
        the key's limits as the server announced them in its answer, if it did (limits given
        to the limiter win over announced ones).
        """
        now = self._clock()
        state = self._keys[lease.key_id]
        state.answered(lease.seq, now, self._seq)
        self._in_flight -= 1
        state.settle(lease.seq, used_tokens, refused=rate_limited)
        if used_tokens is not None and ok and not rate_limited:
            self._ratio.observe(lease.estimated, used_tokens)
        if limits is not None and self.rpm is None and self.tpm is None:
            state.adopt(limits, now)
        if rate_limited:
            self._rate_limited += 1
            wait = _DEFAULT_BLOCK_S if retry_after is None else max(0.0, retry_after)
            state.refused(lease.seq, lease.granted_at, now, min(wait, MAX_BLOCK_S))
        elif ok:
            state.succeeded(now, self._max_window)
        self._changed.set()
