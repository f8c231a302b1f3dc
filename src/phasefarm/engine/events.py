"""Typed, timestamped events of a run.

Every event has a sequence number (unique and increasing within a run, so a web client can
replay from where it left off), `t` in seconds since the run started, a `kind`, the run id and
the phase key it concerns (None for run-level events). Kinds with their own class carry typed
fields; custom kinds sent by phases (`usage`, `limiter.wait`, ...) are plain `Event`s.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple, overload

__all__ = [
    "EVENT_CLASSES",
    "Event",
    "PhaseAdded",
    "PhaseCancelled",
    "PhaseFailed",
    "PhaseRetrying",
    "PhaseSkipped",
    "PhaseStarted",
    "PhaseSucceeded",
    "Progress",
    "RunFinished",
    "RunStarted",
    "Timeline",
]


class Event(NamedTuple):
    """One thing that happened in a run.

    A named tuple: a run creates three per phase and the runner builds them with
    `tuple.__new__`, several times cheaper than a dataclass (engine overhead budget, README).
    """

    seq: int
    t: float
    kind: str
    run_id: str
    phase: str | None = None
    data: dict[str, Any] = {}  # noqa: RUF012 - never mutated; the runner always passes one

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "t": round(self.t, 6),
            "kind": self.kind,
            "run_id": self.run_id,
            "phase": self.phase,
            "data": self.data,
        }

    def __repr__(self) -> str:
        where = f" {self.phase}" if self.phase else ""
        return f"<{type(self).__name__} #{self.seq} {self.kind}{where} t={self.t:.4f} {self.data}>"


class RunStarted(Event):
    """data: flow, mode, total, resumed"""

    __slots__ = ()


class RunFinished(Event):
    """data: status, elapsed_s, stop_reason, usage"""

    __slots__ = ()


class PhaseAdded(Event):
    """data: deps, pool, added_by"""

    __slots__ = ()


class PhaseStarted(Event):
    """data: attempt, pool"""

    __slots__ = ()


class PhaseSucceeded(Event):
    """data: attempts, restored"""

    __slots__ = ()


class PhaseFailed(Event):
    """data: attempts, error"""

    __slots__ = ()


class PhaseSkipped(Event):
    """data: reason"""

    __slots__ = ()


class PhaseCancelled(Event):
    """data: reason"""

    __slots__ = ()


class PhaseRetrying(Event):
    """data: attempt (the one that failed), error, delay_s"""

    __slots__ = ()


class Progress(Event):
    """data: done, total"""

    __slots__ = ()


# kind -> the class of its events; other kinds (custom ones) are plain Event
EVENT_CLASSES: dict[str, type[Event]] = {
    "run.started": RunStarted,
    "run.finished": RunFinished,
    "phase.added": PhaseAdded,
    "phase.started": PhaseStarted,
    "phase.succeeded": PhaseSucceeded,
    "phase.failed": PhaseFailed,
    "phase.skipped": PhaseSkipped,
    "phase.cancelled": PhaseCancelled,
    "phase.retrying": PhaseRetrying,
    "progress": Progress,
}


class Timeline(Sequence[Event]):
    """A run's events in order.

    The runner appends each event as four items to `flat` (t, kind, phase, data): a run emits
    three events per phase, and a tuple per event was a measurable part of the engine's
    overhead (README, `phasefarm bench overhead`). `Event`s are made when read, once each.
    """

    __slots__ = ("_events", "first_seq", "flat", "run_id")

    def __init__(self, run_id: str, first_seq: int = 0) -> None:
        self.run_id = run_id
        self.first_seq = first_seq  # seq of the first event (a resumed run goes on counting)
        self.flat: list[Any] = []
        self._events: list[Event] = []

    def __len__(self) -> int:
        return len(self.flat) >> 2

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        return self._built()[index]

    def __iter__(self) -> Iterator[Event]:
        return iter(self._built())

    def __repr__(self) -> str:
        return f"<Timeline {self.run_id}: {len(self)} events>"

    def _built(self) -> list[Event]:
        events, flat = self._events, self.flat
        for j in range(len(events), len(flat) >> 2):
            t, kind, phase, data = flat[4 * j : 4 * j + 4]
            events.append(
                tuple.__new__(
                    EVENT_CLASSES.get(kind, Event),
                    (self.first_seq + j, t, kind, self.run_id, phase, data),
                )
            )
        return events
