"""Budget caps, usage accounting per phase and run, usage events, prices, the response cache."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import BaseModel

from phasefarm.errors import BudgetExceeded, RunStopped, UsageError
from phasefarm.llm import Price, PriceTable, build_llm
from phasefarm.llm.budget import Budget
from phasefarm.scope import Scope, phase_scope


class Out(BaseModel):
    title: str
    body: str


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, timeout=120))


def msgs(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_token_cap_stops_before_the_call_that_could_cross_it(fake_openai) -> None:
    server = fake_openai(keys=["sk-budget-0000000001"])
    llm = build_llm(
        "openai",
        api_keys=["sk-budget-0000000001"],
        base_url=server.url,
        model="fake-model",
        max_tokens=3000,
    )
    with pytest.raises(BudgetExceeded) as info:
        for n in range(500):
            run(llm.text(msgs(f"more {n}"), task="t"))
    assert llm.usage.tokens <= 3000
    assert str(info.value).startswith("budget reached: the next call could use up to ")
    assert isinstance(info.value, RunStopped) and not info.value.retryable
    sent = [r for r in server.requests if r.path == "chat"]
    assert len(sent) == llm.usage.calls  # the refused call never went out
    assert all(r.max_tokens == 1024 for r in sent)  # every call carried its cap


def test_concurrent_calls_wait_for_room_and_never_cross_the_cap() -> None:
    llm = build_llm("offline", time_scale=0.001, max_tokens=2600)  # ~2 worst cases at once

    async def main() -> list[object]:
        return await asyncio.gather(
            *(llm.text(msgs(f"call {i}"), task="copy") for i in range(40)), return_exceptions=True
        )

    results = run(main())
    done = [r for r in results if isinstance(r, str)]
    refused = [r for r in results if isinstance(r, BudgetExceeded)]
    assert len(done) + len(refused) == 40 and done and refused
    assert llm.usage.calls == len(done) and llm.usage.tokens <= 2600
    assert llm.budget.reserved == (0, 0.0)


def test_cost_cap_uses_the_price_table() -> None:
    prices = {"offline": Price(input_per_mtok=1_000_000, output_per_mtok=0)}  # $1 per token
    llm = build_llm("offline", time_scale=0, max_cost=200.0, prices=prices)
    with pytest.raises(BudgetExceeded, match=r"could cost up to \$\d+\.\d{4} and"):
        for n in range(100):
            run(llm.text(msgs(f"x {n}"), task="t"))
    assert 0 < llm.usage.cost <= 200.0
    assert llm.usage.cost == pytest.approx(llm.usage.prompt_tokens * 1.0)


def test_cost_cap_needs_a_known_price() -> None:
    with pytest.raises(UsageError, match="price of model 'mystery'"):
        build_llm("openai", api_keys=["sk-x-0000000001"], model="mystery", max_cost=1.0)


def test_price_table_matches_dated_model_names_and_overrides() -> None:
    table = PriceTable({"my-model": Price(1, 2)})
    assert table.get("gpt-4o-mini-2024-07-18") == table.get("gpt-4o-mini")
    assert table.get("gpt-4o-2024-08-06") == table.get("gpt-4o")
    assert table.get("my-model") == Price(1, 2)
    assert table.get("unknown-model") is None


def test_usage_events_and_per_phase_totals() -> None:
    events: list[tuple[str, str, dict]] = []
    llm = build_llm("offline", time_scale=0)

    async def phase(name: str, calls: int) -> None:
        sink = lambda phase, kind, data: events.append((phase, kind, data))  # noqa: E731
        with phase_scope(Scope("run-1", name, sink)):
            for i in range(calls):
                await llm.structured(msgs(f"{name} {i}"), Out, task="section")
            await llm.image(f"{name} #ff0000", size="16x16")

    async def main() -> None:
        await asyncio.gather(phase("layout", 2), phase("images[0]", 0))

    run(main())
    usage = [(name, data) for name, kind, data in events if kind == "usage"]
    assert [name for name, _ in usage].count("layout") == 3
    assert [name for name, _ in usage].count("images[0]") == 1
    for _, data in usage:
        assert {"tokens", "cost", "prompt_tokens", "completion_tokens"} <= data.keys()
        assert all(isinstance(v, int | float) and not isinstance(v, bool) for v in data.values())
        assert data["tokens"] == data["prompt_tokens"] + data["completion_tokens"]
    by_phase = llm.usage_by_phase
    layout_tokens = sum(d["tokens"] for n, d in usage if n == "layout")
    assert by_phase["layout"].tokens == layout_tokens
    assert by_phase["images[0]"].images == 1
    assert llm.usage.tokens == sum(d["tokens"] for _, d in usage)
    assert llm.usage.cost == pytest.approx(sum(d["cost"] for _, d in usage))


def test_cache_serves_repeats_without_calling_the_server(fake_openai, tmp_path: Path) -> None:
    server = fake_openai(keys=["sk-cache-0000000001"])

    def make():  # type: ignore[no-untyped-def]
        return build_llm(
            "openai",
            api_keys=["sk-cache-0000000001"],
            base_url=server.url,
            model="fake-model",
            cache_dir=str(tmp_path),
        )

    llm = make()
    first = run(llm.structured(msgs("hello"), Out, task="s"))
    text = run(llm.text(msgs("hello"), task="s"))
    png = run(llm.image("pic #00ff00", size="16x16"))
    assert len(server.requests) == 3
    again = make()  # a new run with the same cache directory
    assert run(again.structured(msgs("hello"), Out, task="s")) == first
    assert run(again.text(msgs("hello"), task="s")) == text
    assert run(again.image("pic #00ff00", size="16x16")) == png
    assert len(server.requests) == 3
    assert again.usage.cached == 3 and again.usage.tokens == 0
    # Different messages, task or schema: a miss.
    run(again.structured(msgs("hello!"), Out, task="s"))
    run(again.structured(msgs("hello"), Out, task="other"))

    class Other(BaseModel):
        title: str

    run(again.structured(msgs("hello"), Other, task="s"))
    assert len(server.requests) == 6


def test_budget_rejects_nonsense_caps() -> None:
    from phasefarm.errors import UsageError

    with pytest.raises(UsageError):
        Budget(max_tokens=0)
    with pytest.raises(UsageError):
        Budget(max_cost=-1)


def test_cache_never_gives_one_providers_answers_to_another(fake_openai, tmp_path: Path) -> None:
    server = fake_openai(keys=["sk-cache-0000000002"])
    offline = build_llm("offline", model="fake-model", time_scale=0, cache_dir=str(tmp_path))
    run(offline.structured(msgs("hello"), Out, task="s"))
    run(offline.text(msgs("hello"), task="s"))
    real = build_llm(
        "openai",
        api_keys=["sk-cache-0000000002"],
        base_url=server.url,
        model="fake-model",
        cache_dir=str(tmp_path),
    )
    run(real.structured(msgs("hello"), Out, task="s"))
    run(real.text(msgs("hello"), task="s"))
    assert len(server.requests) == 2  # same model name, messages and schema: still asked
    assert real.usage.cached == 0
    other_seed = build_llm(
        "offline", model="fake-model", time_scale=0, seed=1, cache_dir=str(tmp_path)
    )
    run(other_seed.text(msgs("hello"), task="s"))
    assert other_seed.usage.cached == 0


def test_provider_repr_hides_credentials_in_the_base_url() -> None:
    llm = build_llm(
        "openai",
        api_keys=["sk-repr-0000000003"],
        base_url="https://user:hunter2@example.invalid/v1",
        model="m",
    )
    text = repr(llm.provider) + repr(llm)
    assert "hunter2" not in text and "sk-repr" not in text
    assert "user:***@example.invalid" in repr(llm.provider)
