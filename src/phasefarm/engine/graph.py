"""The dependency graph as the scheduler sees it: a node's description, the topological order
of a batch of nodes, and each node's longest remaining path (its critical-path priority).

Pure functions over names and indexes; the scheduler (scheduler.py) keeps the state.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from phasefarm.errors import GraphError

__all__ = ["NodeSpec", "raise_remaining", "topological"]


@dataclass(slots=True)
class NodeSpec:
    """What the scheduler needs to know about one phase. Read-only by convention (not frozen:
    a frozen dataclass costs ~1 µs more to build, and a run builds one per phase)."""

    name: str
    deps: tuple[str, ...] = ()
    pool: str = "default"
    priority: int = 0
    estimate: float = 1.0
    wave: int | None = None  # waves mode: a hint that can only push the node to a later level
    level: int | None = None  # fixed level (items of a map take their join's level)
    virtual: bool = False  # does no work: released at once, holds no slot
    tolerate_failed_deps: bool = False  # ready once deps end, whatever their status


def raise_remaining(
    remaining: list[float],
    specs: Sequence[NodeSpec],
    deps_of: Sequence[Sequence[int]],
    dependents_of: Sequence[Sequence[int]],
    first: int,
) -> None:
    """Set the longest remaining path (by estimate, from the node's start to any end) of the
    nodes from index `first` on, and raise their ancestors' where it grew. Nodes are indexed
    in topological order, so one backward pass covers the new ones."""
    stack: list[int] = []
    for i in range(len(remaining) - 1, first - 1, -1):
        longest = 0.0
        for dependent in dependents_of[i]:
            if remaining[dependent] > longest:
                longest = remaining[dependent]
        remaining[i] = specs[i].estimate + longest
        for dep in deps_of[i]:
            if dep < first:
                stack.append(i)
                break
    while stack:
        i = stack.pop()
        for dep in deps_of[i]:
            candidate = specs[dep].estimate + remaining[i]
            if candidate > remaining[dep]:
                remaining[dep] = candidate
                stack.append(dep)


def topological(batch: list[NodeSpec], known: Collection[str]) -> list[NodeSpec]:
    """Order a batch so every node comes after its in-batch dependencies; GraphError on a cycle.
    `known`: names already in the graph (a set or a dict's keys: not copied)."""
    # fast path: already in order (every dependency known or earlier in the batch)
    earlier: set[str] = set()
    in_order = True
    for spec in batch:
        for dep in spec.deps:
            if dep not in earlier and dep not in known:
                in_order = False
                break
        if not in_order:
            break
        earlier.add(spec.name)
    if in_order:
        return batch
    by_name = {s.name: s for s in batch}
    order: list[NodeSpec] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done
    for root in batch:
        if state.get(root.name):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root.name, 0)]
        while stack:
            name, i = stack.pop()
            if i == 0:
                state[name] = 1
                path.append(name)
            deps = [d for d in by_name[name].deps if d in by_name and d not in known]
            if i < len(deps):
                stack.append((name, i + 1))
                dep = deps[i]
                if state.get(dep) == 1:
                    cycle = [*path[path.index(dep) :], dep]
                    raise GraphError(f"cycle in phase dependencies: {' -> '.join(cycle)}")
                if not state.get(dep):
                    stack.append((dep, 0))
            else:
                state[name] = 2
                path.pop()
                order.append(by_name[name])
    return order
