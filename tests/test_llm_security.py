"""API keys never appear in errors, reprs, events, logs or cache files."""

from __future__ import annotations

import asyncio
import logging
import traceback
from pathlib import Path

import pytest
from pydantic import BaseModel

from phasefarm.errors import FatalError, PhasefarmError, RateLimited, TransientError
from phasefarm.llm import RetryPolicy, build_llm
from phasefarm.llm.openai_provider import KeyPool

GOOD = "sk-proj-GOODgoodGOOD1234567890abcdef"
OTHER = "sk-proj-OTHERotherOTHER0987654321zyx"
WRONG = "sk-proj-WRONGwrongWRONG5555555555qqq"
SECRETS = (GOOD, OTHER, WRONG, "GOODgoodGOOD", "OTHERotherOTHER", "WRONGwrongWRONG")


class Out(BaseModel):
    title: str


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def describe(exc: BaseException) -> str:
    return "\n".join(
        [str(exc), repr(exc), repr(exc.args), *traceback.format_exception(exc), repr(vars(exc))]
    )


def test_no_key_in_errors_events_logs_reprs_or_cache(
    fake_openai, llm_events, caplog, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, the openai SDK's and httpx's debug logs too
    server = fake_openai(keys=[GOOD, OTHER])
    fast = RetryPolicy(transient_attempts=2, rate_limited_attempts=2, backoff_base_s=0.01)
    errors: list[PhasefarmError] = []

    # 1. A key the server does not know: it answers 401 and echoes the key back, as some do.
    wrong = build_llm(
        "openai", api_keys=[WRONG], base_url=server.url, retry=fast, cache_dir=str(tmp_path)
    )
    with pytest.raises(FatalError, match="HTTP 401") as info:
        run(wrong.text([{"role": "user", "content": "hi"}], task="t"))
    errors.append(info.value)
    assert "key#1" in str(info.value)

    llm = build_llm(
        "openai",
        api_keys=[GOOD, OTHER],
        base_url=server.url,
        retry=fast,
        cache_dir=str(tmp_path),
        model="fake-model",
    )
    # 2. Rate limited on both keys until retries run out.
    server.fail_next(429, retry_after=0.01, count=2, message=f"Too many requests for {GOOD}")
    with pytest.raises(RateLimited) as limited:
        run(llm.text([{"role": "user", "content": "hello"}], task="t"))
    errors.append(limited.value)
    # 3. Server errors whose text contains a key.
    server.fail_next(503, count=2, message=f"upstream failed for key {OTHER}")
    with pytest.raises(TransientError) as transient:
        run(llm.text([{"role": "user", "content": "hello again"}], task="t"))
    errors.append(transient.value)
    # 4. Successful calls, written to the cache.
    run(llm.structured([{"role": "user", "content": "a title"}], Out, task="s"))
    run(llm.image("an image #123456", size="32x32"))

    for error in errors:
        assert leaks(describe(error)) == [], describe(error)
        assert error.__cause__ is None and error.__suppress_context__
    assert leaks(repr(llm_events)) == []
    assert any(kind == "usage" for kind, _ in llm_events)
    assert leaks(caplog.text) == []
    for thing in (llm, wrong, llm.provider, llm.limiter, llm.budget, llm.cache):
        assert leaks(repr(thing)) == [] and leaks(str(thing)) == []
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 2
    for path in files:
        assert leaks(path.read_bytes().decode("latin-1")) == [], path
    # The server's own log records key ids only.
    assert leaks(repr(server.requests)) == []
    assert {r.key_id for r in server.requests} >= {"?", "key#1"}


def test_key_pool_masks_keys() -> None:
    pool = KeyPool([GOOD, OTHER])
    assert repr(pool) == "KeyPool(['key#1', 'key#2'])"
    assert pool.redact(f"bad key {GOOD} and {OTHER}") == "bad key key#1 and key#2"
    # Key-looking tokens we do not hold are masked too.
    assert leaks(pool.redact(f"Incorrect API key provided: {WRONG}")) == []


def test_missing_key_is_a_usage_error_naming_the_variable(monkeypatch) -> None:
    from phasefarm.errors import UsageError

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(UsageError, match="OPENAI_API_KEY"):
        build_llm("openai")


def test_keys_from_env_are_split_on_commas(monkeypatch, fake_openai) -> None:
    server = fake_openai(keys=[GOOD, OTHER])
    monkeypatch.setenv("OPENAI_API_KEY", f" {GOOD} , {OTHER} ")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    llm = build_llm("openai", model="fake-model")
    assert list(llm.provider.key_ids) == ["key#1", "key#2"]

    async def main() -> None:
        await asyncio.gather(
            *(llm.text([{"role": "user", "content": f"m{i}"}], task="t") for i in range(6))
        )

    run(main())
    assert {r.key_id for r in server.requests} == {"key#1", "key#2"}
    assert all(r.status == 200 for r in server.requests)
