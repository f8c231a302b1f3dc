"""The LLM layer inside real engine runs: usage per phase and per run, the budget stopping a run,
limiter waits and a bad output failing one phase only."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from phasefarm import Flow
from phasefarm.llm import OfflineRequest, build_llm


class Note(BaseModel):
    title: str
    body: str


def msgs(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_usage_events_are_summed_per_phase_and_run() -> None:
    flow = Flow("usage")
    llm = build_llm("offline", time_scale=0)

    @flow.phase()
    async def first(brief, llm):  # type: ignore[no-untyped-def]
        return await llm.structured(msgs(brief), Note, task="first")

    @flow.phase()
    async def second(first, llm):  # type: ignore[no-untyped-def]
        await llm.text(msgs(first.title), task="second")
        return await llm.image(f"{first.title} #336699", size="16x16")

    result = flow.run_sync(inputs={"brief": "a bakery"}, services={"llm": llm})
    assert result.status == "succeeded"
    by_phase = llm.usage_by_phase
    for name in ("first", "second"):
        assert result.phases[name].usage["tokens"] == by_phase[name].tokens
        assert result.phases[name].usage["cost"] == pytest.approx(by_phase[name].cost)
    assert result.phases["second"].usage["calls"] == 2
    assert result.usage["tokens"] == llm.usage.tokens
    assert result.usage["images"] == 1


def test_budget_stops_the_run_and_says_so() -> None:
    flow = Flow("budget")
    llm = build_llm("offline", time_scale=0, max_tokens=3000)

    @flow.phase()
    async def a(brief, llm):  # type: ignore[no-untyped-def]
        return await llm.text(msgs(brief), task="a")

    @flow.phase()
    async def b(a, llm):  # type: ignore[no-untyped-def]
        # Several calls: the cap is reached somewhere in here.
        return [await llm.text(msgs(f"{a} {i}"), task="b") for i in range(80)]

    @flow.phase()
    async def c(b, llm):  # type: ignore[no-untyped-def]
        return await llm.text(msgs("never"), task="c")

    result = flow.run_sync(inputs={"brief": "x"}, services={"llm": llm})
    assert result.status == "cancelled"
    assert result.stop_reason is not None
    assert result.stop_reason.startswith("budget reached: the next call could use up to ")
    assert result.stop_reason.endswith("of max 3,000 are used")
    assert result.phases["a"].status == "succeeded"
    assert result.phases["b"].status == "cancelled"
    assert result.phases["c"].status != "succeeded"
    assert 0 < llm.usage.tokens <= 3000  # stopped before the call that could cross the cap


def test_bad_output_fails_one_phase_and_the_others_go_on() -> None:
    def broken(request: OfflineRequest) -> dict[str, str]:
        return {"title": "no body"}

    flow = Flow("isolation")
    llm = build_llm("offline", time_scale=0, responders={"bad": broken})

    @flow.phase()
    async def bad(brief, llm):  # type: ignore[no-untyped-def]
        return await llm.structured(msgs(brief), Note, task="bad")

    @flow.phase()
    async def good(brief, llm):  # type: ignore[no-untyped-def]
        return await llm.structured(msgs(brief), Note, task="good")

    result = flow.run_sync(inputs={"brief": "x"}, services={"llm": llm})
    assert result.phases["bad"].status == "failed"
    assert result.phases["bad"].attempts == 1  # BadOutput is not retried by the engine
    assert "bad output for task 'bad'" in (result.phases["bad"].error or "")
    assert result.phases["good"].status == "succeeded"


def test_limiter_waits_show_up_as_events() -> None:
    flow = Flow("waits")
    # 600 rpm on the one offline key: a burst of about 9 calls, then one every 0.1 s.
    llm = build_llm("offline", time_scale=0, rpm=600)

    @flow.phase()
    async def calls(brief, llm):  # type: ignore[no-untyped-def]
        return [await llm.text(msgs(f"{brief} {i}"), task="t") for i in range(12)]

    result = flow.run_sync(inputs={"brief": "x"}, services={"llm": llm})
    assert result.status == "succeeded"
    waits = [e for e in result.timeline if e.kind == "limiter.wait"]
    assert waits and all(e.phase == "calls" for e in waits)
    assert all(e.data["key"] == "offline" and e.data["seconds"] > 0 for e in waits)


def test_one_retry_policy_the_record_counts_every_provider_call(fake_openai) -> None:
    """Transport errors are retried in the LLM layer only: a phase with `retries=2` whose model
    call keeps failing makes RetryPolicy.transient_attempts calls, not three times as many, and
    its record counts them all (failed ones included)."""
    from phasefarm.llm.client import RetryPolicy

    policy = RetryPolicy(transient_attempts=3, backoff_base_s=0.0, backoff_max_s=0.0)
    server = fake_openai(keys=["sk-a"])
    llm = build_llm(
        "openai", model="fake-model", base_url=server.url, api_keys=["sk-a"], retry=policy
    )
    flow = Flow("retry-policy")

    @flow.phase(retries=2, backoff=0)
    async def flaky(llm):  # type: ignore[no-untyped-def]
        return await llm.text(msgs("hello"), task="flaky")

    @flow.phase(retries=2, backoff=0)
    async def doomed(flaky, llm):  # type: ignore[no-untyped-def]
        server.fail_next(503, count=10)
        return await llm.text(msgs("again"), task="doomed")

    server.fail_next(503, count=2)  # flaky: two failures, then an answer
    result = flow.run_sync(services={"llm": llm})
    flaky_record, doomed_record = result.phases["flaky"], result.phases["doomed"]
    assert flaky_record.status == "succeeded" and flaky_record.attempts == 1
    assert flaky_record.provider_calls == 3
    assert doomed_record.status == "failed" and doomed_record.attempts == 1
    assert doomed_record.provider_calls == policy.transient_attempts
    assert len(server.requests) == 3 + policy.transient_attempts
