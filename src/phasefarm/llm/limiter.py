"""One rate limiter per run, shared by every phase: rpm and tpm per key, Retry-After, AIMD.

All state lives in one `RateLimiter` object behind two async methods, `acquire` and `release`,
so a Ray actor can later hold it and every worker share it. Per API key (known only by its masked
id, "key#1") it keeps:

- a request window and a token window (`SlidingWindow`: at most a second's share of the
  per-minute limit in any window of a little over a second, so no server window of that
  length, or of a minute, sees more than its limit) when `rpm` / `tpm` are known; tokens are
  reserved from an estimate before the call and reconciled with the real usage after it. The
  estimate is scaled by the ratio of the usage servers reported to what was estimated
  (`EstimateRatio`, bounded), so a server whose tokenizer counts more than our four characters
  a token still sees its tpm met;
- `blocked_until`: after a 429 no request goes to that key before Retry-After (or the
  `x-ratelimit-reset-*` time) has passed; the other keys go on;
- when limits are unknown, a concurrency window that grows by 1/window per success and halves
  on a 429 (AIMD, as TCP does) until the key's first 429. From then on the key is paced by a
  request rate learned from its 429s (see `_learn_rate`): a 429 means the server's bucket was
  empty when that request arrived, so the requests it accepted between two 429s, divided by
  the time between them, are its rate give or take one request. The key is paced a little
  under that and probes upward slowly, so it meets a 429 now and then instead of once per
  call; requests resume one at a time when a block lifts, not as a burst;
- when the server announces a key's limits in its answers (`x-ratelimit-limit-requests/tokens`,
  as OpenAI does), that key gets windows for them instead.

Callers are served first come, first served. Waiting is reported with
`phasefarm.scope.emit("limiter.wait", key=..., seconds=...)` in the caller's phase.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from phasefarm import scope
from phasefarm.errors import FatalError, RateLimited, UsageError
from phasefarm.llm.provider import ServerLimits
from phasefarm.llm.window import WINDOW_S, EstimateRatio, SlidingWindow, TokenBucket

__all__ = [
    "MAX_BLOCK_S",
    "MIN_RATE",
    "KeyState",
    "Lease",
    "Limiter",
    "LimiterStats",
    "RateLimiter",
    "TokenBucket",
]

_DEFAULT_BLOCK_S = 1.0  # a 429 that says nothing about when to come back
# Bounds, so a server that only ever answers 429 cannot stretch a call without end: no block
# is longer than this (a larger Retry-After is cut), and a learned rate never falls below this
# (6 rpm: at most 10 s between two requests on a key). A caller's own time limit bounds the
# whole wait (`acquire(timeout=...)`).
MAX_BLOCK_S = 60.0
MIN_RATE = 0.1  # requests per second

# Learning a key's request rate from its 429s (limits unknown). Counts between two 429s are
# exact to one request, so a sample of TRUSTED_COUNT accepted requests is within 1/16 of the
# rate; pacing at RATE_MARGIN of it leaves room for that and for arrival jitter.
_RATE_HORIZON_S = 60.0  # grants and 429s older than this are forgotten
_TRUSTED_COUNT = 16
_RATE_MARGIN = 0.95
# Growth of the paced rate, as a fraction per second while calls keep succeeding: slow once the
# rate is known (a probe for spare capacity, one 429 every several seconds at most), fast while
# still searching for it after the first 429.
_PROBE_GROWTH = 0.01
_SEARCH_GROWTH = 0.25


@dataclass
class KeyState:
    key_id: str
    # A window for known or announced limits; a bucket of one request for a rate learned
    # from 429s.
    requests: SlidingWindow | TokenBucket | None
    tokens: SlidingWindow | None
    window: float  # adaptive concurrency window (AIMD); used when limits are unknown
    in_flight: int = 0
    blocked_until: float = 0.0
    # A key's windows and buckets free up only once a first answer came back: the server
    # starts counting at the first arrival, which can be far later than our first grant (cold
    # connections, imports), and the rest of the burst then arrives bunched together.
    warm: bool = False
    # Grants up to this sequence number were made before the first answer: each counts from its
    # own answer, since a cold burst reaches the server spread out over a long time.
    cold_seq: int = 0
    # Limits the server announced for this key (x-ratelimit-limit-*): windows pace it then,
    # not the AIMD window.
    learned: ServerLimits | None = None
    granted: int = 0
    rate_limited: int = 0
    # Limits unknown: requests per second learned from 429s (None before the first one), and
    # whether it came from a sample large enough to trust. Pacing is then `requests`.
    rate: float | None = None
    rate_trusted: bool = False
    sent: list[float] = field(default_factory=list)  # grant times, ascending
    refused: list[float] = field(default_factory=list)  # grant times of 429s, ascending
    set_aside: bool = False  # the server refused the key (401/403): not used again this run


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
        window_s: float = WINDOW_S,
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
        if window_s <= 0:
            raise UsageError("window_s must be positive")
        self._clock = clock
        self._window_s = window_s
        self._ratio = EstimateRatio()
        self._seq = 0
        self.rpm = rpm
        self.tpm = tpm
        # Without known limits we probe with AIMD; with them, windows alone pace the calls.
        self.adaptive = (rpm is None and tpm is None) if adaptive is None else adaptive
        self._max_window = max_window
        self._max_concurrency = max_concurrency
        self._keys: dict[str, KeyState] = {}
        for key_id in key_ids:
            requests = self._window(rpm) if rpm is not None else None
            tokens = self._window(tpm) if tpm is not None else None
            self._keys[key_id] = KeyState(key_id, requests, tokens, window=initial_window)
        self._order = list(self._keys)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._turn = asyncio.Lock()  # FIFO: the first caller waiting is served first
        self._changed = asyncio.Event()
        self._in_flight = 0
        self._granted = 0
        self._rate_limited = 0
        self._waits = 0
        self._waited_s = 0.0

    def _window(self, per_minute: float) -> SlidingWindow:
        return SlidingWindow(per_minute, window_s=self._window_s)

    def _probing(self, state: KeyState) -> bool:
        """Limits unknown and not announced: the key learns from its 429s."""
        return self.adaptive and state.learned is None

    def _paced_by_window(self, state: KeyState) -> bool:
        return self._probing(state) and state.rate is None

    def _learn(self, state: KeyState, limits: ServerLimits, now: float) -> None:
        """Adopt limits the server announced for a key whose limits we were not given."""
        if state.learned == limits or (self.rpm is not None or self.tpm is not None):
            return
        known = state.learned
        if limits.rpm and (known is None or known.rpm != limits.rpm):
            requests = self._window(limits.rpm)
            if limits.remaining_requests is not None:
                requests.take(max(0.0, requests.capacity - limits.remaining_requests), now)
            requests.take(state.in_flight, now)  # granted, not yet counted by the server
            state.requests = requests
        if limits.tpm and (known is None or known.tpm != limits.tpm):
            tokens = self._window(limits.tpm)
            if limits.remaining_tokens is not None:
                tokens.take(max(0.0, tokens.capacity - limits.remaining_tokens), now)
            state.tokens = tokens
        if state.rate is not None:  # announced limits replace the rate learned from 429s
            if not limits.rpm:
                state.requests = None
            state.rate = None
        state.sent.clear()  # no more learning from 429s for this key
        state.refused.clear()
        state.learned = ServerLimits(rpm=limits.rpm, tpm=limits.tpm)

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
                k: None if s.rate is None else round(s.rate * 60, 1) for k, s in self._keys.items()
            },
            token_ratio=self._ratio.value,
        )

    def _freeze_if_cold(self, state: KeyState, now: float) -> None:
        if not state.warm:
            for pacer in (state.requests, state.tokens):
                if pacer is not None:
                    pacer.hold(now)

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

    def _available(self, state: KeyState, tokens: int, now: float) -> bool:
        self._freeze_if_cold(state, now)
        if state.set_aside or state.blocked_until > now:
            return False
        if self._paced_by_window(state) and state.in_flight >= max(1, int(state.window)):
            return False
        if state.requests is not None and not state.requests.can_take(1, now):
            return False
        return state.tokens is None or state.tokens.can_take(tokens, now)

    def _ready_at(self, state: KeyState, tokens: int, now: float) -> float | None:
        """When the key could take the call; None when only a release can free it."""
        if state.set_aside:
            return None
        if self._paced_by_window(state) and state.in_flight >= max(1, int(state.window)):
            return None
        self._freeze_if_cold(state, now)
        at = max(now, state.blocked_until)
        if not state.warm and (
            (state.requests is not None and not state.requests.can_take(1, now))
            or (state.tokens is not None and not state.tokens.can_take(tokens, now))
        ):
            return None  # no refill before the first answer: wait for a release
        if state.requests is not None:
            at = max(at, state.requests.ready_at(1, now))
        if state.tokens is not None:
            at = max(at, state.tokens.ready_at(tokens, now))
        return at

    def _headroom(self, state: KeyState) -> float:
        if self._paced_by_window(state):
            return 1.0 - state.in_flight / max(1.0, state.window)
        now = self._clock()
        if state.requests is not None:
            return state.requests.free(now) / state.requests.capacity
        if state.tokens is not None:
            return state.tokens.free(now) / state.tokens.capacity
        return -float(state.in_flight)

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
                    [s for s in self._keys.values() if self._available(s, tokens, now)]
                    if global_ok
                    else []
                )
                if candidates:
                    state = max(candidates, key=self._headroom)
                    break
                wake = [
                    at
                    for s in self._keys.values()
                    if global_ok and (at := self._ready_at(s, tokens, now)) is not None
                ]
                sleep = max(0.0, min(wake) - now) if wake else None
                if timeout is not None:
                    left = max(0.0, start + timeout - now)
                    sleep = left if sleep is None else min(sleep, left)
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), sleep)
            self._seq += 1
            if state.requests is not None:
                state.requests.take(1, now, self._seq)
            if state.tokens is not None:
                state.tokens.take(tokens, now, self._seq)
            state.in_flight += 1
            state.granted += 1
            if self._probing(state):
                state.sent.append(now)
                if state.sent[0] < now - 2 * _RATE_HORIZON_S:
                    _forget(state, now)
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
        the key's limits as the server announced them in its answer, if it did.
        """
        now = self._clock()
        state = self._keys[lease.key_id]
        self._freeze_if_cold(state, now)
        if not state.warm:
            state.warm, state.cold_seq = True, self._seq
        if lease.seq <= state.cold_seq:
            for pacer in (state.requests, state.tokens):
                if isinstance(pacer, SlidingWindow):
                    pacer.restamp(lease.seq, now)
        state.in_flight -= 1
        self._in_flight -= 1
        if rate_limited and isinstance(state.requests, SlidingWindow):
            state.requests.settle(lease.seq, 0)  # a refused request is not counted
        if used_tokens is not None:
            if state.tokens is not None:
                state.tokens.settle(lease.seq, used_tokens)
            if ok and not rate_limited:
                self._ratio.observe(lease.estimated, used_tokens)
        if limits is not None:
            self._learn(state, limits, now)
        if rate_limited:
            state.rate_limited += 1
            self._rate_limited += 1
            probing = self._probing(state)
            if probing:
                insort(state.refused, lease.granted_at)
            if state.blocked_until <= lease.granted_at:
                # First 429 of this congestion episode: halve once, not once per call in flight.
                state.window = max(1.0, state.window / 2.0)
                if probing:
                    self._learn_rate(state, lease.granted_at, now)
            wait = _DEFAULT_BLOCK_S if retry_after is None else max(0.0, retry_after)
            wait = min(wait, MAX_BLOCK_S)
            state.blocked_until = max(state.blocked_until, now + wait)
        elif ok:
            state.window = min(self._max_window, state.window + 1.0 / max(1.0, state.window))
            learned = state.requests
            if state.rate is not None and isinstance(learned, TokenBucket) and self._probing(state):
                growth = _PROBE_GROWTH if state.rate_trusted else _SEARCH_GROWTH
                # + growth per success is `growth` per second at the paced rate.
                state.rate += growth
                learned.refill(now)
                learned.rate = state.rate
        self._changed.set()

    def _learn_rate(self, state: KeyState, refused_at: float, now: float) -> None:
        """A 429 for a call granted at `refused_at`: re-estimate the key's rate and pace it.

        The server refused that call because its bucket was empty; it was empty at every
        earlier 429 too, so the calls it accepted in between came from its refill alone. The
        latest earlier 429 with at least `_TRUSTED_COUNT` accepted calls since gives a sample
        that is fresh (a server whose limit dropped is followed quickly) and large enough. A
        smaller sample only bounds the cut: at most halve, at least a tenth. Before the key's
        first 429 there is no earlier one: the accepted calls since its first grant include the
        server's burst, so half their rate is the first guess.
        """
        _forget(state, now)
        end_sent = bisect_left(state.sent, refused_at)
        end_refused = bisect_left(state.refused, refused_at)
        sample: tuple[float, int] | None = None
        for mark in reversed(state.refused[:end_refused]):
            accepted = (end_sent - bisect_right(state.sent, mark)) - (
                end_refused - bisect_right(state.refused, mark)
            )
            sample = (accepted / (refused_at - mark), accepted)
            if accepted >= _TRUSTED_COUNT:
                break
        if state.rate is None:
            accepted = end_sent - end_refused
            if accepted < 1 or refused_at <= state.sent[0]:
                return  # nothing accepted yet: keep the window until something is
            rate = 0.5 * accepted / (refused_at - state.sent[0])
        elif sample is not None and sample[1] >= _TRUSTED_COUNT:
            rate = min(state.rate, sample[0]) * _RATE_MARGIN
            state.rate_trusted = True
        else:
            guess = sample[0] if sample is not None else 0.0
            rate = max(0.5 * state.rate, min(0.9 * state.rate, guess))
        rate = max(rate, MIN_RATE)
        state.rate = rate
        # The server's bucket was empty at `refused_at`; what it refilled since is taken by the
        # calls granted after that and not refused (in flight or answered). One call of burst,
        # so a lifted block releases callers one at a time.
        pending = (len(state.sent) - bisect_right(state.sent, refused_at)) - (
            len(state.refused) - bisect_right(state.refused, refused_at)
        )
        bucket = TokenBucket(rate, 1.0, now)
        bucket.level = min(1.0, rate * (now - refused_at) - pending)
        state.requests = bucket


def _forget(state: KeyState, now: float) -> None:
    """Drop grants and 429s older than the horizon of rate estimates."""
    horizon = now - _RATE_HORIZON_S
    del state.sent[: bisect_left(state.sent, horizon)]
    del state.refused[: bisect_left(state.refused, horizon)]
