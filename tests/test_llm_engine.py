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
