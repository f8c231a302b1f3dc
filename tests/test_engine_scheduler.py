"""The scheduler state machine, driven by hand: no asyncio, no clock."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phasefarm import GraphError
from phasefarm.engine.graph import NodeSpec
from phasefarm.engine.scheduler import Scheduler


def drain(s: Scheduler) -> list[str]:
    out = []
    while (name := s.next_ready()) is not None:
        out.append(name)
    return out


def test_releases_only_when_dependencies_succeeded() -> None:
    s = Scheduler()
    s.add([NodeSpec("a"), NodeSpec("b", ("a",)), NodeSpec("c", ("a", "b"))])
    assert drain(s) == ["a"]
    assert s.finish("a", "succeeded") == []
    assert drain(s) == ["b"]
    s.finish("b", "succeeded")
    assert drain(s) == ["c"]
    s.finish("c", "succeeded")
    assert s.finished and s.done_count == 3


def test_failure_skips_dependents_transitively_but_not_siblings() -> None:
    s = Scheduler()
    s.add(
        [
            NodeSpec("a"),
            NodeSpec("b", ("a",)),
            NodeSpec("c", ("b",)),
            NodeSpec("d"),
            NodeSpec("e", ("d",)),
        ]
    )
    assert set(drain(s)) == {"a", "d"}
    settled = s.finish("a", "failed")
    assert settled == [("b", "skipped"), ("c", "skipped")]
    s.finish("d", "succeeded")
    assert drain(s) == ["e"]
    s.finish("e", "succeeded")
    assert s.finished
    assert [s.state(n) for n in "abcde"] == [
        "failed",
        "skipped",
        "skipped",
        "succeeded",
        "succeeded",
    ]


def test_cancelled_dependency_cancels_dependents() -> None:
    s = Scheduler()
    s.add([NodeSpec("a"), NodeSpec("b", ("a",))])
    drain(s)
    assert s.finish("a", "cancelled") == [("b", "cancelled")]


def test_pool_capacity_is_never_exceeded() -> None:
    s = Scheduler({"image": 2})
    s.add([NodeSpec(f"i{k}", pool="image") for k in range(5)] + [NodeSpec("x")])
    first = drain(s)
    assert len([n for n in first if n.startswith("i")]) == 2 and "x" in first
    assert not s.can_submit()
    s.finish(first[0] if first[0] != "x" else first[1], "succeeded")
    assert len(drain(s)) == 1


def test_longest_remaining_path_first_when_slots_are_scarce() -> None:
    s = Scheduler({"one": 1})
    s.add(
        [
            NodeSpec("short", pool="one", estimate=1),
            NodeSpec("long", pool="one", estimate=1),
            NodeSpec("tail", ("long",), estimate=50),
        ]
    )
    assert drain(s) == ["long"]  # long leads into a 50 s tail: release it first


def test_priority_beats_critical_path() -> None:
    s = Scheduler({"one": 1})
    s.add([NodeSpec("a", pool="one", estimate=10), NodeSpec("b", pool="one", priority=5)])
    assert drain(s) == ["b"]


def test_sequential_runs_one_at_a_time_in_topological_order() -> None:
    s = Scheduler(mode="sequential")
    s.add([NodeSpec("a"), NodeSpec("b"), NodeSpec("c", ("a",))])
    order = []
    while not s.finished:
        batch = drain(s)
        assert len(batch) == 1
        order.append(batch[0])
        s.finish(batch[0], "succeeded")
    assert order.index("a") < order.index("c")


def test_waves_hold_the_next_level_until_the_level_ends() -> None:
    s = Scheduler(mode="waves")
    s.add([NodeSpec("a"), NodeSpec("b"), NodeSpec("c", ("a",))])
    assert set(drain(s)) == {"a", "b"}
    s.finish("a", "succeeded")
    assert drain(s) == []  # c is ready but b (level 0) still runs
    s.finish("b", "succeeded")
    assert drain(s) == ["c"]


def test_wave_hint_only_pushes_later() -> None:
    s = Scheduler(mode="waves")
    s.add([NodeSpec("a"), NodeSpec("b", wave=2), NodeSpec("c", ("a",), wave=0)])
    assert [s.level(n) for n in "abc"] == [0, 2, 1]


def test_virtual_nodes_ignore_policy_and_defer_waits_on_new_items() -> None:
    s = Scheduler({"p": 1}, mode="sequential")
    s.add([NodeSpec("src"), NodeSpec("join", ("src",), virtual=True)])
    drain(s)
    s.finish("src", "succeeded")
    assert drain(s) == ["join"]
    s.add([NodeSpec("join[0]", ("src",), pool="p"), NodeSpec("join[1]", ("src",), pool="p")])
    s.defer("join", ["join[0]", "join[1]"])
    assert drain(s) == ["join[0]"]
    s.finish("join[0]", "succeeded")
    assert drain(s) == ["join[1]"]
    s.finish("join[1]", "succeeded")
    assert drain(s) == ["join"]
    s.finish("join", "succeeded")
    assert s.finished


def test_stop_cancels_everything_not_started() -> None:
    s = Scheduler()
    s.add([NodeSpec("a"), NodeSpec("b", ("a",)), NodeSpec("c", ("b",))])
    drain(s)
    assert sorted(s.stop()) == ["b", "c"]
    assert s.next_ready() is None
    s.finish("a", "succeeded")
    assert s.finished


def test_added_node_whose_dependency_already_failed_is_settled_at_once() -> None:
    s = Scheduler()
    s.add([NodeSpec("a"), NodeSpec("keep")])
    drain(s)
    s.finish("a", "failed")
    settled = s.add([NodeSpec("late", ("a",)), NodeSpec("later", ("late",))])
    assert settled == [("late", "skipped"), ("later", "skipped")]
    s.finish("keep", "succeeded")
    assert s.finished


def test_copy_is_independent_of_its_original() -> None:
    template = Scheduler({"p": 1})
    template.add([NodeSpec("src"), NodeSpec("a", ("src",), pool="p"), NodeSpec("b", ("src",))])
    first = template.copy()
    assert drain(first) == ["src"]
    first.finish("src", "succeeded")
    first.add([NodeSpec("extra", ("a",))])  # changes the dependents of "a" in the copy only
    assert sorted(drain(first)) == ["a", "b"]
    first.finish("a", "failed")
    assert first.state("extra") == "skipped"
    # the original has not moved, and a second copy starts from the same place
    assert template.state("src") == "ready" and "extra" not in template
    second = template.copy()
    assert drain(second) == ["src"]
    assert second.deps("a") == ("src",) and "extra" not in second


def test_added_node_after_stop_is_cancelled_and_does_not_hang() -> None:
    s = Scheduler()
    s.add([NodeSpec("a")])
    drain(s)
    s.stop()
    s.add([NodeSpec("late", ("a",))])
    s.finish("a", "succeeded")
    assert s.state("late") == "cancelled"
    assert s.finished


def test_bad_graphs_are_refused() -> None:
    s = Scheduler()
    with pytest.raises(GraphError, match="cycle in phase dependencies: a -> b -> a"):
        s.add([NodeSpec("a", ("b",)), NodeSpec("b", ("a",))])
    with pytest.raises(GraphError, match="unknown phase 'nope'"):
        Scheduler().add([NodeSpec("a", ("nope",))])
    with pytest.raises(GraphError, match="unknown pool 'gpu'"):
        Scheduler().add([NodeSpec("a", pool="gpu")])
    with pytest.raises(GraphError, match="unknown mode"):
        Scheduler(mode="fast")
    with pytest.raises(GraphError, match="at least 1"):
        Scheduler({"p": 0})


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[NodeSpec], dict[str, int | None], str, int]:
    n = draw(st.integers(1, 25))
    pools: dict[str, int | None] = {"p1": draw(st.integers(1, 3)), "p2": draw(st.integers(1, 4))}
    specs = []
    for i in range(n):
        deps = draw(st.lists(st.integers(0, max(0, i - 1)), max_size=3, unique=True)) if i else []
        specs.append(
            NodeSpec(
                f"n{i}",
                tuple(f"n{d}" for d in deps),
                pool=draw(st.sampled_from(["default", "p1", "p2"])),
                priority=draw(st.integers(0, 2)),
                estimate=draw(st.floats(0, 10)),
            )
        )
    mode = draw(st.sampled_from(["parallel", "waves", "sequential"]))
    return specs, pools, mode, draw(st.integers(0, 2**16))


@settings(max_examples=300, deadline=None)
@given(dags())
def test_random_dags_keep_every_invariant(case: tuple[list[NodeSpec], dict, str, int]) -> None:
    specs, pools, mode, seed = case
    rng = random.Random(seed)
    s = Scheduler(pools, mode)
    s.add(specs)
    if seed % 2:  # a run starts from a copy of the flow's compiled scheduler
        template, s = s, s.copy()
        assert template.copy().names() == s.names()
    by_name = {spec.name: spec for spec in specs}
    running: list[str] = []
    status: dict[str, str] = {}
    ended_levels: dict[int, int] = {}
    total_at_level: dict[int, int] = {}
    for spec in specs:
        total_at_level[s.level(spec.name)] = total_at_level.get(s.level(spec.name), 0) + 1
    while not s.finished:
        for name in drain(s):
            assert name not in status and name not in running, "released twice"
            for dep in by_name[name].deps:
                assert status.get(dep) == "succeeded", f"{name} started before {dep}"
            if mode == "waves":
                level = s.level(name)
                for lower in range(level):
                    assert ended_levels.get(lower, 0) == total_at_level.get(lower, 0)
            running.append(name)
        in_pool: dict[str, int] = {}
        for name in running:
            in_pool[by_name[name].pool] = in_pool.get(by_name[name].pool, 0) + 1
        for pool, count in in_pool.items():
            size = pools.get(pool)
            assert size is None or count <= size, f"pool {pool} over capacity"
        if mode == "sequential":
            assert len(running) <= 1
        assert running, "nothing running but the scheduler is not finished"
        name = running.pop(rng.randrange(len(running)))
        outcome = rng.choice(["succeeded"] * 6 + ["failed"])
        settled = [(name, outcome), *s.finish(name, outcome)]
        for settled_name, settled_status in settled:
            assert settled_name not in status, "settled twice"
            status[settled_name] = settled_status
            level = s.level(settled_name)
            ended_levels[level] = ended_levels.get(level, 0) + 1
    assert set(status) == set(by_name), "every node ends in exactly one terminal state"
    for name, st_ in status.items():
        if st_ == "skipped":
            assert any(status[d] in ("failed", "skipped") for d in by_name[name].deps)
