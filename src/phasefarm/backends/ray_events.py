"""Events of phases running on Ray workers, to the driver while the phases run.

A worker pushes each event its body emits to the backend's `EventRelay` actor (fire and forget;
Ray keeps one caller's calls to an actor in order), and also keeps it for the task's report.
The driver pulls batches and emits them in the phase's scope as they come (`LiveEvents.pump`).
When the task returns, the driver emits what the report holds beyond what already came live
for that attempt, and stops taking live events of the phase: its events stay in order, between
its start and its end, whatever the timing. Events of an attempt whose worker died stay where
they came (they happened: a model call it made was paid).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from phasefarm import scope

__all__ = ["EventRelay", "LiveEvents", "LivePhase"]

PULL_WAIT_S = 0.25  # a pull returns at once with what is there, or after this long


class EventRelay:
    """The actor between workers and the driver: events pile up until the driver pulls."""

    def __init__(self) -> None:
        self.pending: list[tuple[str, str, str, dict[str, Any]]] = []
        self.ready = asyncio.Event()

    async def push(self, token: str, attempt: str, kind: str, data: dict[str, Any]) -> None:
        self.pending.append((token, attempt, kind, data))
        self.ready.set()

    async def pull(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        if not self.pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), PULL_WAIT_S)
        batch, self.pending = self.pending, []
        self.ready.clear()
        return batch


@dataclass
class LivePhase:
    """A phase whose task runs: where its events go, and how many came live per attempt."""

    where: scope.Scope
    emitted: dict[str, int] = field(default_factory=dict)

    def emit(self, kind: str, data: dict[str, Any]) -> None:
        self.where.sink(self.where.phase, kind, data)


class LiveEvents:
    """The driver side: phases by task token, and the task that pulls while any runs."""

    def __init__(self, relay: Any) -> None:
        self.relay = relay
        self.phases: dict[str, LivePhase] = {}
        self._pump: asyncio.Task[None] | None = None

    def watch(self, token: str, where: scope.Scope) -> LivePhase:
        phase = self.phases[token] = LivePhase(where)
        loop = asyncio.get_running_loop()
        if self._pump is None or self._pump.done() or self._pump.get_loop() is not loop:
            self._pump = loop.create_task(self.pump(), name="phasefarm-ray-events")
        return phase

    def forget(self, token: str) -> None:
        """The task returned (or failed): take no more live events for it."""
        self.phases.pop(token, None)

    @staticmethod
    def finish(phase: LivePhase, attempt: str, events: list[tuple[str, dict[str, Any]]]) -> None:
        """After `forget`: emit what of the returning attempt's events did not come live."""
        for kind, data in events[phase.emitted.get(attempt, 0) :]:
            phase.emit(kind, data)

    async def pump(self) -> None:
        while self.phases:
            batch = await self.relay.pull.remote()
            for token, attempt, kind, data in batch:
                phase = self.phases.get(token)
                if phase is not None:  # else its task has returned: the report had it
                    phase.emitted[attempt] = phase.emitted.get(attempt, 0) + 1
                    phase.emit(kind, data)
