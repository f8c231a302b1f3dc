"""Typed, timestamped events of a run.

Every event has a sequence number (unique and increasing within a run, so a web client can
replay from where it left off), `t` in seconds since the run started, a `kind`, the run id and
the phase key it concerns (None for run-level events). Kinds with their own class carry typed
fields; custom kinds sent by phases (`usage`, `limiter.wait`, ...) are plain `Event`s.

Events are immutable: an `Event` is a tuple and its `data` a read-only mapping
(`types.MappingProxyType`) over a dict made for that event alone, so a callback that tries to
annotate an event gets a TypeError instead of changing what other subscribers, the store or
another run see.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
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
    "frozen",
]

EMPTY: Mapping[str, Any] = MappingProxyType({})


def frozen(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """A read-only copy of `data`, for an event."""
    return MappingProxyType(dict(data))


class Event(NamedTuple):
    """One thing that happened in a run; immutable.

    A named tuple rather than a frozen dataclass: a run makes three per phase, and building a
    tuple is several times cheaper (`phasefarm bench overhead`).
    """

    seq: int
    t: float
    kind: str
    run_id: str
    phase: str | None = None
    data: Mapping[str, Any] = EMPTY

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: a fresh dict, its `data` a fresh (shallow) copy."""
        return {
            "seq": self.seq,
            "t": round(self.t, 6),
            "kind": self.kind,
            "run_id": self.run_id,
            "phase": self.phase,
            "data": dict(self.data),
        }

    def __repr__(self) -> str:
        where = f" {self.phase}" if self.phase else ""
        data = dict(self.data)
        return f"<{type(self).__name__} #{self.seq} {self.kind}{where} t={self.t:.4f} {data}>"


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
    """A run's events in order, read-only to everyone but the run that appends to it."""

    __slots__ = ("_events", "first_seq", "run_id")

    def __init__(self, run_id: str, first_seq: int = 0) -> None:
        self.run_id = run_id
        self.first_seq = first_seq  # seq of the first event (a resumed run goes on counting)
        self._events: list[Event] = []

    def append(self, t: float, kind: str, phase: str | None, data: Mapping[str, Any]) -> Event:
        """The run's own: add an event (its data already `frozen`) with the next seq."""
        events = self._events
        # tuple.__new__ skips the named tuple's Python-level __new__: three events per phase
        # make it a measurable part of the engine's overhead (`phasefarm bench overhead`)
        event: Event = tuple.__new__(
            EVENT_CLASSES.get(kind, Event),
            (self.first_seq + len(events), t, kind, self.run_id, phase, data),
        )
        events.append(event)
        return event

    def __len__(self) -> int:
        return len(self._events)

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> list[Event]: ...

    def __getitem__(self, index: int | slice) -> Event | list[Event]:
        return self._events[index]

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __repr__(self) -> str:
        return f"<Timeline {self.run_id}: {len(self)} events>"
