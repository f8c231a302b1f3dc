"""Bounds of the LLM layer against real HTTP servers: keys that fail over, answers cut at the
cap, answers without usage, a 2 MB answer, a PNG bomb, a server that only says 429."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import struct
import tracemalloc
import zlib
from collections.abc import Sequence

import pytest
from PIL import Image
from pydantic import BaseModel, Field

from phasefarm.errors import BadOutput, FatalError, RateLimited, TransientError
from phasefarm.llm import RetryPolicy, build_llm
from phasefarm.llm.images import checked_png
from phasefarm.llm.limiter import MAX_BLOCK_S, MIN_RATE, RateLimiter
from phasefarm.llm.offline import OfflineProvider
from phasefarm.llm.provider import ImageResult, Usage

GOOD = "sk-good-0000000001"
REVOKED = "sk-revoked-000000002"


class Note(BaseModel):
    title: str = Field(max_length=40)
    body: str = Field(max_length=400)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, timeout=120))


def msgs(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def openai_llm(server, keys: Sequence[str] = (GOOD,), **options):  # type: ignore[no-untyped-def]
    return build_llm(
        "openai", api_keys=list(keys), base_url=server.url, model="fake-model", **options
    )


def test_a_refused_key_is_set_aside_and_calls_go_to_the_other(
    fake_openai, caplog: pytest.LogCaptureFixture
) -> None:
    server = fake_openai(keys=[GOOD])  # the revoked key is unknown to it: 401
    llm = openai_llm(server, keys=[REVOKED, GOOD])
    caplog.set_level(logging.INFO, logger="phasefarm")

    async def main() -> list[Note]:
        return await asyncio.gather(
            *(llm.structured(msgs(f"note {i}"), Note, task="note") for i in range(10))
        )

    notes = run(main())
    assert len(notes) == 10
    statuses = [(r.key_id, r.status) for r in server.requests]
    assert ("?", 401) in statuses  # the revoked key was tried...
    assert [s for k, s in statuses if k == "key#1"] == [200] * 10  # ...and every call then
    set_aside = [r.message for r in caplog.records if "set aside" in r.message]
    assert set_aside == ["key#1 was refused by the server (HTTP 401/403): set aside for this run"]
    assert REVOKED not in caplog.text


def test_when_every_key_is_refused_the_call_fails_clearly(fake_openai) -> None:
    server = fake_openai(keys=[GOOD])
    llm = openai_llm(server, keys=[REVOKED, "sk-revoked-000000003"])
    with pytest.raises(FatalError, match="every API key was refused by the server") as info:
        run(llm.text(msgs("hello"), task="t"))
    assert "sk-revoked" not in str(info.value)
    assert len(server.requests) == 2  # one try per key, then no more


def test_an_answer_cut_at_the_cap_is_retried_with_more_room_then_fails(fake_openai) -> None:
    server = fake_openai(keys=[GOOD], answer_token_limit=2)
    llm = openai_llm(server)
    with pytest.raises(BadOutput, match=r"cut at the .*finish_reason 'length'"):
        run(llm.structured(msgs("a long note"), Note, task="note"))
    chats = [r for r in server.requests if r.path == "chat"]
    assert [r.messages for r in chats] == [1, 1]  # no repair round: truncation is not malformed
    assert chats[1].max_tokens == 2 * (chats[0].max_tokens or 0)


def test_an_answer_without_usage_is_counted_from_its_text_and_flagged(fake_openai) -> None:
    server = fake_openai(keys=[GOOD], report_usage=False)
    llm = openai_llm(server)
    run(llm.structured(msgs("a note"), Note, task="note"))
    assert llm.usage.estimated == 1 and llm.usage.tokens > 0
    assert any("without usage" in note for note in llm.notes)


def test_a_2_mb_answer_keeps_memory_errors_and_repairs_bounded(fake_openai) -> None:
    server = fake_openai(keys=[GOOD])
    huge = '{"title": "' + "x" * 2_000_000 + '", "body": "b"}'
    server.answer_next(huge, count=3)
    llm = openai_llm(server)
    tracemalloc.start()
    try:
        with pytest.raises(BadOutput) as info:
            run(llm.structured(msgs("a note"), Note, task="note"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(str(info.value)) < 1_000
    assert "more than 262,144" in str(info.value)
    chats = [r for r in server.requests if r.path == "chat"]
    assert len(chats) == 3 and all(r.request_bytes < 20_000 for r in chats)
    assert peak < 120 * 2**20  # a few copies of 2 MB, not gigabytes (server thread included)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_a_png_bomb_is_refused_before_it_is_decoded() -> None:
    bomb = _png_header_only(100_000, 100_000)
    assert len(bomb) < 70
    with pytest.raises(BadOutput, match="claims more pixels than the 16,777,216 accepted"):
        checked_png(bomb, "task 'image'")
    with pytest.raises(BadOutput, match="claims 5000x5000 pixels"):  # under Pillow's own limit
        checked_png(_png_header_only(5000, 5000), "task 'image'")
    good = io.BytesIO()
    Image.new("RGB", (8, 8)).save(good, format="PNG")
    assert checked_png(good.getvalue(), "x") == good.getvalue()

    class BombProvider(OfflineProvider):
        async def image(self, prompt: str, *, size: str, task: str, key_id: str) -> ImageResult:  # type: ignore[override]
            return ImageResult(png=bomb, usage=Usage(), model="offline", key_id=key_id)

    llm = build_llm("offline", time_scale=0)
    llm.provider = BombProvider(time_scale=0)
    with pytest.raises(BadOutput, match="pixels"):
        run(llm.image("a bomb", size="64x64"))


def test_a_server_that_only_says_429_ends_the_call_in_bounded_time(fake_openai) -> None:
    server = fake_openai(keys=[GOOD])
    server.fail_next(429, count=10_000, retry_after=0.05)
    llm = openai_llm(server, retry=RetryPolicy(max_elapsed_s=1.0))
    # given up on the 429s, or (on a loaded machine) on the call that was in flight when the
    # call's time limit ran out: either way a bounded, named end
    with pytest.raises((RateLimited, TransientError), match=r"gave up after|time limit"):
        run(llm.text(msgs("hello"), task="t"))
    assert 1 <= len(server.requests) < 10_000


def test_limiter_blocks_are_capped_and_learned_rates_have_a_floor() -> None:
    now = [0.0]
    limiter = RateLimiter(["key#1"], adaptive=True, clock=lambda: now[0])

    async def main() -> None:
        for _ in range(40):  # every call refused: the learned rate keeps falling
            lease = await limiter.acquire(timeout=3600)
            now[0] += 0.5
            await limiter.release(lease, rate_limited=True, retry_after=10_000)
            state = limiter.key_state("key#1")
            assert state.blocked_until <= now[0] + MAX_BLOCK_S
            assert state.rate is None or state.rate >= MIN_RATE
            now[0] = state.blocked_until  # the fake clock jumps to the end of the block

    run(main())


def test_a_limiter_wait_is_bounded_by_the_callers_time_limit() -> None:
    limiter = RateLimiter(["key#1"], adaptive=True)

    async def main() -> None:
        lease = await limiter.acquire()
        await limiter.release(lease, rate_limited=True, retry_after=30)  # blocked for 30 s
        with pytest.raises(RateLimited, match=r"within 0\.2 s"):
            await limiter.acquire(timeout=0.2)

    run(main())


def test_images_unavailable_are_drawn_offline_and_said(fake_openai) -> None:
    server = fake_openai(keys=[GOOD], images_endpoint=False)
    llm = openai_llm(server)
    png = run(llm.image("a loaf #aa3300 #ffeecc", size="64x48"))
    assert Image.open(io.BytesIO(png)).size == (64, 48)
    run(llm.image("another", size="64x48"))
    assert [r.path for r in server.requests] == []  # 404s are not logged as admitted requests
    assert any("images drawn offline" in n for n in llm.notes)
    assert base64.b64encode(png)


def test_a_server_that_wants_max_completion_tokens_gets_it(fake_openai) -> None:
    server = fake_openai(keys=[GOOD], reject_max_tokens=True)
    llm = openai_llm(server)
    for n in range(2):
        run(llm.structured(msgs(f"note {n}"), Note, task="note"))
    chats = [r for r in server.requests if r.path == "chat"]
    assert len(chats) == 2 and all(r.max_tokens for r in chats)  # the cap, under its new name
