"""The shared limiter's logic, on a hand-driven clock: buckets, key choice, 429 blocks, AIMD."""

from __future__ import annotations

import asyncio

import pytest

from phasefarm.errors import UsageError
from phasefarm.llm import RateLimiter, parse_retry_after
from phasefarm.llm.key_pacing import PROBE_S
from phasefarm.llm.window import SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def not_granted(limiter: RateLimiter, tokens: int = 0) -> bool:
    """True when acquire does not return within a short real-time window."""
    try:
        lease = await asyncio.wait_for(limiter.acquire(tokens), 0.05)
    except TimeoutError:
        return True
    await limiter.release(lease, used_tokens=0)
    return False


def test_sliding_window_counts_one_window_and_remembers_one_more() -> None:
    window = SlidingWindow(3, period_s=1.0)  # 3 in any 1.01 s
    for i, t in enumerate((0.0, 0.1, 0.2)):
        window.take(1, t, i)
    assert not window.can_take(1, 0.5)
    assert window.ready_at(1, 0.5) == pytest.approx(1.01)
    assert window.can_take(1, 1.04) and window.used(1.04) == 2
    window.settle(1, 0)  # refused: no longer counted
    assert window.used(0.5) == 2
    # Expired grants are still there to be counted against a late 429, for one more window.
    assert window.counted_before(3, since=-1.0) == 2  # 0 and 2; 1 was refused
    assert window.counted_before(2, since=0.05) == 0
    window.take(1, 2.3, 3)  # expires what is older than two windows
    assert window.counted_before(4, since=-1.0) == 1
    assert SlidingWindow.for_limit(600).capacity == 10
    slow = SlidingWindow.for_limit(6)  # under one a second: one per 10 s
    assert (slow.capacity, slow.period_s) == (1, 10.0)


def test_picks_the_key_with_most_headroom_and_respects_rpm() -> None:
    clock = Clock()
    # rpm 600 -> at most 10 requests per key in any window of 1.01 s.
    limiter = RateLimiter(["key#1", "key#2"], rpm=600, clock=clock)

    async def main() -> list[str]:
        keys = []
        for _ in range(20):
            lease = await limiter.acquire()
            keys.append(lease.key_id)
            await limiter.release(lease, used_tokens=0)
        # Both keys drained: the next call must wait for a refill.
        assert await not_granted(limiter)
        clock.now += 1.05  # the window has moved past every grant
        lease = await limiter.acquire()
        await limiter.release(lease)
        return keys

    keys = run(main())
    assert keys.count("key#1") == 10 and keys.count("key#2") == 10
    assert keys[:4] in (["key#1", "key#2"] * 2, ["key#2", "key#1"] * 2)  # alternates


def test_rate_limited_key_is_blocked_until_retry_after_and_others_go_on() -> None:
    clock = Clock()
    limiter = RateLimiter(["key#1", "key#2"], adaptive=True, clock=clock)

    async def main() -> None:
        first = await limiter.acquire()
        assert first.key_id == "key#1"
        await limiter.release(first, rate_limited=True, retry_after=30)
        for _ in range(3):
            lease = await limiter.acquire()
            assert lease.key_id == "key#2"
            await limiter.release(lease)
        state = limiter.key_state("key#1")
        assert state.blocked_until == pytest.approx(130)
        clock.now += 29.9
        # Only key#2's window limits concurrency now; key#1 is still blocked.
        leases = [await limiter.acquire() for _ in range(3)]
        assert {lease.key_id for lease in leases} == {"key#2"}
        clock.now += 0.2
        nxt = await limiter.acquire()
        assert nxt.key_id == "key#1"
        for lease in [*leases, nxt]:
            await limiter.release(lease)

    run(main())
    assert limiter.stats.rate_limited == 1


def test_single_key_blocked_means_waiting() -> None:
    clock = Clock()
    limiter = RateLimiter(["key#1"], adaptive=True, clock=clock)

    async def main() -> None:
        lease = await limiter.acquire()
        await limiter.release(lease, rate_limited=True, retry_after=5)
        assert await not_granted(limiter)
        clock.now += 5.01
        lease = await asyncio.wait_for(limiter.acquire(), 1)
        await limiter.release(lease)

    run(main())


def test_aimd_halves_once_per_episode_and_grows_on_success() -> None:
    clock = Clock()
    limiter = RateLimiter(["key#1"], initial_window=8, clock=clock)
    assert limiter.adaptive  # no limits given

    async def main() -> None:
        leases = [await limiter.acquire() for _ in range(8)]
        assert await not_granted(limiter)  # window of 8 is full
        # Four calls in flight all meet 429: one halving, not four.
        for lease in leases[:4]:
            await limiter.release(lease, rate_limited=True, retry_after=1)
        assert limiter.key_state("key#1").window == 4
        for lease in leases[4:]:
            await limiter.release(lease)  # successes grow the window additively
        assert 4 < limiter.key_state("key#1").window < 5.5
        # A later 429 (new episode, after the block expired) halves again.
        clock.now += 2
        lease = await limiter.acquire()
        before = limiter.key_state("key#1").window
        await limiter.release(lease, rate_limited=True, retry_after=1)
        assert limiter.key_state("key#1").window == pytest.approx(max(1.0, before / 2))

    run(main())


def test_unknown_limits_learn_a_window_from_429s_probe_it_and_follow_a_drop() -> None:
    # A server allowing 8 requests in any second, driven by hand.
    clock = Clock()
    limiter = RateLimiter(["key#1"], initial_window=64, clock=clock)

    async def call(*, refused: bool = False) -> None:
        lease = await limiter.acquire()
        if refused:
            await limiter.release(lease, used_tokens=0, rate_limited=True, retry_after=0.5)
        else:
            await limiter.release(lease, used_tokens=0)

    async def window_of_calls(accepted: int, *, refused: bool = True) -> None:
        for _ in range(accepted):
            await call()
        if refused:
            await call(refused=True)

    async def main() -> None:
        state = limiter.key_state("key#1")
        assert state.searching and limiter.stats.rates["key#1"] is None
        await window_of_calls(8)  # 8 accepted at 100.0, the 9th refused
        assert not state.searching and state.requests is not None
        assert state.requests.capacity == 8  # the server's window, learned at its first 429
        clock.now += 0.5  # Retry-After has passed, the window has not
        assert await not_granted(limiter)
        # Paced like a known limit: 8 per 1.01 s, no 429, until the probe.
        start = clock.now
        while clock.now - start < PROBE_S + 0.1:
            clock.now += 1.04
            await window_of_calls(8, refused=False)
            if state.requests.capacity > 8:
                break
        assert state.requests.capacity == 9  # full use without a 429 for PROBE_S: one more
        clock.now += 1.04
        await window_of_calls(8)  # the 9th is refused: back to 8
        assert state.requests.capacity == 8 and state.requests.window_s == pytest.approx(1.01)
        clock.now += 1.04
        await window_of_calls(7)  # refused on a full window: arrival jitter, as for known limits
        assert state.requests.capacity == 8 and state.requests.window_s == pytest.approx(1.02)
        clock.now += 1.04
        await window_of_calls(3)  # the server dropped to 3 a second: followed at once
        assert state.requests.capacity == 3
        assert limiter.stats.rates["key#1"] == 180  # rpm: 3 a second

    run(main())
    assert limiter.stats.rate_limited == 4


def test_a_server_refusing_every_request_lengthens_the_learned_window() -> None:
    clock = Clock()
    limiter = RateLimiter(["key#1"], clock=clock)

    async def main() -> list[float]:
        periods = []
        for _ in range(8):
            lease = await limiter.acquire(timeout=3600)
            await limiter.release(lease, used_tokens=0, rate_limited=True, retry_after=0)
            window = limiter.key_state("key#1").requests
            assert window is not None
            periods.append(window.period_s)
            clock.now += 30
        return periods

    periods = run(main())
    assert periods[:5] == [1.0, 2.0, 4.0, 8.0, 10.0]  # down to MIN_RATE, one per 10 s
    assert periods[-1] == 10.0


def test_token_estimate_is_reconciled_with_usage() -> None:
    clock = Clock()
    # tpm 6000 -> at most 100 tokens in any window of 1.01 s.
    limiter = RateLimiter(["key#1"], tpm=6000, clock=clock)

    async def main() -> None:
        warm = await limiter.acquire(1)
        await limiter.release(warm, used_tokens=1)
        lease = await limiter.acquire(90)
        assert await not_granted(limiter, 50)  # 90 reserved, ~9 left
        await limiter.release(lease, used_tokens=20)  # only 20 used: 70 come back
        lease = await asyncio.wait_for(limiter.acquire(50), 1)
        await limiter.release(lease, used_tokens=50)

    run(main())


def test_cold_key_does_not_refill_before_its_first_answer() -> None:
    clock = Clock()
    limiter = RateLimiter(["key#1"], rpm=60, clock=clock)  # 1 request per 1.01 s

    async def main() -> None:
        lease = await limiter.acquire()
        clock.now += 10  # the first request is slow to arrive: no refill is assumed
        assert await not_granted(limiter)
        await limiter.release(lease)  # the answer came back: the window counts from now
        assert await not_granted(limiter)
        clock.now += 1.05
        nxt = await asyncio.wait_for(limiter.acquire(), 1)
        await limiter.release(nxt)

    run(main())


def test_waiting_is_reported_as_an_event(llm_events: list) -> None:
    limiter = RateLimiter(["key#1"], adaptive=True)

    async def main() -> None:
        lease = await limiter.acquire()
        await limiter.release(lease, rate_limited=True, retry_after=0.05)
        lease = await limiter.acquire()
        await limiter.release(lease)

    run(main())
    waits = [data for kind, data in llm_events if kind == "limiter.wait"]
    assert len(waits) == 1
    assert waits[0]["key"] == "key#1" and waits[0]["seconds"] > 0


def test_waiters_are_served_in_arrival_order() -> None:
    clock = Clock()
    limiter = RateLimiter(["key#1"], adaptive=True, initial_window=1, clock=clock)
    order: list[int] = []

    async def waiter(i: int) -> None:
        lease = await limiter.acquire()
        order.append(i)
        await limiter.release(lease)

    async def main() -> None:
        holder = await limiter.acquire()
        tasks = []
        for i in range(5):
            tasks.append(asyncio.create_task(waiter(i)))
            await asyncio.sleep(0)
        await limiter.release(holder)
        await asyncio.gather(*tasks)

    run(main())
    assert order == [0, 1, 2, 3, 4]


def test_limiter_can_be_reused_by_a_later_event_loop() -> None:
    limiter = RateLimiter(["key#1"], adaptive=True, initial_window=1)

    async def contended() -> None:
        holder = await limiter.acquire()
        waiter = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0.01)
        await limiter.release(holder)
        await limiter.release(await waiter)

    run(contended())
    run(contended())  # a new loop: no "bound to a different event loop"


def test_parse_retry_after_headers() -> None:
    assert parse_retry_after({"retry-after-ms": "250"}) == pytest.approx(0.25)
    assert parse_retry_after({"Retry-After": "3"}) == 3
    assert parse_retry_after({"retry-after": "1.5", "retry-after-ms": "400"}) == pytest.approx(0.4)
    got = parse_retry_after(
        {"x-ratelimit-reset-requests": "1m2.5s", "x-ratelimit-reset-tokens": "120ms"}
    )
    assert got == pytest.approx(62.5)
    assert parse_retry_after({"x-ratelimit-reset-tokens": "120ms"}) == pytest.approx(0.12)
    assert parse_retry_after({"content-type": "application/json"}) is None
    in_future = parse_retry_after({"retry-after": "Wed, 21 Oct 2099 07:28:00 GMT"})
    assert in_future is not None and in_future > 1e6


def test_invalid_limits_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        RateLimiter([])
    with pytest.raises(UsageError):
        RateLimiter(["key#1"], rpm=0)


def test_repr_shows_key_ids_only() -> None:
    assert repr(RateLimiter(["key#1", "key#2"], rpm=60)) == (
        "RateLimiter(keys=['key#1', 'key#2'], rpm=60, tpm=None, adaptive=False)"
    )


def test_parse_limits_headers() -> None:
    from phasefarm.llm.openai_provider import parse_limits

    got = parse_limits(
        {
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-limit-tokens": "30000",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-remaining-tokens": "29000",
        }
    )
    assert got is not None and (got.rpm, got.tpm) == (500, 30000)
    assert (got.remaining_requests, got.remaining_tokens) == (499, 29000)
    assert parse_limits({"x-request-id": "abc"}) is None


def test_learned_limits_replace_the_window_for_that_key() -> None:
    from phasefarm.llm import ServerLimits

    clock = Clock()
    limiter = RateLimiter(["key#1", "key#2"], initial_window=1, clock=clock)

    async def main() -> None:
        lease = await limiter.acquire()
        assert lease.key_id == "key#1"
        await limiter.release(lease, used_tokens=0, limits=ServerLimits(rpm=120, tpm=None))
        # key#1 is now paced by a window (2 a second), not by a window of 1 in flight.
        first = await limiter.acquire()
        second = await limiter.acquire()
        assert {first.key_id, second.key_id} == {"key#1", "key#2"}
        one, two = limiter.key_state("key#1"), limiter.key_state("key#2")
        assert one.requests is not None and one.requests.capacity == 2 and not one.probing
        assert two.searching  # not announced for key#2: still learning
        for held in (first, second):
            await limiter.release(held, used_tokens=0)

    run(main())


def test_announced_limits_count_what_was_granted_while_learning() -> None:
    from phasefarm.llm import ServerLimits

    clock = Clock()
    limiter = RateLimiter(["key#1"], initial_window=8, clock=clock)

    async def main() -> None:
        leases = [await limiter.acquire() for _ in range(3)]
        # The first answer announces 3 a second: the 3 grants (one answered, two in flight)
        # fill the window; the server has seen all three.
        await limiter.release(leases[0], used_tokens=0, limits=ServerLimits(rpm=180, tpm=None))
        assert await not_granted(limiter)
        for lease in leases[1:]:
            await limiter.release(lease, used_tokens=0)
        clock.now += 1.02
        lease = await asyncio.wait_for(limiter.acquire(), 1)
        await limiter.release(lease, used_tokens=0)

    run(main())


def test_a_429_under_known_limits_widens_the_margin_and_full_use_narrows_it() -> None:
    clock = Clock()
    limiter = RateLimiter(["key#1"], rpm=600, tpm=60_000, clock=clock)
    state = limiter.key_state("key#1")
    assert state.requests is not None and state.tokens is not None

    async def episode(early_s: float) -> None:
        leases = [await limiter.acquire(10) for _ in range(3)]
        for lease in leases:  # three 429s of one episode: the server's Retry-After
            await limiter.release(lease, used_tokens=0, rate_limited=True, retry_after=early_s)
        clock.now += 2

    async def full_windows(seconds: float) -> None:
        end = clock.now + seconds
        while clock.now < end:
            for _ in range(10):
                await limiter.release(await limiter.acquire(10), used_tokens=10)
            clock.now += 1.06

    async def main() -> list[float]:
        widths = []
        for early_s in (0.005, 0.005, 0.0005, 0.02, 0.5, 0.5, 0.5):
            await episode(early_s)
            widths.append(state.requests.window_s)
        await full_windows(PROBE_S - 2.5)  # 2 s of those since the last 429
        widths.append(state.requests.window_s)  # not yet
        await full_windows(2)
        widths.append(state.requests.window_s)
        return widths

    widths = run(main())
    # Wider by how early the refused request was, 0.1 % to 1 % at a time, up to 5 %; narrower
    # by 1 % after PROBE_S seconds of full use without a 429.
    assert widths == pytest.approx([1.015, 1.02, 1.021, 1.031, 1.041, 1.05, 1.05, 1.05, 1.04])
    assert state.tokens.window_s == pytest.approx(1.04)
    assert not limiter.adaptive  # known limits are not learned again, only the margin


def test_configured_limits_win_over_announced_ones() -> None:
    from phasefarm.llm import ServerLimits

    limiter = RateLimiter(["key#1"], rpm=60)

    async def main() -> None:
        lease = await limiter.acquire()
        await limiter.release(lease, limits=ServerLimits(rpm=6000))

    run(main())
    assert limiter.key_state("key#1").learned is None
    assert limiter.key_state("key#1").requests is not None
    assert limiter.key_state("key#1").requests.rate == pytest.approx(1 / 1.01)


def test_no_window_of_a_second_holds_more_than_the_limit() -> None:
    """600 rpm may be enforced as 10 requests in any second: greedy callers on a hand-driven
    clock never get an 11th (a bucket with a one-second burst let through about twice that)."""
    clock = Clock()
    limiter = RateLimiter(["key#1"], rpm=600, clock=clock)
    start = clock.now

    async def main() -> list[float]:
        granted: list[float] = []
        while clock.now < start + 3.0:
            try:
                lease = await asyncio.wait_for(limiter.acquire(), 0.005)
            except TimeoutError:
                clock.now += 0.02  # nothing free now: time moves on
                continue
            granted.append(clock.now)
            await limiter.release(lease, used_tokens=0)
        return granted

    granted = run(main())
    assert len(granted) >= 25  # the limit is used, not just respected
    for t in granted:
        assert sum(1 for u in granted if t - 1.0 < u <= t) <= 10, t


def test_token_estimates_are_scaled_by_the_learned_ratio() -> None:
    """The server counts 15 % more tokens than we estimate: reservations follow its count."""
    clock = Clock()
    limiter = RateLimiter(["key#1"], tpm=60_000, clock=clock)

    async def call(estimate: int, used: int) -> int:
        lease = await limiter.acquire(estimate)
        await limiter.release(lease, used_tokens=used)
        clock.now += 1.1  # a fresh window each time
        return lease.tokens

    async def main() -> list[int]:
        reserved = [await call(40, 46) for _ in range(3)]
        # Lower samples move the ratio down gradually, never below what they show.
        reserved += [await call(40, 40) for _ in range(30)]
        reserved.append(await call(10, 1000))  # one odd answer: bounded
        return reserved

    reserved = run(main())
    assert reserved[0] == 40  # nothing learned yet
    assert reserved[1:3] == [46, 46]
    assert 40 <= reserved[-2] <= 41 and reserved[4] > reserved[-2]
    assert limiter.stats.token_ratio == pytest.approx(4.0)  # capped


def test_failed_or_refused_calls_teach_no_ratio() -> None:
    clock = Clock()
    limiter = RateLimiter(["key#1"], tpm=60_000, clock=clock)

    async def main() -> None:
        lease = await limiter.acquire(40)
        await limiter.release(lease, used_tokens=0, rate_limited=True, retry_after=0)
        lease = await limiter.acquire(40)
        await limiter.release(lease, ok=False)

    run(main())
    assert limiter.stats.token_ratio == 1.0


def test_a_waiting_caller_is_reserved_at_the_ratio_learned_meanwhile() -> None:
    clock = Clock()
    limiter = RateLimiter(["key#1"], tpm=6000, clock=clock)  # 100 tokens per 1.01 s

    async def main() -> int:
        warm = await limiter.acquire(10)
        await limiter.release(warm, used_tokens=10)
        first = await limiter.acquire(50)
        waiter = asyncio.create_task(limiter.acquire(60))  # 60 more do not fit
        await asyncio.sleep(0.01)
        assert not waiter.done()
        await limiter.release(first, used_tokens=100)  # the server counted twice our estimate
        clock.now += 1.1
        lease = await asyncio.wait_for(waiter, 1)
        await limiter.release(lease, used_tokens=120)
        return lease.tokens

    assert run(main()) == 120


def test_a_cold_grant_counts_from_its_own_answer() -> None:
    """Calls granted before a key's first answer may reach the server late: each one's window
    starts at its own answer, the latest time it can have arrived."""
    clock = Clock()
    limiter = RateLimiter(["key#1"], rpm=120, clock=clock)  # 2 requests per 1.01 s

    async def main() -> None:
        first, second = await limiter.acquire(), await limiter.acquire()
        clock.now += 0.5
        await limiter.release(first)  # the first answer: both count from here at least
        clock.now += 0.5
        await limiter.release(second)  # ...and this one from its own answer
        clock.now += 0.6  # first's window is over, second's is not
        lease = await asyncio.wait_for(limiter.acquire(), 1)
        assert await not_granted(limiter)
        await limiter.release(lease)

    run(main())
