"""The scheduler: a pure state machine that decides which phase may start next.

No asyncio, no clocks, no phase bodies: it knows nodes, their dependencies, pools and a release
policy. A run (engine/run.py) drives it for real runs; `plan()` drives the same object on a
virtual clock to estimate a run. Modes differ only in `next_ready()`'s release policy:

- parallel: any ready node whose pool has room; highest priority, then longest remaining
  path (critical path first), then insertion order.
- waves: as parallel, but no node of level k+1 before every node of level k has ended.
- sequential: one non-virtual node at a time, in topological order.

Virtual nodes (a map's join) do no work: they are released as soon as they are ready, whatever
the policy or pool, and never hold a slot.

State is kept in flat per-node lists indexed by insertion order rather than in an object per
node: a run of 10,000 phases builds and walks these lists in a few milliseconds, and `copy()`
gives a fresh run its own state from a graph compiled once (see `Flow.compiled`). Node
descriptions, topological order and critical-path lengths are in graph.py.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from phasefarm.engine.graph import NodeSpec, raise_remaining, topological
from phasefarm.errors import GraphError

__all__ = ["MODES", "Scheduler"]

Mode = Literal["parallel", "waves", "sequential"]
MODES: tuple[str, ...] = ("parallel", "waves", "sequential")

WAITING, READY, RUNNING = "waiting", "ready", "running"
SUCCEEDED, FAILED, SKIPPED, CANCELLED = "succeeded", "failed", "skipped", "cancelled"
TERMINAL = frozenset({SUCCEEDED, FAILED, SKIPPED, CANCELLED})
_OPEN = frozenset({WAITING, READY})
# why a waiting node can no longer run as planned (bits of Scheduler._blocked)
_DEP_FAILED, _DEP_CANCELLED = 1, 2
_BLOCKS = {FAILED: _DEP_FAILED, SKIPPED: _DEP_FAILED, CANCELLED: _DEP_CANCELLED}


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
        # no pool size, no max_running, no barrier: the best ready node may always start
        self._unlimited = (
            mode == "parallel"
            and max_running is None
            and all(size is None for size in self.pools.values())
        )
        # one entry per node, by index (insertion order, topological within each add())
        self._index: dict[str, int] = {}
        self._names: list[str] = []
        self._specs: list[NodeSpec] = []
        self._state: list[str] = []
        self._missing: list[int] = []  # dependencies not yet ended
        self._blocked: list[int] = []  # _DEP_FAILED | _DEP_CANCELLED
        self._level: list[int] = []
        self._remaining: list[float] = []  # longest path from the node's start to any end
        # tuples until a node's list changes (then a list of its own): copy() shares them
        self._deps: list[tuple[int, ...] | list[int]] = []
        self._dependents: list[tuple[int, ...] | list[int]] = []
        self._has_lists = False  # some entry of _deps or _dependents is a list
        # releasing
        # releasing: one heap of sort keys (ending in the node's index) for every ready node;
        # a node met at its top while its pool is full waits in that pool's held heap, and
        # the best of those goes back each time the pool frees a slot. When nothing limits
        # releases (_unlimited), every ready node is released at the next pump anyway, so
        # _ready is a plain list, sorted best-last once before it is drained.
        self._ready: list[tuple[Any, ...]] = []
        self._sorted = True  # _unlimited: _ready is sorted best-last
        self._held: dict[str, list[tuple[Any, ...]]] = {}
        self._virtual_ready: list[int] = []
        self._ready_count = 0  # entries in _ready and _held
        self._in_pool: dict[str, int] = dict.fromkeys(self.pools, 0)
        self._running = 0  # non-virtual running
        self._unfinished_at_level: dict[int, int] = {}
        self._done = 0  # nodes in a terminal state
        self._stopped = False

    def copy(self) -> Scheduler:
        """An independent scheduler in the same state (a fresh run's from a compiled graph)."""
        new = Scheduler.__new__(Scheduler)
        new.__dict__.update(self.__dict__)
        new.pools = dict(self.pools)
        new._index = dict(self._index)
        new._names = list(self._names)
        new._specs = list(self._specs)
        new._state = list(self._state)
        new._missing = list(self._missing)
        new._blocked = list(self._blocked)
        new._level = list(self._level)
        new._remaining = list(self._remaining)
        if self._has_lists:
            for lists in (self._deps, self._dependents):
                for i, seq in enumerate(lists):
                    if type(seq) is list:
                        lists[i] = tuple(seq)  # shared from now on: no longer changed in place
            self._has_lists = False
        new._deps = list(self._deps)
        new._dependents = list(self._dependents)
        new._ready = list(self._ready)
        new._held = {pool: list(heap) for pool, heap in self._held.items()}
        new._virtual_ready = list(self._virtual_ready)
        new._in_pool = dict(self._in_pool)
        new._unfinished_at_level = dict(self._unfinished_at_level)
        return new

    # -- building -------------------------------------------------------------------------

    def add(self, specs: Iterable[NodeSpec]) -> list[tuple[str, str]]:
        """Add nodes; dependencies must name known nodes or nodes of the same batch.

        Returns the new nodes settled at once, with their status: cancelled if the scheduler
        is stopped, skipped (or cancelled) if a dependency already failed (or was cancelled).
        """
        batch = list(specs)
        index = self._index
        names = {s.name for s in batch}
        if len(names) != len(batch) or not names.isdisjoint(index):
            seen: set[str] = set()
            for spec in batch:
                if spec.name in index or spec.name in seen:
                    raise GraphError(f"duplicate phase name {spec.name!r}")
                seen.add(spec.name)
        for spec in batch:
            if spec.pool not in self.pools:
                known = ", ".join(sorted(self.pools))
                raise GraphError(
                    f"phase {spec.name!r} uses unknown pool {spec.pool!r} (known: {known})"
                )
            for dep in spec.deps:
                if dep not in index and dep not in names:
                    raise GraphError(f"phase {spec.name!r} depends on unknown phase {dep!r}")
        ordered = topological(batch, index.keys())
        first = len(self._names)
        self._insert(ordered)
        # priorities need the remaining path, so nodes become ready only after it is known
        # (a node already in a ready heap keeps the key it had: a harmless, stale tie-break)
        raise_remaining(self._remaining, self._specs, self._deps, self._dependents, first)
        state, blocked = self._state, self._blocked
        settled: list[tuple[str, str]] = []
        for i in range(first, len(self._names)):
            if state[i] != WAITING:
                continue  # settled below by an earlier node of the batch
            if self._stopped:
                self._settle(i, CANCELLED)
                settled.append((self._names[i], CANCELLED))
            elif blocked[i] and not self._specs[i].tolerate_failed_deps:
                status = CANCELLED if blocked[i] & _DEP_CANCELLED else SKIPPED
                self._settle(i, status)
                settled.append((self._names[i], status))
                self._propagate(i, settled)
            else:
                self._maybe_ready(i)
        return settled

    def _insert(self, batch: list[NodeSpec]) -> None:
        """Append a topologically ordered batch (one pass; list extends where it can)."""
        first = len(self._names)
        index, level_of, state = self._index, self._level, self._state
        at_level = self._unfinished_at_level
        names = [spec.name for spec in batch]
        index.update(zip(names, range(first, first + len(batch)), strict=True))
        self._names.extend(names)
        self._specs.extend(batch)
        state.extend([WAITING] * len(batch))
        self._remaining.extend([spec.estimate for spec in batch])
        self._dependents.extend([()] * len(batch))
        deps_of: list[tuple[int, ...] | list[int]] = []
        missing_of: list[int] = []
        blocked_of: list[int] = []
        dependents = self._dependents
        for i, spec in enumerate(batch, first):
            missing = blocked = level = 0
            if spec.deps:
                deps = tuple(map(index.__getitem__, spec.deps))
                for dep in deps:  # a plain loop: max() over a generator costs more here
                    if level_of[dep] >= level:
                        level = level_of[dep] + 1
                    self._append(dependents, dep, i)
                    dep_state = state[dep]
                    if dep_state in TERMINAL:
                        blocked |= _BLOCKS.get(dep_state, 0)
                    else:
                        missing += 1
            else:
                deps = ()
            if spec.level is not None:
                level = spec.level
            elif spec.wave is not None and spec.wave > level:
                level = spec.wave
            level_of.append(level)
            at_level[level] = at_level.get(level, 0) + 1
            deps_of.append(deps)
            missing_of.append(missing)
            blocked_of.append(blocked)
        self._deps.extend(deps_of)
        self._missing.extend(missing_of)
        self._blocked.extend(blocked_of)

    def _append(self, lists: list[tuple[int, ...] | list[int]], i: int, value: int) -> None:
        seq = lists[i]
        if type(seq) is list:
            seq.append(value)
        else:
            lists[i] = [*seq, value]
            self._has_lists = True

    def defer(self, name: str, new_deps: Sequence[str]) -> None:
        """Send a running node back to waiting, now also on `new_deps` (a map's items)."""
        i = self._index[name]
        if self._state[i] != RUNNING:
            raise RuntimeError(f"defer() needs a running node, {name!r} is {self._state[i]}")
        if not self._specs[i].virtual:
            self._release_slot(i)
        self._state[i] = WAITING
        for dep_name in new_deps:
            dep = self._index[dep_name]
            self._append(self._deps, i, dep)
            self._append(self._dependents, dep, i)
            dep_state = self._state[dep]
            if dep_state in TERMINAL:
                self._blocked[i] |= _BLOCKS.get(dep_state, 0)
            else:
                self._missing[i] += 1
        self._maybe_ready(i)

    # -- releasing ------------------------------------------------------------------------

    @property
    def has_ready(self) -> bool:
        """Whether any node waits for release (pools or the policy may still hold it)."""
        return self._ready_count > 0 or bool(self._virtual_ready)

    def can_submit(self) -> bool:
        """Whether next_ready() would release something now (back-pressure for executors)."""
        return bool(self._virtual_ready) or self._best() >= 0

    def next_ready(self) -> str | None:
        """Release the best node that may start now and mark it running, or None."""
        if self._virtual_ready:
            i = self._virtual_ready.pop()
            self._state[i] = RUNNING
            return self._names[i]
        if not self._ready:
            return None
        if self._unlimited:
            if self._stopped:
                return None
            if not self._sorted:
                self._ready.sort(reverse=True)  # near-linear: keys mostly arrive in order
                self._sorted = True
            i = self._ready.pop()[-1]
        else:
            i = self._best()
            if i < 0:
                return None
            heapq.heappop(self._ready)
        self._ready_count -= 1
        self._state[i] = RUNNING
        self._running += 1
        self._in_pool[self._specs[i].pool] += 1
        return self._names[i]

    def _best(self) -> int:
        """The index of the node next_ready() would release now, or -1."""
        ready = self._ready
        if not ready or self._stopped:
            return -1
        if self._unlimited:
            return int(min(ready)[-1])
        if self._running:
            if self.mode == "sequential":
                return -1
            if self.max_running is not None and self._running >= self.max_running:
                return -1
        while ready:
            key = ready[0]
            i: int = key[-1]
            pool = self._specs[i].pool
            size = self.pools[pool]
            if size is not None and self._in_pool[pool] >= size:
                heapq.heappush(self._held.setdefault(pool, []), heapq.heappop(ready))
                continue
            if self.mode == "waves" and self._level[i] > self._lowest_open_level():
                return -1
            return i
        return -1

    def _lowest_open_level(self) -> int:
        open_levels = [level for level, count in self._unfinished_at_level.items() if count]
        return min(open_levels, default=0)

    def _maybe_ready(self, i: int) -> None:
        if self._state[i] != WAITING or self._missing[i]:
            return
        spec = self._specs[i]
        if self._blocked[i] and not spec.tolerate_failed_deps:
            return  # settled by _propagate
        self._state[i] = READY
        if spec.virtual:
            self._virtual_ready.append(i)
            return
        if self.mode == "parallel":
            key: tuple[Any, ...] = (-spec.priority, -self._remaining[i], i)
        else:  # waves and sequential: lower levels first, so the order is topological
            key = (self._level[i], -spec.priority, -self._remaining[i], i)
        if self._unlimited:
            self._ready.append(key)
            self._sorted = False
        else:
            heapq.heappush(self._ready, key)
        self._ready_count += 1

    # -- finishing ------------------------------------------------------------------------

    def finish(self, name: str, status: str) -> list[tuple[str, str]]:
        """Record a running node's end. Returns the nodes this settles in turn, with their
        status: dependents of a failed node are skipped, of a cancelled node cancelled."""
        if status not in TERMINAL:
            raise ValueError(f"not a terminal status: {status!r}")
        i = self._index[name]
        if self._state[i] != RUNNING:
            raise RuntimeError(f"finish() needs a running node, {name!r} is {self._state[i]}")
        if not self._specs[i].virtual:
            self._release_slot(i)
        self._settle(i, status)
        settled: list[tuple[str, str]] = []
        self._propagate(i, settled)
        return settled

    def _release_slot(self, i: int) -> None:
        self._running -= 1
        pool = self._specs[i].pool
        self._in_pool[pool] -= 1
        held = self._held.get(pool)
        if held:  # the pool has room again: its best waiting node competes again
            heapq.heappush(self._ready, heapq.heappop(held))

    def _settle(self, i: int, status: str) -> None:
        self._state[i] = status
        self._done += 1
        self._unfinished_at_level[self._level[i]] -= 1

    def _propagate(self, start: int, settled: list[tuple[str, str]]) -> None:
        state, missing, blocked = self._state, self._missing, self._blocked
        stack = [start]
        while stack:
            i = stack.pop()
            block = _BLOCKS.get(state[i], 0)
            for dependent in self._dependents[i]:
                if state[dependent] != WAITING:
                    continue
                missing[dependent] -= 1
                blocked[dependent] |= block
                if blocked[dependent] and not self._specs[dependent].tolerate_failed_deps:
                    # settle now: nothing it waits for can make it runnable again
                    status = CANCELLED if blocked[dependent] & _DEP_CANCELLED else SKIPPED
                    self._settle(dependent, status)
                    settled.append((self._names[dependent], status))
                    stack.append(dependent)
                else:
                    self._maybe_ready(dependent)

    def stop(self) -> list[str]:
        """Release nothing more; every node not yet started is cancelled. Returns them."""
        self._stopped = True
        cancelled: list[str] = []
        for i, state in enumerate(self._state):
            if state in _OPEN:
                self._settle(i, CANCELLED)
                cancelled.append(self._names[i])
        self._ready.clear()
        self._held.clear()
        self._ready_count = 0
        self._virtual_ready.clear()
        return cancelled

    # -- reading --------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._done == len(self._names)

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def done_count(self) -> int:
        return self._done

    @property
    def total(self) -> int:
        return len(self._names)

    @property
    def running_count(self) -> int:
        return self._running

    def state(self, name: str) -> str:
        return self._state[self._index[name]]

    def level(self, name: str) -> int:
        return self._level[self._index[name]]

    def remaining(self, name: str) -> float:
        return self._remaining[self._index[name]]

    def deps(self, name: str) -> tuple[str, ...]:
        names = self._names
        return tuple(names[dep] for dep in self._deps[self._index[name]])

    def spec(self, name: str) -> NodeSpec:
        return self._specs[self._index[name]]

    def names(self) -> list[str]:
        return list(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._index
