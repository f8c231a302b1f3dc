"""Client-side pacing: a sliding-window log per key and limit (known, announced or learned from
429s), and the token-estimate ratio.

A per-minute limit is often enforced over shorter periods in proportion (OpenAI documents that
600 rpm may be enforced as 10 requests a second). A token bucket with a one-second burst admits
up to burst + rate x 1 s in one second, about twice that; a sliding-window log admits at most
its allowance in any window of its length, and so at most rpm in any minute too. The limiter
keeps one per key and per limit; entries are stamped when granted, and a window a little longer
than a second absorbs the jitter between our grant and the server's arrival.
"""

from __future__ import annotations

import math
from collections import deque

from phasefarm.errors import UsageError

__all__ = ["MARGIN", "MAX_MARGIN", "WINDOW_S", "EstimateRatio", "SlidingWindow"]

# The shortest period a per-minute limit is assumed to be enforced over.
WINDOW_S = 1.0
# Our window is longer than the server's by a margin for the time between our grant and the
# server's arrival, which varies from call to call. It starts at 1 %; each 429 episode the
# window let through widens it by how early that request was (its Retry-After), at least 0.1 %
# and at most 1 % at a time, up to 5 %; the key narrows it back by 1 % after `PROBE_S` of full
# use without a 429. Measured with `phasefarm bench ratelimit` on a loaded machine: a fixed 1 %
# drew 12 to 30 429s in 400 calls, a fixed 3 % none but cost 2 points of the rate, and a margin
# that only widened reached 5 % after one 429 of the cold start.
MARGIN = 0.01
MAX_MARGIN = 0.05


class SlidingWindow:
    """At most `capacity` units granted in any window of `window_s` seconds.

    `for_limit` makes one for a per-minute limit: a second's share of it, rounded down to
    whole units; a limit under one unit a second gets one unit per 60 / per_minute seconds
    instead (even pacing). The window is `period_s` plus the jitter margin. Like the buckets
    before it, a request larger than the allowance passes when the window is empty, so one big
    prompt cannot block a key forever. Entries are kept one window longer than they count, so
    what was granted just before a 429 can still be counted when the 429 comes back.
    """

    __slots__ = ("capacity", "entries", "margin", "period_s", "window_s")

    def __init__(self, capacity: float, period_s: float = WINDOW_S) -> None:
        if capacity <= 0 or period_s <= 0:
            raise UsageError("rate limits must be positive")
        self.capacity = float(capacity)
        self.period_s = period_s
        self.margin = MARGIN
        self.window_s = period_s * (1.0 + self.margin)
        # [stamp, amount, tag], stamps ascending (grants are stamped with a clock that only
        # moves forward, and `hold` and `restamp` keep the order).
        self.entries: deque[list[float]] = deque()

    @classmethod
    def for_limit(cls, per_minute: float, *, window_s: float = WINDOW_S) -> SlidingWindow:
        if per_minute <= 0:
            raise UsageError("rate limits must be positive")
        allowance = math.floor(per_minute * window_s / 60.0)
        if allowance < 1:
            allowance, window_s = 1, 60.0 / per_minute
        return cls(allowance, window_s)

    def resize(self, capacity: float, period_s: float) -> None:
        """A new allowance (a limit learned again); what was granted still counts."""
        self.capacity = float(capacity)
        self.period_s = period_s
        self.window_s = period_s * (1.0 + self.margin)

    def widen(self, early_s: float) -> None:
        """The server refused what this window allowed, `early_s` seconds too early (its
        Retry-After): a margin wider by about that much, for arrival jitter."""
        step = min(MARGIN, max(0.001, early_s / self.period_s))
        self._set_margin(min(MAX_MARGIN, self.margin + step))

    def narrow(self) -> None:
        """No 429 for a while at full use: back towards the least margin."""
        self._set_margin(max(MARGIN, self.margin - MARGIN))

    def _set_margin(self, margin: float) -> None:
        self.margin = margin
        self.window_s = self.period_s * (1.0 + margin)

    @property
    def rate(self) -> float:
        """Units per second in the long run."""
        return self.capacity / self.window_s

    def _expire(self, now: float) -> None:
        while self.entries and self.entries[0][0] <= now - 2 * self.window_s:
            self.entries.popleft()

    def _live(self, now: float) -> list[list[float]]:
        self._expire(now)
        return [entry for entry in self.entries if entry[0] > now - self.window_s]

    def used(self, now: float) -> float:
        return sum(entry[1] for entry in self._live(now))

    def free(self, now: float) -> float:
        return self.capacity - self.used(now)

    def can_take(self, amount: float, now: float) -> bool:
        used = self.used(now)
        return used <= 0 or used + amount <= self.capacity

    def take(self, amount: float, now: float, tag: int = -1) -> None:
        self._expire(now)
        self.entries.append([now, float(amount), float(tag)])

    def settle(self, tag: int, amount: float) -> None:
        """The real amount of the grant `tag` (reserved from an estimate), if still kept."""
        for entry in self.entries:
            if entry[2] == tag:
                entry[1] = float(max(0.0, amount))
                return

    def counted_before(self, tag: int, since: float) -> int:
        """Grants before `tag`, stamped after `since`, that still count (not refused)."""
        return sum(1 for stamp, units, t in self.entries if t < tag and stamp > since and units)

    def restamp(self, tag: int, now: float) -> None:
        """The grant `tag` counts from `now` (it reached the server at some time before now)."""
        for entry in self.entries:
            if entry[2] == tag and entry[0] < now:
                entry[0] = now
                self.entries = deque(sorted(self.entries))
                return

    def hold(self, now: float) -> None:
        """Nothing granted so far starts to expire before `now` (the key's first answer: the
        server counts from its first arrival, which can be much later than our first grant)."""
        for entry in self.entries:
            entry[0] = max(entry[0], now)

    def ready_at(self, amount: float, now: float) -> float:
        """When `can_take(amount)` becomes true, assuming nothing else is granted."""
        live = self._live(now)
        used = sum(entry[1] for entry in live)
        if used <= 0 or used + amount <= self.capacity:
            return now
        for stamp, units, _ in live:  # the oldest leave first
            used -= units
            if used <= 0 or used + amount <= self.capacity:
                return stamp + self.window_s
        return now


class EstimateRatio:
    """How many tokens the server counts per token we estimated, learned from usage.

    Our estimate (about four characters a token) is not the server's tokenizer; a tpm limit is
    only met when reservations are close to what the server will count. Each answered call
    gives a sample used / estimated: a larger one is adopted at once (a low estimate draws
    429s), a smaller one moves the ratio a fifth of the way (a high one only wastes a little).
    Bounded to [MIN, MAX] so one odd answer cannot stall or flood a key.
    """

    MIN = 0.2
    MAX = 4.0
    _STEP = 0.2

    def __init__(self) -> None:
        self.value = 1.0
        self.samples = 0

    def scale(self, estimate: int) -> int:
        return math.ceil(estimate * self.value) if estimate > 0 else 0

    def observe(self, estimated: int, used: int) -> None:
        if estimated <= 0 or used <= 0:
            return
        sample = min(self.MAX, max(self.MIN, used / estimated))
        if self.samples == 0 or sample > self.value:
            self.value = sample
        else:
            self.value += self._STEP * (sample - self.value)
        self.samples += 1
