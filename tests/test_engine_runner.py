"""The asyncio runner on real event loops. Concurrency is shown with sleeps of a few ms by
order and overlap of the recorded times, never by absolute durations."""

from __future__ import annotations

import asyncio
import itertools
import threading

import pytest

from phasefarm import BudgetExceeded, FatalError, Flow, GraphError, PhaseContext, emit
from phasefarm.engine.result import PhaseRecord
from phasefarm.scope import current_scope

TICK = 0.02


def overlap(a: PhaseRecord, b: PhaseRecord) -> bool:
    assert a.started is not None and a.finished is not None
    assert b.started is not None and b.finished is not None
    return a.started < b.finished and b.started < a.finished


def fan_flow(calls: list[str] | None = None) -> Flow:
    flow = Flow("fan")

    @flow.phase()
    async def root(brief):
        await asyncio.sleep(TICK)
        return brief.upper()

    for name in ("left", "middle", "right"):

        async def body(root, _name=name):
            if calls is not None:
                calls.append(_name)
            await asyncio.sleep(TICK)
            return f"{_name}:{root}"

        flow.phase(body, name=name)

    @flow.phase()
    async def join(left, middle, right):
        return [left, middle, right]

    return flow


def test_parallel_overlaps_independent_phases_and_respects_dependencies() -> None:
    result = fan_flow().run_sync(inputs={"brief": "x"})
    assert result.status == "succeeded"
    assert result.outputs["join"] == ["left:X", "middle:X", "right:X"]
    p = result.phases
    assert overlap(p["left"], p["middle"]) and overlap(p["middle"], p["right"])
    for name in ("left", "middle", "right"):
        assert p[name].started >= p["root"].finished
        assert p["join"].started >= p[name].finished


def test_sequential_never_overlaps() -> None:
    result = fan_flow().run_sync(inputs={"brief": "x"}, mode="sequential")
    records = sorted(result.phases.values(), key=lambda r: r.started)
    for before, after in itertools.pairwise(records):
        assert after.started >= before.finished


def test_waves_barrier_holds_a_ready_phase_until_its_level_ends() -> None:
    flow = Flow("w")

    @flow.phase()
    async def fast():
        return 1

    @flow.phase()
    async def slow():
        await asyncio.sleep(TICK * 3)
        return 2

    @flow.phase()
    async def after_fast(fast):
        return fast

    parallel = flow.run_sync(mode="parallel").phases
    waves = flow.run_sync(mode="waves").phases
    assert parallel["after_fast"].started < parallel["slow"].finished
    assert waves["after_fast"].started >= waves["slow"].finished


def test_one_failure_skips_dependents_and_everything_else_finishes() -> None:
    flow = Flow("settled")

    @flow.phase()
    async def broken():
        raise RuntimeError("disk on fire")

    @flow.phase()
    async def downstream(broken): ...

    @flow.phase()
    async def sibling():
        await asyncio.sleep(TICK)
        return "ok"

    result = flow.run_sync()
    assert result.status == "failed"
    assert result.phases["broken"].status == "failed"
    assert result.phases["broken"].error == "RuntimeError: disk on fire"
    assert result.phases["downstream"].status == "skipped"
    assert result.phases["sibling"].status == "succeeded"
    assert result.outputs == {"sibling": "ok"}


def test_retries_with_backoff_then_success_and_retry_events() -> None:
    attempts: list[int] = []
    flow = Flow("r")

    @flow.phase(retries=3, backoff=0.001)
    async def flaky(ctx: PhaseContext):
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError("reset by peer")
        return "finally"

    result = flow.run_sync()
    assert result.outputs["flaky"] == "finally"
    assert attempts == [1, 2, 3]
    assert result.phases["flaky"].attempts == 3
    retrying = [e for e in result.timeline if e.kind == "phase.retrying"]
    assert [e.data["attempt"] for e in retrying] == [1, 2]


def test_non_retryable_errors_fail_at_once() -> None:
    calls = []
    flow = Flow("r")

    @flow.phase(retries=5, backoff=0.001)
    async def auth():
        calls.append(1)
        raise FatalError("invalid api key")

    result = flow.run_sync()
    assert result.phases["auth"].status == "failed" and len(calls) == 1


def test_timeout_fails_the_attempt_and_names_it() -> None:
    flow = Flow("t")

    @flow.phase(timeout=0.01)
    async def stuck():
        await asyncio.sleep(10)

    result = flow.run_sync()
    assert result.phases["stuck"].status == "failed"
    assert result.phases["stuck"].error == "timed out after 0.01 s"


def test_plain_functions_run_in_worker_threads() -> None:
    flow = Flow("threads")
    main = threading.get_ident()

    @flow.phase()
    def blocking(brief):
        emit("usage", tokens=5)
        return threading.get_ident(), brief

    result = flow.run_sync(inputs={"brief": "b"})
    thread, brief = result.outputs["blocking"]
    assert thread != main and brief == "b"
    assert result.phases["blocking"].usage == {"tokens": 5}


def test_map_runs_one_phase_per_item_in_its_pool_and_keeps_item_order() -> None:
    flow = Flow("m", pools={"image": 2})
    active = 0
    most = 0

    @flow.phase()
    async def plan():
        return ["a", "b", "c", "d", "e"]

    @flow.map("plan", pool="image")
    async def image(item, index):
        nonlocal active, most
        active += 1
        most = max(most, active)
        await asyncio.sleep(TICK * (5 - index) / 5)  # later items finish first
        active -= 1
        return f"{index}{item}"

    @flow.phase()
    async def page(image):
        return image

    result = flow.run_sync()
    assert result.outputs["page"] == ["0a", "1b", "2c", "3d", "4e"]
    assert most == 2
    assert {k for k in result.phases if k.startswith("image[")} == {f"image[{i}]" for i in range(5)}


def test_map_failed_item_is_isolated_and_partial_map_gives_none() -> None:
    for partial in (False, True):
        flow = Flow("m")

        @flow.phase()
        async def plan():
            return [1, 2, 3]

        @flow.map("plan", partial=partial)
        async def item_phase(item):
            if item == 2:
                raise ValueError("bad item")
            return item * 10

        @flow.phase()
        async def total(item_phase):
            return item_phase

        result = flow.run_sync()
        assert result.phases["item_phase[0]"].status == "succeeded"
        assert result.phases["item_phase[1]"].status == "failed"
        assert result.phases["item_phase[2]"].status == "succeeded"
        if partial:
            assert result.outputs["total"] == [10, None, 30]
        else:
            assert result.phases["total"].status == "skipped"


def test_map_over_a_non_list_fails_clearly() -> None:
    flow = Flow("m")

    @flow.phase()
    async def plan():
        return {"not": "a list"}

    @flow.map("plan")
    async def each(item): ...

    result = flow.run_sync()
    assert "needs a list of items from 'plan', got dict" in (result.phases["each"].error or "")


def test_running_phase_adds_phases_with_dependencies() -> None:
    flow = Flow("dyn")

    @flow.template()
    async def implement(path, blueprint):
        await asyncio.sleep(TICK)
        return f"{path} from {blueprint}"

    @flow.phase()
    async def blueprint():
        return "bp"

    @flow.phase()
    async def concept(blueprint, ctx: PhaseContext):
        a = ctx.add_phase("implement", key="implement[a.js]", args={"path": "a.js"})
        b = ctx.add_phase("implement", key="implement[b.js]", args={"path": "b.js"}, needs=[a])
        assert ctx.add_phase("implement", key=a, args={"path": "a.js"}) == a  # idempotent
        ctx.add_phase("implement", key="review", needs=[a, b], args={"path": "all"})
        return "concept"

    result = flow.run_sync()
    assert result.status == "succeeded"
    assert result.outputs["implement[a.js]"] == "a.js from bp"
    assert result.phases["implement[b.js]"].started >= result.phases["implement[a.js]"].finished
    assert result.phases["review"].started >= result.phases["implement[b.js]"].finished
    added = [e.phase for e in result.timeline if e.kind == "phase.added"]
    assert added == ["implement[a.js]", "implement[b.js]", "review"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"template": "nope"}, "not a template of this flow"),
        ({"template": "implement", "needs": ["ghost"], "args": {"path": "x"}}, "'ghost'"),
        ({"template": "implement", "args": {}}, "parameter 'path'"),
        ({"template": "implement", "args": {"path": "x"}, "retries": -2}, "retries"),
        ({"template": "implement", "key": "blueprint", "args": {"path": "x"}}, "duplicate"),
    ],
)
def test_added_phases_are_validated(call: dict, message: str) -> None:
    flow = Flow("dyn")

    @flow.template()
    async def implement(path): ...

    @flow.phase()
    async def blueprint(ctx: PhaseContext):
        call_copy = dict(call)
        ctx.add_phase(call_copy.pop("template"), **call_copy)

    result = flow.run_sync()
    assert result.phases["blueprint"].status == "failed"
    assert message in (result.phases["blueprint"].error or "")
    assert "GraphError" in (result.phases["blueprint"].error or "")


def test_cancel_marks_running_cancelled_and_returns_promptly() -> None:
    flow = Flow("c")

    @flow.phase()
    async def long_one():
        await asyncio.sleep(30)

    @flow.phase()
    async def after(long_one): ...

    @flow.phase()
    async def quick():
        return 1

    async def main():
        handle = flow.start()
        async with asyncio.timeout(10):
            while "long_one" not in {
                e.phase for e in handle.run.timeline if e.kind == "phase.started"
            }:
                await asyncio.sleep(0.001)
        handle.cancel()
        return await asyncio.wait_for(handle.result(), timeout=5)

    result = asyncio.run(main())
    assert result.status == "cancelled"
    assert result.phases["long_one"].status == "cancelled"
    assert result.phases["after"].status == "cancelled"
    assert result.phases["quick"].status == "succeeded"
    assert all(r.status != "pending" for r in result.phases.values())


def test_cancelling_the_awaiting_task_cancels_the_run_cleanly() -> None:
    flow = Flow("c")
    finished_cleanly = []

    @flow.phase()
    async def long_one():
        try:
            await asyncio.sleep(30)
        finally:
            finished_cleanly.append(True)

    async def main():
        handle = flow.start()
        task = asyncio.ensure_future(handle.result())
        await asyncio.sleep(TICK)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return handle.run.result

    result = asyncio.run(main())
    assert finished_cleanly == [True]
    assert result is not None and result.phases["long_one"].status == "cancelled"


def test_run_stopped_lets_running_phases_finish_and_starts_nothing_new() -> None:
    flow = Flow("budget", pools={"one": 1})

    @flow.phase()
    async def spender():
        raise BudgetExceeded("budget reached: 120 tokens of max 100")

    @flow.phase()
    async def busy():
        await asyncio.sleep(TICK * 2)
        return "finished anyway"

    @flow.phase(needs=["spender"])
    async def later(): ...

    result = flow.run_sync()
    assert result.status == "cancelled"
    assert result.stop_reason == "budget reached: 120 tokens of max 100"
    assert result.phases["spender"].status == "cancelled"
    assert result.outputs["busy"] == "finished anyway"
    assert result.phases["later"].status == "cancelled"


def test_events_are_typed_ordered_and_iterable() -> None:
    seen: list[str] = []

    async def main():
        handle = fan_flow().start(inputs={"brief": "x"}, on_event=lambda e: seen.append(e.kind))
        kinds = [e.kind async for e in handle.events()]
        return kinds, await handle.result()

    kinds, result = asyncio.run(main())
    assert kinds[0] == "run.started" and kinds[-1] == "run.finished"
    assert kinds == seen == [e.kind for e in result.timeline]
    seqs = [e.seq for e in result.timeline]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    progress = [e.data for e in result.timeline if e.kind == "progress"]
    assert [p["done"] for p in progress] == [1, 2, 3, 4, 5]
    assert all(p["total"] == 5 for p in progress)


def test_usage_events_are_summed_per_phase_and_per_run() -> None:
    flow = Flow("u")

    @flow.phase()
    async def a():
        emit("usage", tokens=100, cost=0.5)
        emit("usage", tokens=20, cost=0.25)

    @flow.phase()
    async def b(ctx: PhaseContext):
        ctx.emit("usage", tokens=1)

    result = flow.run_sync()
    assert result.phases["a"].usage == {"tokens": 120, "cost": 0.75}
    assert result.usage == {"tokens": 121, "cost": 0.75}


def test_services_are_injected_and_inputs_may_not_shadow_phases() -> None:
    flow = Flow("s")

    @flow.phase()
    async def a(llm, brief):
        return llm(brief)

    assert flow.run_sync(inputs={"brief": "x"}, services={"llm": str.upper}).outputs["a"] == "X"
    with pytest.raises(GraphError, match="same name as a phase"):
        flow.run_sync(inputs={"a": 1, "brief": "x"}, services={"llm": str})


def test_critical_path_first_with_scarce_slots() -> None:
    flow = Flow("cp")
    order: list[str] = []

    @flow.phase(estimate=1)
    async def side():
        order.append("side")

    @flow.phase(estimate=1)
    async def head():
        order.append("head")

    @flow.phase(estimate=30)
    async def tail(head):
        order.append("tail")

    flow.run_sync(max_running=1)
    assert order == ["head", "tail", "side"]


# -- the hot path: compiled graphs shared by runs, tasks that run several phases -------------


def test_runs_of_one_flow_share_nothing_and_see_phases_added_later() -> None:
    flow = Flow("again")

    @flow.phase()
    async def plan(brief):
        return [f"{brief}-{i}" for i in range(3)]

    @flow.map("plan")
    async def make(item, tool):
        return tool(item)

    first = flow.run_sync(inputs={"brief": "x"}, services={"tool": str.upper})
    second = flow.run_sync(inputs={"brief": "y"}, services={"tool": str.upper})
    assert first.outputs["make"] == ["X-0", "X-1", "X-2"]
    assert second.outputs["make"] == ["Y-0", "Y-1", "Y-2"]
    # the same name as an input instead of a service: bound again, not taken from the cache
    third = flow.run_sync(inputs={"brief": "z", "tool": str.title})
    assert third.outputs["make"] == ["Z-0", "Z-1", "Z-2"]

    @flow.phase()
    async def review(make):
        return len(make)

    fourth = flow.run_sync(inputs={"brief": "w"}, services={"tool": str.upper})
    assert fourth.outputs["review"] == 3 and set(first.phases) < set(fourth.phases)


def test_flow_cache_keeps_a_bounded_number_of_values() -> None:
    flow = Flow("cache")
    built: list[int] = []
    for key in (1, 2, 3, 1):
        flow.cached(key, lambda key=key: built.append(key) or key, limit=2)
    assert built == [1, 2, 3, 1]  # 1 was dropped when 3 came in
    flow.cached(3, lambda: built.append(99) or 99, limit=2)
    assert built[-1] == 1  # 3 is still there

    @flow.phase()
    async def a(): ...

    flow.cached(3, lambda: built.append(33) or 33, limit=2)
    assert built[-1] == 33  # adding a phase dropped everything


def test_template_added_after_its_dependency_failed_is_skipped_not_waited_for() -> None:
    flow = Flow("late")

    @flow.template()
    async def follow_up(bad): ...

    @flow.phase()
    async def bad():
        raise ValueError("boom")

    @flow.phase()
    async def adder(ctx: PhaseContext):
        await asyncio.sleep(TICK)  # bad has failed by now
        ctx.add_phase("follow_up", key="follow", needs=["bad"])

    result = asyncio.run(asyncio.wait_for(flow.run(), timeout=5))
    assert result.phases["follow"].status == "skipped"
    assert result.phases["follow"].error == "bad failed"
    assert result.phases["adder"].status == "succeeded"


def chain_flow(length: int, body) -> Flow:
    flow = Flow("chain")
    for i in range(length):
        flow.phase(body, name=f"p{i}", needs=[f"p{i - 1}"] if i else [])
    return flow


def test_every_phase_runs_in_a_task_of_its_own_and_sees_its_own_scope() -> None:
    seen: dict[str, str] = {}

    async def body() -> None:
        scope = current_scope()
        assert scope is not None
        task = asyncio.current_task()
        assert task is not None
        seen[scope.phase] = task.get_name()

    length = 48
    result = chain_flow(length, body).run_sync()
    assert result.status == "succeeded"
    assert seen == {f"p{i}": f"p{i}" for i in range(length)}  # one execution path: a task each


def test_sibling_phases_do_not_see_each_others_context_variables() -> None:
    import contextvars

    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="")
    flow = Flow("ctx")
    seen: dict[str, str] = {}

    @flow.phase()
    async def root():
        var.set("root")

    for name in ("left", "right"):

        async def body(root, _name=name):
            seen[_name] = var.get()
            var.set(_name)
            await asyncio.sleep(TICK)
            seen[_name + " after"] = var.get()

        flow.phase(body, name=name)

    assert flow.run_sync().status == "succeeded"
    assert seen == {"left": "root", "right": "root", "left after": "left", "right after": "right"}


def test_a_long_chain_of_phases_that_never_wait_lets_other_tasks_run() -> None:
    ticks = [0]
    at_phase: list[int] = []

    async def body() -> None:
        at_phase.append(ticks[0])

    async def ticker(stop: asyncio.Event) -> None:
        while not stop.is_set():
            ticks[0] += 1
            await asyncio.sleep(0)

    async def main() -> None:
        stop = asyncio.Event()
        tick_task = asyncio.create_task(ticker(stop))
        await chain_flow(160, body).run()
        stop.set()
        await tick_task

    asyncio.run(main())
    assert at_phase == sorted(at_phase)
    assert at_phase[-1] - at_phase[0] >= 5  # the ticker ran while the chain went on


def test_cancel_while_a_chain_hands_over_its_next_phase_runs_nothing_more() -> None:
    ran: list[str] = []
    holder: list = []

    async def body() -> None:
        scope = current_scope()
        assert scope is not None
        ran.append(scope.phase)

    def on_event(event) -> None:
        # p6 is released by p5's completion, and cancelled before its body starts
        if event.kind == "phase.started" and event.phase == "p6":
            holder[0].cancel()

    async def main():
        handle = chain_flow(20, body).start(on_event=on_event)
        holder.append(handle)
        return await asyncio.wait_for(handle.result(), timeout=5)

    result = asyncio.run(main())
    assert result.status == "cancelled"
    assert ran == [f"p{i}" for i in range(6)]
    statuses = [result.phases[f"p{i}"].status for i in range(20)]
    assert statuses == ["succeeded"] * 6 + ["cancelled"] * 14


def test_scope_follows_sub_tasks_threads_and_survives_a_nested_run() -> None:
    inner = Flow("inner")

    @inner.phase()
    async def inner_phase():
        emit("usage", tokens=1)

    outer = Flow("outer")

    @outer.phase()
    async def fan_out():
        async def part(n: int) -> None:
            await asyncio.sleep(0)
            emit("usage", tokens=n)

        await asyncio.gather(part(10), part(20))  # sub-tasks: the phase's scope is copied
        await asyncio.to_thread(emit, "usage", tokens=100)  # a thread: copied too
        result = await inner.run()  # a nested run has its own scope ...
        assert result.usage["tokens"] == 1
        scope = current_scope()  # ... and leaves this phase's scope as it was
        assert scope is not None and scope.phase == "fan_out"
        emit("usage", tokens=1000)

    result = outer.run_sync()
    assert result.status == "succeeded"
    assert result.phases["fan_out"].usage["tokens"] == 1130
    assert result.usage["tokens"] == 1130
    assert current_scope() is None  # nothing leaks out of a run


class Bail(BaseException):
    """Not an Exception, like pytest's Failed or a framework's own timeout."""


@pytest.mark.parametrize("options", [{}, {"retries": 1, "backoff": 0.0}])
def test_a_phase_raising_a_base_exception_fails_and_the_run_ends(options: dict) -> None:
    flow = Flow("bail")

    @flow.phase(**options)
    async def a():
        raise Bail("stop here")

    @flow.phase()
    async def b(a): ...

    @flow.phase()
    async def other():
        return 1

    result = asyncio.run(asyncio.wait_for(flow.run(), timeout=5))
    assert result.phases["a"].status == "failed"
    assert result.phases["a"].error == "Bail: stop here"
    assert result.phases["b"].status == "skipped"
    assert result.outputs["other"] == 1


def test_phases_added_from_an_executor_thread_keep_the_run_scope() -> None:
    import concurrent.futures

    flow = Flow("threads")

    @flow.template()
    async def worker():
        emit("usage", tokens=7)

    @flow.phase()
    async def adder(ctx: PhaseContext):
        with concurrent.futures.ThreadPoolExecutor(1) as pool:  # copies no context
            await asyncio.get_running_loop().run_in_executor(
                pool, lambda: ctx.add_phase("worker", key="w1")
            )

    result = flow.run_sync()
    assert result.phases["w1"].status == "succeeded"
    assert result.phases["w1"].usage == {"tokens": 7}
    assert result.usage == {"tokens": 7}


def test_cancel_before_released_phases_start_leaves_no_coroutine_unawaited() -> None:
    import gc
    import warnings

    flow = Flow("w")
    for i in range(3):

        async def body():
            await asyncio.sleep(1)

        flow.phase(body, name=f"p{i}")

    async def main():
        handle = flow.start()
        await asyncio.sleep(0)  # released, their tasks made, not yet started
        handle.cancel()
        return await handle.result()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = asyncio.run(main())
        gc.collect()
    assert {r.status for r in result.phases.values()} == {"cancelled"}
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_a_cancellation_a_phase_leaves_on_its_task_does_not_hit_the_next_phase() -> None:
    flow = Flow("leak")

    @flow.phase()
    async def a():
        task = asyncio.current_task()
        assert task is not None
        task.cancel()  # pending on the task when a returns
        return "a"

    @flow.phase()
    async def b(a):
        await asyncio.sleep(0)
        return a + "b"

    result = flow.run_sync()
    assert result.status == "succeeded"
    assert result.outputs["b"] == "ab"
