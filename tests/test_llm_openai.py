"""The OpenAI-compatible provider through real HTTP to the fake server: formats, errors, retries,
repair, key pool, rate limits. Timing claims are checked on the server's own timestamps.

No test depends on a race going one way (these run beside CPU-bound processes too): where a
behaviour needs a 429, the server is scripted to answer 429 (`fail_next`); where a test says
no 429 happens, the server allows twice what the client is told, so a stalled machine that
bunches requests together cannot push them over. Every run has a timeout."""

from __future__ import annotations

import asyncio
import io
import json
import math

import pytest
from PIL import Image
from pydantic import BaseModel, Field

from phasefarm.errors import BadOutput, FatalError, RateLimited, TransientError
from phasefarm.llm import LLM, OpenAIProvider, RateLimiter, RetryPolicy, build_llm

KEYS = ["sk-test-alpha-0000000001", "sk-test-bravo-0000000002", "sk-test-charlie-00000003"]
FAST_RETRY = RetryPolicy(transient_attempts=3, backoff_base_s=0.01, backoff_max_s=0.02)


class Card(BaseModel):
    title: str
    summary: str
    tags: list[str] = Field(min_length=1, max_length=4)
    rating: int = Field(ge=1, le=5)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, timeout=120))


def msgs(text: str = "A card for a bakery.") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def openai_llm(server, **options):  # type: ignore[no-untyped-def]
    options.setdefault("api_keys", KEYS[:1])
    options.setdefault("retry", FAST_RETRY)
    return build_llm("openai", model="fake-model", base_url=server.url, **options)


def test_structured_sends_strict_json_schema_and_validates(fake_openai) -> None:
    server = fake_openai(keys=KEYS)
    llm = openai_llm(server)
    card = run(llm.structured(msgs(), Card, task="card"))
    assert isinstance(card, Card) and 1 <= card.rating <= 5
    [request] = server.requests
    assert request.response_format == "json_schema" and request.status == 200
    assert request.key_id == "key#1" and request.model == "fake-model"
    # The usage the server reported is what we counted.
    assert llm.usage.prompt_tokens == request.prompt_tokens
    assert llm.usage.completion_tokens == request.completion_tokens


def test_falls_back_to_json_mode_when_the_server_rejects_json_schema(fake_openai) -> None:
    server = fake_openai(keys=KEYS, json_schema_supported=False)
    llm = openai_llm(server)
    first = run(llm.structured(msgs("one"), Card, task="card"))
    second = run(llm.structured(msgs("two"), Card, task="card"))
    assert isinstance(first, Card) and isinstance(second, Card)
    formats = [(r.response_format, r.status) for r in server.requests]
    # Rejected once, then JSON mode for this call and every later one.
    assert formats == [("json_schema", 400), ("json_object", 200), ("json_object", 200)]
    assert isinstance(llm.provider, OpenAIProvider) and not llm.provider.json_schema_supported


def test_text_and_image_calls(fake_openai) -> None:
    server = fake_openai(keys=KEYS)
    llm = openai_llm(server)
    text = run(llm.text(msgs("Say something."), task="copy"))
    assert isinstance(text, str) and len(text) > 20
    png = run(llm.image("A loaf, palette #aa0000 #00aa00", size="64x32"))
    assert png.startswith(b"\x89PNG")
    assert Image.open(io.BytesIO(png)).size == (64, 32)
    assert [r.path for r in server.requests] == ["chat", "images"]
    assert llm.usage.images == 1 and llm.usage.calls == 2


def test_transient_5xx_is_retried_then_succeeds(fake_openai, llm_events) -> None:
    server = fake_openai(keys=KEYS)
    server.fail_next(500, count=2)
    llm = openai_llm(server)
    assert run(llm.text(msgs(), task="copy"))
    assert [r.status for r in server.requests] == [500, 500, 200]
    retries = [d for kind, d in llm_events if kind == "llm.retry"]
    assert [d["reason"] for d in retries] == ["TransientError", "TransientError"]


def test_persistent_5xx_gives_up_after_bounded_attempts(fake_openai) -> None:
    server = fake_openai(keys=KEYS, error_rate=1.0)
    llm = openai_llm(server)
    with pytest.raises(TransientError, match="HTTP 503"):
        run(llm.text(msgs(), task="copy"))
    assert len(server.requests) == FAST_RETRY.transient_attempts


def test_connection_refused_is_transient() -> None:
    llm = build_llm("openai", api_keys=KEYS[:1], base_url="http://127.0.0.1:9/v1", retry=FAST_RETRY)
    with pytest.raises(TransientError, match="connection failed"):
        run(llm.text(msgs(), task="copy"))


def test_bad_request_is_fatal_and_not_retried(fake_openai) -> None:
    server = fake_openai(keys=KEYS)
    server.fail_next(400, message="Invalid value for 'messages'.")
    llm = openai_llm(server)
    with pytest.raises(FatalError, match="HTTP 400: Invalid value for 'messages'") as info:
        run(llm.text(msgs(), task="copy"))
    assert not info.value.retryable
    assert len(server.requests) == 1


def test_malformed_json_is_repaired_with_the_validation_error(fake_openai) -> None:
    server = fake_openai(keys=KEYS)
    server.malformed_next(1)
    llm = openai_llm(server)
    card = run(llm.structured(msgs(), Card, task="card"))
    assert isinstance(card, Card)
    first, second = server.requests
    assert first.reason == "malformed" and first.messages == 1
    # The repair shows the model its answer and what was wrong with it.
    assert second.messages == 3
    assert "does not conform to the Card JSON schema" in second.last_message
    assert "Invalid JSON" in second.last_message or "json" in second.last_message.lower()


def test_output_that_stays_invalid_is_bad_output_after_bounded_repairs(fake_openai) -> None:
    server = fake_openai(keys=KEYS, malformed_rate=1.0)
    llm = openai_llm(server, repair_attempts=2)
    with pytest.raises(BadOutput, match=r"bad output for task 'card'.*Card schema 3 times"):
        run(llm.structured(msgs(), Card, task="card"))
    assert len(server.requests) == 3
    # Nothing else is affected: a text call on the same client still works.
    assert run(llm.text(msgs(), task="copy"))


def test_429_blocks_only_that_key_until_retry_after(fake_openai) -> None:
    server = fake_openai(keys=KEYS[:2])
    server.fail_next(429, retry_after=0.3)
    llm = openai_llm(server, api_keys=KEYS[:2])

    async def main() -> None:
        await llm.text(msgs("first"), task="copy")  # 429 on key#1, retried on key#2
        for i in range(6):
            await llm.text(msgs(f"next {i}"), task="copy")

    run(main())
    log = server.requests
    assert log[0].status == 429 and log[0].key_id == "key#1"
    blocked_until = log[0].t + 0.3
    early = [r for r in log[1:] if r.key_id == "key#1" and r.t < blocked_until]
    assert early == []
    assert log[1].key_id == "key#2" and log[1].status == 200
    assert all(r.status == 200 for r in log[1:])


def test_rate_limited_error_carries_retry_after_when_retries_run_out(fake_openai) -> None:
    server = fake_openai(keys=KEYS)
    server.fail_next(429, retry_after=0.05, count=2)
    llm = openai_llm(server, retry=RetryPolicy(rate_limited_attempts=2))
    with pytest.raises(RateLimited) as info:
        run(llm.text(msgs(), task="copy"))
    assert info.value.retry_after == pytest.approx(0.05, abs=0.001)
    assert info.value.key_id == "key#1"


@pytest.mark.parametrize("style", ["ms", "seconds", "reset"])
def test_unknown_limits_no_key_reused_before_its_retry_after(fake_openai, style) -> None:
    """Server-side limits we were not told: every call succeeds, and after each 429 the next
    request on that key arrives no earlier than the Retry-After the server gave.

    One call at a time, so no request is already on its way when a 429 comes back (those
    cannot be recalled); the server's timestamps are the evidence."""
    # Three 429s scripted, so there are 429s however slow the machine; the server's own
    # limit (5 requests/s per key, a burst of 1) may add more.
    server = fake_openai(
        keys=KEYS[:2], rpm=300, burst_s=0.2, latency=0.002, retry_after_style=style
    )
    server.fail_next(429, count=3, retry_after=0.05)
    provider = OpenAIProvider(KEYS[:2], model="fake-model", base_url=server.url)
    llm = LLM(
        provider,
        limiter=RateLimiter(provider.key_ids, adaptive=True, max_concurrency=1),
        retry=RetryPolicy(rate_limited_attempts=50),
    )
    calls = 15 if style != "seconds" else 6

    async def main() -> None:
        for i in range(calls):
            await llm.text(msgs(f"c{i}"), task="copy")

    run(main())
    log = server.requests
    assert sum(r.status == 200 for r in log) == calls
    limited = [r for r in log if r.status == 429]
    assert len(limited) >= 3
    for r in limited:
        assert r.retry_after is not None
        # What the client was told: whole seconds (rounded up) in "seconds" style.
        told = max(1, math.ceil(r.retry_after)) if style == "seconds" else r.retry_after
        nxt = next((x for x in log if x.key_id == r.key_id and x.t > r.t), None)
        if nxt is not None:
            assert nxt.t >= r.t + told, (r, nxt)
    # While the first key was blocked, the other one went on.
    assert (log[0].key_id, log[0].status) == ("key#1", 429)
    assert log[1].key_id == "key#2"


def test_burst_with_unknown_limits_all_calls_succeed(fake_openai) -> None:
    server = fake_openai(keys=KEYS[:2], rpm=1200, burst_s=0.2, latency=0.005)
    server.fail_next(429, count=4, retry_after=0.05)  # 429s for sure, whatever the timing
    llm = openai_llm(server, api_keys=KEYS[:2], retry=RetryPolicy(rate_limited_attempts=50))

    async def main() -> list[str]:
        return await asyncio.gather(*(llm.text(msgs(f"c{i}"), task="copy") for i in range(30)))

    assert len(run(main())) == 30
    log = server.requests
    assert sum(r.status == 200 for r in log) == 30
    assert sum(r.status == 429 for r in log) >= 4
    assert llm.limiter.stats.rate_limited == sum(r.status == 429 for r in log)


def test_known_limits_mean_no_429_and_all_keys_used(fake_openai) -> None:
    server = fake_openai(keys=KEYS, rpm=1200, tpm=400_000, latency=0.002)  # twice ours
    llm = openai_llm(server, api_keys=KEYS, rpm=600, tpm=200_000)

    async def main() -> None:
        await asyncio.gather(*(llm.structured(msgs(f"c{i}"), Card, task="card") for i in range(60)))

    run(main())
    log = server.requests
    assert len(log) == 60 and all(r.status == 200 for r in log)
    assert {r.key_id for r in log} == {"key#1", "key#2", "key#3"}
    counts = [sum(r.key_id == k for r in log) for k in ("key#1", "key#2", "key#3")]
    assert min(counts) >= 10  # spread over the keys (the one with most headroom goes first)


def test_limits_announced_in_headers_are_learned(fake_openai) -> None:
    """Not told the limits, but the server announces them (x-ratelimit-limit-*, as OpenAI
    does): after the first answers the keys are paced by them. (That no request is then
    refused is the benchmark's claim, measured there: here a stalled machine could bunch
    requests at the server, so only what cannot depend on timing is asserted.)"""
    server = fake_openai(keys=KEYS[:2], rpm=600, tpm=200_000, latency=0.002, limit_headers=True)
    llm = openai_llm(server, api_keys=KEYS[:2])
    assert llm.limiter.adaptive

    async def main() -> None:
        await asyncio.gather(*(llm.text(msgs(f"c{i}"), task="copy") for i in range(50)))

    run(main())
    log = server.requests
    assert sum(r.status == 200 for r in log) == 50
    for key_id in ("key#1", "key#2"):
        learned = llm.limiter.key_state(key_id).learned
        assert learned is not None and learned.rpm == 600 and learned.tpm == 200_000


def test_without_limit_headers_the_same_burst_meets_429s(fake_openai) -> None:
    """The control for the test above: same server, no headers, so the limiter has nothing to
    learn limits from until a 429 comes (one is scripted: the burst may or may not meet the
    server's own limit, depending on how busy the machine is)."""
    server = fake_openai(keys=KEYS[:2], rpm=600, tpm=200_000, latency=0.002)
    server.fail_next(429, retry_after=0.05)
    llm = openai_llm(server, api_keys=KEYS[:2], retry=RetryPolicy(rate_limited_attempts=50))

    async def main() -> None:
        await asyncio.gather(*(llm.text(msgs(f"c{i}"), task="copy") for i in range(50)))

    run(main())
    log = server.requests
    assert sum(r.status == 200 for r in log) == 50
    assert any(r.status == 429 for r in log)
    assert llm.limiter.key_state("key#1").learned is None


def test_tpm_limit_known_means_no_429(fake_openai) -> None:
    # Each call is ~70 tokens; 24,000 tpm = 400 tokens/s: tokens, not requests, are the limit
    # (the server allows twice that, so a stall that bunches requests cannot meet it).
    server = fake_openai(keys=KEYS[:1], tpm=48_000, latency=0.002)
    llm = openai_llm(server, tpm=24_000)

    async def main() -> None:
        await asyncio.gather(*(llm.text(msgs(f"call {i}"), task="copy") for i in range(24)))

    run(main())
    log = server.requests
    assert [r.status for r in log] == [200] * 24
    assert sum(r.prompt_tokens + r.completion_tokens for r in log) > 400  # more than one burst


def test_json_schema_request_body_is_strict(fake_openai) -> None:
    """What goes over the wire: name, strict, closed objects with every property required."""
    from phasefarm.llm.schema import strict_json_schema

    schema = strict_json_schema(Card)
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["title", "summary", "tags", "rating"]
    assert "default" not in json.dumps(schema)
