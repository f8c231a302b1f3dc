"""Typed, timestamped events of a run.

Every event has a sequence number (unique and increasing within a run, so a web client can
replay from where it left off), `t` in seconds since the run started, a `kind`, the run id and
the phase key it concerns (None for run-level events). Kinds with their own class carry typed
fields; custom kinds sent by phases (`usage`, `limiter.wait`, ...) are plain `Event`s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
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
    "event_class",
]


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    t: float
    kind: str
    run_id: str
    phase: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "t": round(self.t, 6),
            "kind": self.kind,
            "run_id": self.run_id,
            "phase": self.phase,
            "data": self.data,
        }


# The subclasses add no fields, so constructing them costs what Event costs; they exist so
# callers can match on type (`isinstance(e, PhaseFailed)`) and so the kinds are listed here.
@dataclass(frozen=True, slots=True)
class RunStarted(Event):
    """data: flow, mode, total, resumed"""


@dataclass(frozen=True, slots=True)
class RunFinished(Event):
    """data: status, elapsed_s, stop_reason, usage"""


@dataclass(frozen=True, slots=True)
class PhaseAdded(Event):
    """data: deps, pool, added_by"""


@dataclass(frozen=True, slots=True)
class PhaseStarted(Event):
    """data: attempt, pool"""


@dataclass(frozen=True, slots=True)
class PhaseSucceeded(Event):
    """data: attempts, restored"""


@dataclass(frozen=True, slots=True)
class PhaseFailed(Event):
    """data: attempts, error"""


@dataclass(frozen=True, slots=True)
class PhaseSkipped(Event):
    """data: reason"""


@dataclass(frozen=True, slots=True)
class PhaseCancelled(Event):
    """data: reason"""


@dataclass(frozen=True, slots=True)
class PhaseRetrying(Event):
    """data: attempt (the one that failed), error, delay_s"""


@dataclass(frozen=True, slots=True)
class Progress(Event):
    """data: done, total, succeeded, failed"""


_CLASSES: dict[str, type[Event]] = {
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


def event_class(kind: str) -> type[Event]:
    return _CLASSES.get(kind, Event)
