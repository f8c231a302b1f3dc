"""The scheduler: a pure state machine that decides which phase may start next.

No asyncio, no clocks, no phase bodies: it knows nodes, their dependencies, pools and a release
policy. The asyncio runner drives it for real runs; `plan()` drives the same object on a
virtual clock to estimate a run. Modes differ only in `next_ready()`'s release policy:

- parallel: any ready node whose pool has room; highest priority, then longest remaining
  path (critical path first), then insertion order.
- waves: as parallel, but no node of level k+1 before every node of level k has ended.
- sequential: one non-virtual node at a time, in topological order.

Virtual nodes (a map's join) do no work: they are released as soon as they are ready, whatever
the policy or pool, and never hold a slot.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from phasefarm.errors import GraphError

__all__ = ["MODES", "NodeSpec", "Scheduler"]

Mode = Literal["parallel", "waves", "sequential"]
MODES: tuple[str, ...] = ("parallel", "waves", "sequential")

WAITING, READY, RUNNING = "waiting", "ready", "running"
SUCCEEDED, FAILED, SKIPPED, CANCELLED = "succeeded", "failed", "skipped", "cancelled"
TERMINAL = frozenset({SUCCEEDED, FAILED, SKIPPED, CANCELLED})


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


@dataclass(slots=True, eq=False)
class _Node:
    spec: NodeSpec
    deps: list[str]
    dependents: list[str] = field(default_factory=list)
    missing: int = 0
    state: str = WAITING
    level: int = 0
    remaining: float = 0.0
    seq: int = 0
    dep_failed: bool = False  # a dependency failed or was skipped
    dep_cancelled: bool = False  # a dependency was cancelled


class Scheduler:
    """Ready set, running set, pool capacity; `next_ready()` releases, `finish()` records."""

    def __init__(
        self,
        pools: dict[str, int | None] | None = None,
        mode: str = "parallel",
        max_running: int | None = None,
    ) -> None:
        if mode not in MODES:
            raise GraphError(f"unknown mode {mode!r} (choose {', '.join(MODES)})")
        self.mode = mode
        self.pools: dict[str, int | None] = {"default": None, **(pools or {})}
        for pool, size in self.pools.items():
            if size is not None and size < 1:
                raise GraphError(f"pool {pool!r} must have a size of at least 1, got {size}")
        self.max_running = max_running
        self._nodes: dict[str, _Node] = {}
        self._ready: dict[str, list[tuple[object, ...]]] = {}  # pool -> heap
        self._virtual_ready: list[str] = []
        self._ready_count = 0  # entries in the pool heaps
        self._in_pool: dict[str, int] = {}
        self._running = 0  # non-virtual running
        self._unfinished_at_level: dict[int, int] = {}
        self._open = 0  # nodes not yet terminal
        self._done = 0
        self._seq = 0
        self._stopped = False

    # -- building -------------------------------------------------------------------------

    def add(self, specs: Iterable[NodeSpec]) -> None:
        """Add nodes; dependencies must name known nodes or nodes of the same batch."""
        batch = list(specs)
        names = {s.name for s in batch}
        for spec in batch:
            if spec.name in self._nodes:
                raise GraphError(f"duplicate phase name {spec.name!r}")
            if spec.pool not in self.pools:
                known = ", ".join(sorted(self.pools))
                raise GraphError(
                    f"phase {spec.name!r} uses unknown pool {spec.pool!r} (known: {known})"
                )
            for dep in spec.deps:
                if dep not in self._nodes and dep not in names:
                    raise GraphError(f"phase {spec.name!r} depends on unknown phase {dep!r}")
        ordered = _topological(batch, self._nodes.keys())
        for spec in ordered:
            self._insert(spec)
        # priorities need the remaining path, so nodes become ready only after it is known
        # (a node already in a ready heap keeps the key it had: a harmless, stale tie-break)
        self._raise_remaining(ordered)
        for spec in ordered:
            node = self._nodes[spec.name]
            if self._stopped and node.state == WAITING:
                self._settle(node, CANCELLED)
            else:
                self._maybe_ready(node)

    def _insert(self, spec: NodeSpec) -> None:
        node = _Node(spec=spec, deps=list(spec.deps), seq=self._seq)
        self._seq += 1
        if spec.level is not None:
            node.level = spec.level
        else:
            level = 0
            for dep in spec.deps:  # a plain loop: max() over a generator costs more here
                dep_level = self._nodes[dep].level + 1
                if dep_level > level:
                    level = dep_level
            wave = spec.wave
            node.level = wave if wave is not None and wave > level else level
        self._nodes[spec.name] = node
        self._open += 1
        self._unfinished_at_level[node.level] = self._unfinished_at_level.get(node.level, 0) + 1
        for dep in spec.deps:
            dep_node = self._nodes[dep]
            dep_node.dependents.append(spec.name)
            if dep_node.state in TERMINAL:
                self._note_dep_end(node, dep_node.state)
            else:
                node.missing += 1

    def _raise_remaining(self, batch: Sequence[NodeSpec]) -> None:
        """Longest remaining path (by estimate) for new nodes and their ancestors."""
        stack: list[str] = []
        nodes = self._nodes
        for spec in reversed(batch):
            node = nodes[spec.name]
            longest = 0.0
            for dependent in node.dependents:
                remaining = nodes[dependent].remaining
                if remaining > longest:
                    longest = remaining
            node.remaining = spec.estimate + longest
            if node.deps:
                stack.append(spec.name)
        while stack:
            node = self._nodes[stack.pop()]
            for dep in node.deps:
                dep_node = self._nodes[dep]
                candidate = dep_node.spec.estimate + node.remaining
                if candidate > dep_node.remaining:
                    dep_node.remaining = candidate
                    stack.append(dep)

    def defer(self, name: str, new_deps: Sequence[str]) -> None:
        """Send a running node back to waiting, now also on `new_deps` (a map's items)."""
        node = self._nodes[name]
        if node.state != RUNNING:
            raise RuntimeError(f"defer() needs a running node, {name!r} is {node.state}")
        self._release_slot(node)
        node.state = WAITING
        for dep in new_deps:
            dep_node = self._nodes[dep]
            node.deps.append(dep)
            dep_node.dependents.append(name)
            if dep_node.state in TERMINAL:
                self._note_dep_end(node, dep_node.state)
            else:
                node.missing += 1
        self._maybe_ready(node)

    # -- releasing ------------------------------------------------------------------------

    @property
    def has_ready(self) -> bool:
        """Whether any node waits for release (pools or the policy may still hold it)."""
        return self._ready_count > 0 or bool(self._virtual_ready)

    def can_submit(self) -> bool:
        """Whether next_ready() would release something now (back-pressure for executors)."""
        if self._virtual_ready:
            return True
        return self._pick(peek=True) is not None

    def next_ready(self) -> str | None:
        """Release the best node that may start now and mark it running, or None."""
        if self._virtual_ready:
            name = self._virtual_ready.pop()
            self._nodes[name].state = RUNNING
            return name
        picked = self._pick(peek=False)
        if picked is None:
            return None
        node = self._nodes[picked]
        node.state = RUNNING
        self._running += 1
        self._in_pool[node.spec.pool] = self._in_pool.get(node.spec.pool, 0) + 1
        return picked

    def _pick(self, *, peek: bool) -> str | None:
        if self._stopped:
            return None
        if self.mode == "sequential" and self._running:
            return None
        if self.max_running is not None and self._running >= self.max_running:
            return None
        barrier = self._lowest_open_level() if self.mode == "waves" else None
        best_pool: str | None = None
        best_key: tuple[object, ...] | None = None
        for pool, heap in self._ready.items():
            if not heap:
                continue
            size = self.pools[pool]
            if size is not None and self._in_pool.get(pool, 0) >= size:
                continue
            key = heap[0]
            if best_key is None or key < best_key:
                best_key, best_pool = key, pool
        if best_pool is None or best_key is None:
            return None
        name = best_key[-1]
        assert isinstance(name, str)
        if barrier is not None and self._nodes[name].level > barrier:
            return None
        if not peek:
            heapq.heappop(self._ready[best_pool])
            self._ready_count -= 1
        return name

    def _lowest_open_level(self) -> int:
        open_levels = [level for level, count in self._unfinished_at_level.items() if count]
        return min(open_levels, default=0)

    def _sort_key(self, node: _Node) -> tuple[object, ...]:
        if self.mode == "parallel":
            return (-node.spec.priority, -node.remaining, node.seq, node.spec.name)
        # waves and sequential: lower levels first, so the order is topological
        return (node.level, -node.spec.priority, -node.remaining, node.seq, node.spec.name)

    def _maybe_ready(self, node: _Node) -> None:
        if node.state != WAITING or node.missing:
            return
        if (node.dep_failed or node.dep_cancelled) and not node.spec.tolerate_failed_deps:
            return  # settled by _cascade
        node.state = READY
        if node.spec.virtual:
            self._virtual_ready.append(node.spec.name)
        else:
            heapq.heappush(self._ready.setdefault(node.spec.pool, []), self._sort_key(node))
            self._ready_count += 1

    # -- finishing ------------------------------------------------------------------------

    def finish(self, name: str, status: str) -> list[tuple[str, str]]:
        """Record a running node's end. Returns the nodes this settles in turn, with their
        status: dependents of a failed node are skipped, of a cancelled node cancelled."""
        if status not in TERMINAL:
            raise ValueError(f"not a terminal status: {status!r}")
        node = self._nodes[name]
        if node.state != RUNNING:
            raise RuntimeError(f"finish() needs a running node, {name!r} is {node.state}")
        self._release_slot(node)
        self._settle(node, status)
        settled: list[tuple[str, str]] = []
        self._propagate(node, settled)
        return settled

    def _release_slot(self, node: _Node) -> None:
        if not node.spec.virtual:
            self._running -= 1
            self._in_pool[node.spec.pool] -= 1

    def _settle(self, node: _Node, status: str) -> None:
        node.state = status
        self._open -= 1
        self._done += 1
        self._unfinished_at_level[node.level] -= 1

    def _note_dep_end(self, node: _Node, status: str) -> None:
        if status in (FAILED, SKIPPED):
            node.dep_failed = True
        elif status == CANCELLED:
            node.dep_cancelled = True

    def _propagate(self, start: _Node, settled: list[tuple[str, str]]) -> None:
        stack = [start]
        while stack:
            node = stack.pop()
            for dep_name in node.dependents:
                dependent = self._nodes[dep_name]
                if dependent.state != WAITING:
                    continue
                dependent.missing -= 1
                self._note_dep_end(dependent, node.state)
                blocked = dependent.dep_failed or dependent.dep_cancelled
                if blocked and not dependent.spec.tolerate_failed_deps:
                    # settle now: nothing it waits for can make it runnable again
                    status = CANCELLED if dependent.dep_cancelled else SKIPPED
                    self._settle(dependent, status)
                    settled.append((dep_name, status))
                    stack.append(dependent)
                else:
                    self._maybe_ready(dependent)

    def stop(self) -> list[str]:
        """Release nothing more; every node not yet started is cancelled. Returns them."""
        self._stopped = True
        cancelled: list[str] = []
        for name, node in self._nodes.items():
            if node.state in (WAITING, READY):
                self._settle(node, CANCELLED)
                cancelled.append(name)
        self._ready.clear()
        self._ready_count = 0
        self._virtual_ready.clear()
        return cancelled

    # -- reading --------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._open == 0

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def done_count(self) -> int:
        return self._done

    @property
    def total(self) -> int:
        return len(self._nodes)

    @property
    def running_count(self) -> int:
        return self._running

    def state(self, name: str) -> str:
        return self._nodes[name].state

    def level(self, name: str) -> int:
        return self._nodes[name].level

    def remaining(self, name: str) -> float:
        return self._nodes[name].remaining

    def deps(self, name: str) -> tuple[str, ...]:
        return tuple(self._nodes[name].deps)

    def spec(self, name: str) -> NodeSpec:
        return self._nodes[name].spec

    def names(self) -> list[str]:
        return list(self._nodes)

    def __contains__(self, name: object) -> bool:
        return name in self._nodes


def _topological(batch: list[NodeSpec], known: Iterable[str]) -> list[NodeSpec]:
    """Order a batch so every node comes after its in-batch dependencies; GraphError on a cycle."""
    known_set = set(known)
    by_name = {s.name: s for s in batch}
    # fast path: already in order (every dependency known or earlier in the batch)
    seen = known_set.copy()
    in_order = True
    for spec in batch:
        for dep in spec.deps:
            if dep not in seen:
                in_order = False
                break
        if not in_order:
            break
        seen.add(spec.name)
    if in_order:
        return batch
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
            deps = [d for d in by_name[name].deps if d in by_name and d not in known_set]
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
