"""One API key's pacing: its windows, its block after a 429, and what it learns.

`KeyState` holds everything the shared limiter (`llm/limiter.py`) knows about one key, and
decides for that key alone: can it take a call now, when could it, what does a grant, an answer
or a 429 change. The limiter only chooses among keys and makes callers wait.

How a key is paced:

- limits known (`rpm` / `tpm` given) or announced by the server (`x-ratelimit-limit-*`, as
  OpenAI sends): a `SlidingWindow` per limit, a second's share of it in any window of a little
  over a second;
- limits unknown: until the key's first 429, an AIMD concurrency window (grows by 1/window per
  success, halves once per congestion episode, as TCP does) while a window without a limit
  records the grants. A 429 means the server's window was full when that request arrived; the
  requests it accepted just before, within one window, are its allowance. From then on the key
  is paced by a `SlidingWindow` of that allowance, the same pacing as a known limit. After
  `PROBE_S` seconds of full use without a 429 the allowance grows by one request, a probe for
  spare capacity that costs one 429 when there is none (and takes it back). Any other 429
  measures the allowance again, unless the window was full: then, as under known limits, it
  was arrival jitter and widens the margin (until the margin is at its widest). A server that
  refuses even one request a window gets a longer window (down to `MIN_RATE`).

A 429 also blocks the key until its Retry-After; the other keys go on. A 429 that a known or
announced window let through widens its jitter margin (`SlidingWindow.widen`); `PROBE_S` of
full use without one narrows it again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from phasefarm.llm.provider import ServerLimits
from phasefarm.llm.window import MAX_MARGIN, WINDOW_S, SlidingWindow

__all__ = ["MIN_RATE", "PROBE_S", "KeyState"]

# A learned pace never falls below this (6 rpm: at most 10 s between two requests on a key).
MIN_RATE = 0.1  # requests per second
# Seconds of full use without a 429 before a learned allowance grows by one request.
PROBE_S = 4.0


@dataclass
class KeyState:
    key_id: str
    # A window per limit, known or announced; for unknown limits a window that records grants
    # (no limit) until the first 429, then one of the allowance learned from 429s.
    requests: SlidingWindow | None
    tokens: SlidingWindow | None
    window: float  # adaptive concurrency window (AIMD) until a first 429, limits unknown
    probing: bool = False  # limits unknown and not announced: learning from 429s
    in_flight: int = 0
    blocked_until: float = 0.0
    # A key's windows free up only once a first answer came back: the server starts counting
    # at the first arrival, which can be far later than our first grant (cold connections,
    # imports), and the rest of the burst then arrives bunched together.
    warm: bool = False
    # Grants up to this sequence number were made before the first answer: each counts from its
    # own answer, since a cold burst reaches the server spread out over a long time.
    cold_seq: int = 0
    # Limits the server announced for this key (x-ratelimit-limit-*): windows pace it then.
    learned: ServerLimits | None = None
    granted: int = 0
    rate_limited: int = 0
    # When a window was last learned, grown, widened or narrowed, and the latest grant that
    # filled one (windows change only after full use).
    changed_at: float = -math.inf
    full_at: float = -math.inf
    probed: bool = False  # a learned allowance grew by one since the last 429
    set_aside: bool = False  # the server refused the key (401/403): not used again this run

    @classmethod
    def create(
        cls, key_id: str, *, rpm: float | None, tpm: float | None, probing: bool, window: float
    ) -> KeyState:
        requests = SlidingWindow.for_limit(rpm) if rpm is not None else None
        if requests is None and probing:
            requests = SlidingWindow(math.inf)  # records grants; paced once a 429 teaches
        tokens = SlidingWindow.for_limit(tpm) if tpm is not None else None
        return cls(key_id, requests, tokens, window=window, probing=probing)

    @property
    def searching(self) -> bool:
        """Limits unknown and no 429 yet: the AIMD window bounds calls in flight."""
        return self.probing and (self.requests is None or math.isinf(self.requests.capacity))

    @property
    def rate(self) -> float | None:
        """The server's requests per second as learned from 429s (our pace keeps a margin
        under it), None when not learned."""
        if not self.probing or self.searching or self.requests is None:
            return None
        return self.requests.capacity / self.requests.period_s

    def _pacers(self) -> list[SlidingWindow]:
        return [w for w in (self.requests, self.tokens) if w is not None]

    def freeze_if_cold(self, now: float) -> None:
        if not self.warm:
            for pacer in self._pacers():
                pacer.hold(now)

    def _concurrency_full(self) -> bool:
        return self.searching and self.in_flight >= max(1, int(self.window))

    def available(self, tokens: int, now: float) -> bool:
        self.freeze_if_cold(now)
        if self.set_aside or self.blocked_until > now or self._concurrency_full():
            return False
        if self.requests is not None and not self.requests.can_take(1, now):
            return False
        return self.tokens is None or self.tokens.can_take(tokens, now)

    def ready_at(self, tokens: int, now: float) -> float | None:
        """When the key could take the call; None when only a release can free it."""
        if self.set_aside or self._concurrency_full():
            return None
        self.freeze_if_cold(now)
        at = max(now, self.blocked_until)
        if not self.warm and (
            (self.requests is not None and not self.requests.can_take(1, now))
            or (self.tokens is not None and not self.tokens.can_take(tokens, now))
        ):
            return None  # no refill before the first answer: wait for a release
        if self.requests is not None:
            at = max(at, self.requests.ready_at(1, now))
        if self.tokens is not None:
            at = max(at, self.tokens.ready_at(tokens, now))
        return at

    def headroom(self, now: float) -> float:
        if self.searching:
            return 1.0 - self.in_flight / max(1.0, self.window)
        if self.requests is not None:
            return self.requests.free(now) / self.requests.capacity
        if self.tokens is not None:
            return self.tokens.free(now) / self.tokens.capacity
        return -float(self.in_flight)

    def grant(self, tokens: int, now: float, seq: int) -> None:
        if self.requests is not None:
            self.requests.take(1, now, seq)
            if not self.requests.can_take(1, now):
                self.full_at = now
        if self.tokens is not None:
            self.tokens.take(tokens, now, seq)
            if not self.tokens.can_take(tokens, now):
                self.full_at = now
        self.in_flight += 1
        self.granted += 1

    def answered(self, seq: int, now: float, last_seq: int) -> None:
        """An answer (or a refusal) for grant `seq` came back at `now`."""
        self.freeze_if_cold(now)
        if not self.warm:
            self.warm, self.cold_seq = True, last_seq
        if seq <= self.cold_seq:
            for pacer in self._pacers():
                pacer.restamp(seq, now)
        self.in_flight -= 1

    def settle(self, seq: int, used_tokens: int | None, *, refused: bool) -> None:
        if refused and self.requests is not None:
            self.requests.settle(seq, 0)  # a refused request is not counted
        if used_tokens is not None and self.tokens is not None:
            self.tokens.settle(seq, used_tokens)

    def refused(self, seq: int, granted_at: float, now: float, block_s: float) -> None:
        """A 429 for grant `seq`: block the key, and learn once per congestion episode."""
        self.rate_limited += 1
        if self.blocked_until <= granted_at:  # the first 429 of this episode
            self.window = max(1.0, self.window / 2.0)
            if self.probing:
                self._learn_allowance(seq, granted_at, now, block_s)
            else:  # the windows let through what the server refused: arrival jitter
                for pacer in self._pacers():
                    pacer.widen(block_s)
                self.changed_at = now
        self.blocked_until = max(self.blocked_until, now + block_s)

    def _learn_allowance(self, seq: int, granted_at: float, now: float, early_s: float) -> None:
        """The server's window was full when grant `seq` arrived: the grants it accepted within
        one window before are its allowance. It never grows here (probes grow it). A 429 on a
        full window that was not just probed is arrival jitter, as under known limits: the
        margin widens (by `early_s`, the Retry-After) before the allowance is doubted."""
        window = self.requests
        if window is None:
            return
        accepted = window.counted_before(seq, granted_at - window.window_s)
        probed, self.probed = self.probed, False
        self.changed_at = now
        if math.isinf(window.capacity):
            window.resize(max(1, accepted), WINDOW_S)
        elif accepted == 0 and window.capacity <= 1:
            window.resize(1, min(2 * window.period_s, 1.0 / MIN_RATE))  # not one a window
        elif not probed and accepted >= window.capacity - 1 and window.margin < MAX_MARGIN:
            window.widen(early_s)
        else:
            window.resize(max(1, min(window.capacity - 1, accepted)), window.period_s)

    def succeeded(self, now: float, max_window: float) -> None:
        """A call answered: the AIMD window grows. After `PROBE_S` seconds of full use without
        a 429 the jitter margins narrow, and a learned allowance grows by one request (or its
        window shrinks back)."""
        self.window = min(max_window, self.window + 1.0 / max(1.0, self.window))
        if self.searching or self.full_at <= self.changed_at or now - self.changed_at < PROBE_S:
            return
        self.changed_at = now
        for pacer in self._pacers():
            pacer.narrow()
        window = self.requests
        if not self.probing or window is None:
            return
        if window.period_s > WINDOW_S:
            window.resize(window.capacity, max(WINDOW_S, window.period_s / 2))
        else:
            window.resize(window.capacity + 1, window.period_s)
            self.probed = True

    def adopt(self, limits: ServerLimits, now: float) -> None:
        """Limits the server announced for this key: windows for them from now on (what the
        server says remains fills them at once), no more learning from 429s."""
        if self.learned == limits:
            return
        known = self.learned
        if limits.rpm and (known is None or known.rpm != limits.rpm):
            requests = SlidingWindow.for_limit(limits.rpm)
            if self.probing and self.requests is not None:
                requests.entries = self.requests.entries  # what was granted still counts
            else:
                requests.take(self.in_flight, now)  # granted, not yet counted by the server
            if limits.remaining_requests is not None:
                server_used = requests.capacity - limits.remaining_requests
                requests.take(max(0.0, server_used - requests.used(now)), now)
            self.requests = requests
        elif self.probing and not limits.rpm:
            self.requests = None  # nothing announced for requests: nothing learned either
        if limits.tpm and (known is None or known.tpm != limits.tpm):
            tokens = SlidingWindow.for_limit(limits.tpm)
            if limits.remaining_tokens is not None:
                tokens.take(max(0.0, tokens.capacity - limits.remaining_tokens), now)
            self.tokens = tokens
        self.probing = False
        self.learned = ServerLimits(rpm=limits.rpm, tpm=limits.tpm)
