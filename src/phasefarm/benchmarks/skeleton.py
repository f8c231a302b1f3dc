"""A flow's shape without its work, and a virtual clock that schedules it under three policies.

`Skeleton.from_flow` keeps what timing depends on: each phase's dependencies, calls (a map's
expected items), seconds per call, pool, and the wave it belongs to. `simulate` runs the
skeleton on a virtual clock, every call taking the seconds it is given:

- "dependency": a phase's calls start once its dependencies have ended (phasefarm "parallel");
- "waves": also only once every phase of the earlier waves has ended (phasefarm "waves");
- "supersteps": a phase runs in the superstep after its last dependency's; a superstep starts
  when the previous one has ended (LangGraph's Pregel loop with waiting edges, a map's items
  fanned out as nodes of one superstep);
- "sequential": one call at a time, in the flow's order.

Pools (at most N calls of a pool at once) hold in every policy. With the flow's own estimates,
"dependency", "waves" and "sequential" give what `flow.plan()` estimates (a test checks it).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phasefarm.engine.flow import Flow

__all__ = ["POLICIES", "Skeleton", "Step", "simulate"]

POLICIES = ("dependency", "waves", "supersteps", "sequential")


@dataclass(frozen=True)
class Step:
    name: str
    deps: tuple[str, ...]
    seconds: float  # per call
    calls: int  # 1 for a phase, the expected items for a map
    pool: str | None  # a pool with a size, or None (unlimited)
    wave: int  # index into plan.waves
    over: str | None  # a map's source phase, None for a phase


@dataclass(frozen=True)
class Skeleton:
    steps: tuple[Step, ...]  # in an order where dependencies come first
    pools: Mapping[str, int]

    @classmethod
    def from_flow(cls, flow: Flow) -> Skeleton:
        plan = flow.plan()
        wave_of = {name: i for i, names in enumerate(plan.waves) for name in names}
        pools = {name: size for name, size in flow.pools.items() if size}
        steps = []
        for names in plan.waves:
            for name in names:
                spec = flow.phases[name]
                steps.append(
                    Step(
                        name=name,
                        deps=tuple(spec.node(flow.phases).deps),
                        seconds=float(spec.estimate),
                        calls=spec.expect if spec.kind == "map" else 1,
                        pool=spec.pool if spec.pool in pools else None,
                        wave=wave_of[name],
                        over=spec.over if spec.kind == "map" else None,
                    )
                )
        return cls(tuple(steps), pools)

    def durations(self) -> dict[str, list[float]]:
        """Every call's seconds as the estimates say."""
        return {step.name: [step.seconds] * step.calls for step in self.steps}

    def superstep(self) -> dict[str, int]:
        """LangGraph's superstep of each step: one after its last dependency's."""
        level: dict[str, int] = {}
        for step in self.steps:
            level[step.name] = 1 + max((level[d] for d in step.deps), default=-1)
        return level

    def bound(self, durations: Mapping[str, Sequence[float]]) -> float:
        """A lower bound of any schedule: the longest dependency path, a pooled map of n calls
        counted as the most of: its longest call, its total / pool size, and the sum of its
        ceil(n / pool) shortest calls (some slot of the pool runs at least that many)."""
        finish: dict[str, float] = {}
        for step in self.steps:
            calls = durations[step.name]
            size = self.pools.get(step.pool) if step.pool else None
            length = max(calls, default=0.0)
            if size:
                rounds = math.ceil(len(calls) / size)
                length = max(length, sum(calls) / size, sum(sorted(calls)[:rounds]))
            finish[step.name] = max((finish[d] for d in step.deps), default=0.0) + length
        return max(finish.values(), default=0.0)


def simulate(
    skeleton: Skeleton, durations: Mapping[str, Sequence[float]], policy: str
) -> tuple[float, dict[str, tuple[float, float]]]:
    """Makespan under `policy`, and each call's (start, end) keyed `name` or `name[i]`."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    steps = skeleton.steps
    level = skeleton.superstep() if policy == "supersteps" else {s.name: s.wave for s in steps}
    left = {s.name: s.calls for s in steps}  # calls not yet ended
    released: set[str] = set()
    queue: list[tuple[int, int, str, float]] = []  # (step order, item, key, seconds)
    busy = {pool: 0 for pool in skeleton.pools}
    running: list[tuple[float, int, str, str | None]] = []  # (end, seq, key, pool)
    spans: dict[str, tuple[float, float]] = {}
    now, seq = 0.0, 0

    def gate_open(step: Step) -> bool:
        if any(left[d] for d in step.deps):
            return False
        if policy == "sequential":
            return not running and not queue
        if policy in ("waves", "supersteps"):
            return all(not left[s.name] for s in steps if level[s.name] < level[step.name])
        return True

    while True:
        again = True
        while again:  # a step without calls ends at once and may open further gates
            again = False
            for order, step in enumerate(steps):
                if step.name in released or not gate_open(step):
                    continue
                released.add(step.name)
                calls = durations[step.name]
                for i, seconds in enumerate(calls):
                    key = step.name if step.calls == 1 else f"{step.name}[{i}]"
                    heapq.heappush(queue, (order, i, key, seconds))
                if not calls:
                    left[step.name] = 0
                    again = True
                if policy == "sequential":
                    break
        waiting: list[tuple[int, int, str, float]] = []
        while queue and not (policy == "sequential" and running):
            order, i, key, seconds = heapq.heappop(queue)
            pool = steps[order].pool
            if pool is not None and busy[pool] >= skeleton.pools[pool]:
                waiting.append((order, i, key, seconds))
                continue
            if pool is not None:
                busy[pool] += 1
            heapq.heappush(running, (now + seconds, seq, key, pool))
            spans[key] = (now, now + seconds)
            seq += 1
        for item in waiting:
            heapq.heappush(queue, item)
        if not running:
            if len(released) < len(steps):
                raise RuntimeError("the skeleton cannot finish: a dependency never ends")
            return now, spans
        now, _, key, pool = heapq.heappop(running)
        if pool is not None:
            busy[pool] -= 1
        left[key.split("[", 1)[0]] -= 1
