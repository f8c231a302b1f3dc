"""`flow.plan()`: waves, critical path and estimated time per mode, before any token is spent.

The estimates are not formulas: the real `Scheduler` is driven on a virtual clock where each
phase takes its estimate, so the numbers include pool limits (10 images in a pool of 5 take two
rounds), wave barriers and the release order exactly as a real run would have them.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from phasefarm.engine.graph import NodeSpec
from phasefarm.engine.scheduler import MODES, Scheduler

if TYPE_CHECKING:
    from phasefarm.engine.flow import Flow

__all__ = ["Plan", "make_plan", "simulate"]


@dataclass(frozen=True)
class Plan:
    flow: str
    waves: list[list[str]]
    critical_path: list[str]
    critical_path_s: float  # the lower bound of any schedule, pools included
    durations: dict[str, float]  # per static phase (a map: all its items, pool included)
    estimates: dict[str, float]  # mode -> simulated seconds

    def estimate(self, mode: str) -> float:
        return self.estimates[mode]


def _scheduler(flow: Flow, pools: Mapping[str, int | None], mode: str) -> Scheduler:
    scheduler = Scheduler(dict(pools), mode)
    scheduler.add(spec.node(flow.phases) for spec in flow.phases.values())
    return scheduler


def make_plan(
    flow: Flow,
    *,
    estimates: Mapping[str, float],
    expect: Mapping[str, int],
    pools: Mapping[str, int],
) -> Plan:
    all_pools: dict[str, int | None] = {**flow.pools, **pools}

    def item_estimate(name: str) -> float:
        return float(estimates.get(name, flow.phases[name].estimate))

    durations: dict[str, float] = {}
    for name, spec in flow.phases.items():
        if spec.kind == "map":
            count = expect.get(name, spec.expect)
            size = all_pools.get(spec.pool)
            rounds = math.ceil(count / size) if size else (1 if count else 0)
            durations[name] = item_estimate(name) * rounds
        else:
            durations[name] = item_estimate(name)

    waves_scheduler = _scheduler(flow, all_pools, "waves")
    by_level: dict[int, list[str]] = {}
    for name in waves_scheduler.names():
        by_level.setdefault(waves_scheduler.level(name), []).append(name)
    waves = [by_level[level] for level in sorted(by_level)]

    # longest path by duration, over the topological order the scheduler keeps
    finish: dict[str, float] = {}
    parent: dict[str, str | None] = {}
    for name in waves_scheduler.names():
        deps = waves_scheduler.deps(name)
        best = max(deps, key=lambda d: finish[d], default=None)
        finish[name] = (finish[best] if best else 0.0) + durations[name]
        parent[name] = best
    path: list[str] = []
    node = max(finish, key=lambda n: finish[n], default=None)
    length = finish[node] if node else 0.0
    while node is not None:
        path.append(node)
        node = parent[node]
    path.reverse()

    simulated = {mode: simulate(flow, mode, item_estimate, expect, all_pools) for mode in MODES}
    return Plan(flow.name, waves, path, length, durations, simulated)


def simulate(
    flow: Flow,
    mode: str,
    estimate_of: object,
    expect: Mapping[str, int],
    pools: Mapping[str, int | None],
) -> float:
    """Seconds the run would take in `mode` if every phase took its estimate."""
    assert callable(estimate_of)
    scheduler = _scheduler(flow, pools, mode)
    expanded: set[str] = set()
    running: list[tuple[float, int, str]] = []
    now = 0.0
    seq = 0
    while True:
        while (name := scheduler.next_ready()) is not None:
            spec = flow.phases.get(name)
            if spec is not None and spec.kind == "map":
                if name in expanded:
                    scheduler.finish(name, "succeeded")
                    continue
                expanded.add(name)
                count = expect.get(name, spec.expect)
                level = scheduler.level(name)
                items = [
                    NodeSpec(
                        f"{name}[{i}]",
                        scheduler.deps(name),
                        spec.pool,
                        spec.priority,
                        float(estimate_of(name)),
                        level=level,
                    )
                    for i in range(count)
                ]
                scheduler.add(items)
                scheduler.defer(name, [item.name for item in items])
                continue
            base = name.split("[", 1)[0]
            heapq.heappush(running, (now + float(estimate_of(base)), seq, name))
            seq += 1
        if not running:
            return now
        now, _, name = heapq.heappop(running)
        scheduler.finish(name, "succeeded")
