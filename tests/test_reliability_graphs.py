"""Random graphs through the public Flow API, in every mode (issue 16, item 4).

The scheduler's own property test (test_engine_scheduler.py) drives the pure state machine;
these drive real runs: real tasks, real pools, the SQLite store. Phase outputs are a pure
function of their dependencies' outputs, so a resumed run can be compared with a clean one.
"""

from __future__ import annotations

import asyncio
import inspect
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from phasefarm import Flow
from phasefarm.store import SQLiteStore

POOLS = {"one": 1, "two": 2}
TERMINAL = {"phase.succeeded", "phase.failed", "phase.skipped", "phase.cancelled"}


@dataclass(frozen=True)
class Node:
    name: str
    deps: tuple[str, ...]
    pool: str
    priority: int
    fails: bool


@dataclass
class Watch:
    """What the phase bodies saw: how many ran at once per pool, and calls per phase."""

    running: Counter[str] = field(default_factory=Counter)
    most: Counter[str] = field(default_factory=Counter)
    total_most: int = 0
    calls: Counter[str] = field(default_factory=Counter)


def expected_output(node: Node, outputs: dict[str, str]) -> str:
    return f"{node.name}({','.join(outputs[d] for d in node.deps)})"


def build(nodes: list[Node], watch: Watch) -> Flow:
    flow = Flow("random", pools=POOLS)
    for node in nodes:
        flow.phase(name=node.name, pool=node.pool, priority=node.priority, retries=0)(
            body(node, watch)
        )
    return flow


def body(node: Node, watch: Watch) -> Callable[..., Any]:
    async def run(**deps: str) -> str:
        watch.calls[node.name] += 1
        watch.running[node.pool] += 1
        watch.most[node.pool] = max(watch.most[node.pool], watch.running[node.pool])
        watch.total_most = max(watch.total_most, sum(watch.running.values()))
        try:
            for _ in range(3):  # let other phases run meanwhile
                await asyncio.sleep(0)
            if node.fails:
                raise RuntimeError(f"{node.name} fails on purpose")
            return expected_output(node, deps)
        finally:
            watch.running[node.pool] -= 1

    # the engine binds dependencies by parameter name
    params = [inspect.Parameter(d, inspect.Parameter.KEYWORD_ONLY) for d in node.deps]
    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__name__ = node.name
    return run


@st.composite
def graphs(draw: st.DrawFn) -> tuple[list[Node], str]:
    n = draw(st.integers(1, 12))
    nodes = []
    for i in range(n):
        deps = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        nodes.append(
            Node(
                f"p{i}",
                tuple(f"p{d}" for d in sorted(deps)),
                draw(st.sampled_from(["default", "one", "two"])),
                draw(st.integers(0, 2)),
                draw(st.booleans().map(lambda b: b and draw(st.integers(0, 5)) == 0)),
            )
        )
    return nodes, draw(st.sampled_from(["parallel", "waves", "sequential"]))


def clean_outcome(nodes: list[Node]) -> tuple[dict[str, str], dict[str, str]]:
    """What every run of this graph must end with: statuses and outputs."""
    status: dict[str, str] = {}
    outputs: dict[str, str] = {}
    for node in nodes:  # nodes are in topological order
        if any(status[d] != "succeeded" for d in node.deps):
            status[node.name] = "skipped"
        elif node.fails:
            status[node.name] = "failed"
        else:
            status[node.name] = "succeeded"
            outputs[node.name] = expected_output(node, outputs)
    return status, outputs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_random_graphs_respect_dependencies_pools_and_priorities(
    case: tuple[list[Node], str],
) -> None:
    nodes, mode = case
    watch = Watch()
    events: list[Any] = []
    result = build(nodes, watch).run_sync(mode=mode, on_event=events.append)
    status, outputs = clean_outcome(nodes)
    assert {n: p.status for n, p in result.phases.items()} == status
    assert result.outputs == outputs
    by_name = {node.name: node for node in nodes}
    ended: Counter[str] = Counter()
    succeeded: set[str] = set()
    started: set[str] = set()
    first_in_one: list[int] = []
    for event in sorted(events, key=lambda e: e.seq):
        if event.kind == "phase.started":
            node = by_name[event.phase]
            assert set(node.deps) <= succeeded, f"{node.name} started before its dependencies"
            if mode == "parallel" and node.pool == "one" and not node.deps:
                # phases needing nothing are all ready from the start, so the one slot of
                # their pool goes to them in priority order (with dependencies, when a phase
                # became ready is not observable from the events without a race)
                first_in_one.append(node.priority)
            started.add(node.name)
        elif event.kind in TERMINAL:
            ended[event.phase] += 1
            if event.kind == "phase.succeeded":
                succeeded.add(event.phase)
    assert first_in_one == sorted(first_in_one, reverse=True), "priority order broken"
    assert ended == Counter(list(by_name)), "every phase ends in exactly one terminal state"
    for pool, size in POOLS.items():
        assert watch.most[pool] <= size
    if mode == "sequential":
        assert watch.total_most <= 1
    assert all(count == 1 for count in watch.calls.values())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 200))
def test_resume_after_a_stop_at_a_random_event_gives_the_same_outputs(
    case: tuple[list[Node], str], stop_at: int
) -> None:
    nodes, mode = case
    watch = Watch()
    flow = build(nodes, watch)
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "runs.sqlite3")
        try:
            done_before: set[str] = set()

            async def interrupted() -> str:
                seen: list[Any] = []
                handles: list[Any] = []

                def on_event(event: Any) -> None:
                    seen.append(event)
                    if len(seen) == stop_at and handles:
                        handles[0].cancel()

                handle = flow.start(store=store, mode=mode, on_event=on_event)
                handles.append(handle)
                result = await asyncio.wait_for(handle.result(), timeout=30)
                done_before.update(n for n, p in result.phases.items() if p.status == "succeeded")
                return str(handle.run_id)

            run_id = asyncio.run(interrupted())
            calls_before = Counter(watch.calls)
            resumed = flow.resume_sync(run_id, store=store, mode=mode)
        finally:
            store.close()
    status, outputs = clean_outcome(nodes)
    assert {n: p.status for n, p in resumed.phases.items()} == status
    assert resumed.outputs == outputs
    # what had succeeded before the stop is reused, never run again
    for name in done_before:
        assert watch.calls[name] == calls_before[name] == 1
