"""Client-side pacing: a sliding-window log for known limits, a bucket for learned rates, and
the token-estimate ratio.

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

__all__ = ["WINDOW_S", "EstimateRatio", "SlidingWindow", "TokenBucket"]

# The shortest period a per-minute limit is assumed to be enforced over, plus 3 % for the time
# between our grant and the server's arrival (measured with `phasefarm bench ratelimit`).
WINDOW_S = 1.0
_JITTER_MARGIN = 0.03


class SlidingWindow:
    """At most `capacity` units granted in any `window_s` seconds, for a limit of `per_minute`.

    The allowance of one second is rounded down to whole units; a limit under one unit a second
    gets one unit per 60 / per_minute seconds instead (even pacing). Like the buckets before it,
    a request larger than the allowance passes when the window is empty, so one big prompt
    cannot block a key forever.
    """

    __slots__ = ("capacity", "entries", "window_s")

    def __init__(self, per_minute: float, *, window_s: float = WINDOW_S) -> None:
        if per_minute <= 0:
            raise UsageError("rate limits must be positive")
        allowance = math.floor(per_minute * window_s / 60.0)
        if allowance < 1:
            allowance, window_s = 1, 60.0 / per_minute
        self.capacity = float(allowance)
        self.window_s = window_s * (1.0 + _JITTER_MARGIN)
        # [stamp, amount, tag], stamps ascending (grants are stamped with a clock that only
        # moves forward, and `hold` keeps the order).
        self.entries: deque[list[float]] = deque()

    @property
    def rate(self) -> float:
        """Units per second in the long run."""
        return self.capacity / self.window_s

    def _expire(self, now: float) -> None:
        while self.entries and self.entries[0][0] <= now - self.window_s:
            self.entries.popleft()

    def used(self, now: float) -> float:
        self._expire(now)
        return sum(entry[1] for entry in self.entries)

    def free(self, now: float) -> float:
        return self.capacity - self.used(now)

    def can_take(self, amount: float, now: float) -> bool:
        used = self.used(now)
        return used <= 0 or used + amount <= self.capacity

    def take(self, amount: float, now: float, tag: int = -1) -> None:
        self._expire(now)
        self.entries.append([now, float(amount), float(tag)])

    def settle(self, tag: int, amount: float) -> None:
        """The real amount of the grant `tag` (reserved from an estimate), if still counted."""
        for entry in self.entries:
            if entry[2] == tag:
                entry[1] = float(max(0.0, amount))
                return

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
        used = self.used(now)
        if used <= 0 or used + amount <= self.capacity:
            return now
        for stamp, units, _ in self.entries:  # the oldest leave first
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


class TokenBucket:
    """A continuously refilled bucket: `rate` units per second up to `capacity`. It paces a key
    at a rate learned from 429s (capacity one request); known limits use `SlidingWindow`.

    A request larger than the capacity is let through when the bucket is full, leaving it in
    debt, so one big prompt cannot block a key forever. The fake server uses the same rule.
    """

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        if rate <= 0 or capacity <= 0:
            raise UsageError("rate limits must be positive")
        self.rate = rate
        self.capacity = capacity
        self.level = capacity
        self.updated = now

    def refill(self, now: float) -> None:
        if now > self.updated:
            self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
            self.updated = now

    def can_take(self, amount: float, now: float) -> bool:
        self.refill(now)
        return self.level >= min(amount, self.capacity)

    def take(self, amount: float, now: float, tag: int = -1) -> None:
        self.refill(now)
        self.level -= amount

    def free(self, now: float) -> float:
        self.refill(now)
        return self.level

    def hold(self, now: float) -> None:
        """No refill before `now` (see `KeyState.warm`)."""
        self.updated = max(self.updated, now)

    def ready_at(self, amount: float, now: float) -> float:
        """When `can_take(amount)` becomes true, assuming nothing else takes from it."""
        self.refill(now)
        need = min(amount, self.capacity) - self.level
        return now if need <= 0 else now + need / self.rate
