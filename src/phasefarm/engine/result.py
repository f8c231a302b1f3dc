"""What a run leaves behind: one record per phase and the run's result."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from phasefarm.engine.events import Event

__all__ = ["PhaseRecord", "RunResult", "run_outcome"]


@dataclass(slots=True)
class PhaseRecord:
    """One phase of one run. `started`/`finished` are seconds since the run started."""

    key: str
    status: str = "pending"  # then succeeded | failed | skipped | cancelled
    attempts: int = 0
    started: float | None = None
    finished: float | None = None
    error: str | None = None
    usage: dict[str, float] = field(default_factory=dict)
    restored: bool = False  # reused from a checkpoint, not run in this execution

    @property
    def provider_calls(self) -> int:
        """Model calls made for this phase, failed and retried ones included, in every attempt
        (from the "usage" events the LLM layer sends: `calls`, less cache hits)."""
        return int(self.usage.get("calls", 0) - self.usage.get("cached", 0))

    @property
    def duration(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "started": None if self.started is None else round(self.started, 6),
            "finished": None if self.finished is None else round(self.finished, 6),
            "attempts": self.attempts,
            "provider_calls": self.provider_calls,
            "error": self.error,
            "restored": self.restored,
            "usage": self.usage,
        }


@dataclass
class RunResult:
    run_id: str
    flow: str
    mode: str
    status: str  # succeeded | failed | cancelled
    phases: dict[str, PhaseRecord]
    outputs: dict[str, Any]
    timeline: Sequence[Event]
    usage: dict[str, float]
    elapsed_s: float  # first phase start to last phase end, in this execution
    stop_reason: str | None = None

    def __repr__(self) -> str:
        # short on purpose: asyncio.run reprs its main task (and so this result) when it
        # restores the SIGINT handler, and a full dataclass repr of 10,000 phases costs ~0.1 s
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts().items()))
        return f"<RunResult {self.run_id} {self.status}: {counts}>"

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for record in self.phases.values():
            out[record.status] = out.get(record.status, 0) + 1
        return out

    @property
    def failed(self) -> list[str]:
        return [k for k, r in self.phases.items() if r.status == "failed"]

    def summary(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "flow": self.flow,
            "mode": self.mode,
            "status": self.status,
            "elapsed_s": round(self.elapsed_s, 6),
            "stop_reason": self.stop_reason,
            "phases": {k: r.to_dict() for k, r in self.phases.items()},
            "usage": self.usage,
        }


def run_outcome(records: Iterable[PhaseRecord], stopped: bool) -> tuple[str, float]:
    """A run's status and elapsed seconds (first start to last end of the phases this
    execution ran). `stopped`: cancelled, or a phase asked the run to stop."""
    records = list(records)
    executed = [r for r in records if not r.restored and r.started is not None]
    elapsed = 0.0
    if executed:
        end = max((r.finished or r.started or 0.0) for r in executed)
        elapsed = end - min(r.started or 0.0 for r in executed)
    if stopped:
        return "cancelled", elapsed
    if {r.status for r in records} & {"failed", "skipped", "cancelled", "pending"}:
        return "failed", elapsed
    return "succeeded", elapsed
