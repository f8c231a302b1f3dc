"""The checkpoint store interface: what a run writes, what resume reads.

One small protocol with three implementations: `MemoryStore` (the in-memory twin used by
tests), `SQLiteStore` (the default on disk) and `PostgresStore`.

Rules every implementation keeps:
- Every write is durable when it returns. The engine writes through `CheckpointWriter`
  (store/writer.py): `save_batch` from one thread, one transaction per group of records and
  events that arrived together.
- Outputs are stored through `phasefarm.store.codec` (JSON with tagged pydantic models / bytes).
- Nothing here ever sees a service object (LLM client, API key): only inputs and outputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

from phasefarm.scope import add_usage

__all__ = [
    "AddedPhase",
    "BatchWrites",
    "EventRow",
    "PhaseRow",
    "RunStore",
    "RunSummary",
    "StoreEvent",
    "StoredPhase",
    "StoredRun",
    "usage_so_far",
]


@dataclass(frozen=True)
class StoredPhase:
    key: str  # "layout", "images[3]", "implement[src/app.js]"
    status: str  # "succeeded" | "failed" | "skipped" | "cancelled"
    attempts: int
    started: float | None
    finished: float | None
    output: Any  # decoded output, None unless succeeded
    error: str | None
    input_hash: str | None
    usage: dict[str, float] = field(default_factory=dict)


class PhaseRow(NamedTuple):
    """A phase record as written: output and usage already JSON text, fields in the order of
    the phases table's columns (after `run`). The engine encodes the output when the phase
    ends, on its own thread, so an output the codec cannot write fails that phase
    (CheckpointValueError) instead of the writer later. A named tuple: the run makes one per
    phase on the event loop, at a third of a frozen dataclass's cost, and the store binds its
    fields as they are."""

    key: str
    status: str
    attempts: int
    started: float | None
    finished: float | None
    output: str | None  # codec.encode(output), None unless succeeded
    error: str | None
    input_hash: str | None
    usage: str  # JSON object of floats

    @classmethod
    def of(cls, phase: StoredPhase) -> PhaseRow:
        from phasefarm.store import codec

        return cls(
            phase.key,
            phase.status,
            phase.attempts,
            phase.started,
            phase.finished,
            None if phase.output is None else codec.encode(phase.output),
            phase.error,
            phase.input_hash,
            usage_json(phase.usage),
        )


# An event as the engine keeps it: `phasefarm.engine.events.Event` is this tuple,
# (seq, t, kind, run_id, phase, data). The writer hands the engine's events over as they are.
EventRow = tuple[int, float, str, str, str | None, Mapping[str, Any]]
# what `save_batch` takes: an engine event, or an event as a dict (`append_events`)
StoreEvent = EventRow | Mapping[str, Any]


def usage_json(usage: Mapping[str, float]) -> str:
    import json

    return json.dumps({k: float(v) for k, v in usage.items()}) if usage else "{}"


@dataclass(frozen=True)
class AddedPhase:
    """A phase added while the run was going (ctx.add_phase), enough to add it again on resume."""

    key: str
    template: str  # name of a template registered on the flow with @flow.template()
    needs: tuple[str, ...]
    args: dict[str, Any]  # JSON-able arguments bound to the template
    options: dict[str, Any]  # pool, retries, timeout, priority, estimate
    added_by: str  # key of the phase that added it


@dataclass(frozen=True)
class StoredRun:
    run_id: str
    flow: str
    inputs: dict[str, Any]
    mode: str
    status: str  # "running" | "succeeded" | "failed" | "cancelled"
    phases: dict[str, StoredPhase]
    added: list[AddedPhase]
    meta: dict[str, Any]  # free-form: CLI options needed to resume (out dir, pages, ...)
    # seq of the last stored event, -1 if none: a resumed execution numbers its events from
    # last_seq + 1, so the run's events stay unique and increasing across executions.
    last_seq: int = -1


def usage_so_far(
    run: StoredRun, events: Iterable[Mapping[str, Any]]
) -> dict[str, dict[str, float]]:
    """What each phase of a stored run has spent in all its executions so far (tokens, cost,
    calls...): key -> totals; run-level usage (no phase) under "".

    A phase's record holds the usage of the execution that saved it, and a phase that was
    running when a run stopped or crashed may have no record at all; its "usage" events, saved
    with every phase record, still count it. Per field, the larger of the two is taken: the
    events miss only what a crash caught between a record and its events."""
    spent: dict[str, dict[str, float]] = {}
    for event in events:
        if event.get("kind") != "usage":
            continue
        add_usage(spent.setdefault(event.get("phase") or "", {}), event.get("data") or {})
    for key, phase in run.phases.items():
        totals = spent.setdefault(key, {})
        for name, value in phase.usage.items():
            if value > totals.get(name, 0.0):
                totals[name] = value
    return {key: totals for key, totals in spent.items() if totals}


class BatchWrites:
    """The single writes of `RunStore`, each as a one-item `save_batch` (a transaction)."""

    def save_batch(
        self,
        run_id: str,
        phases: Sequence[PhaseRow],
        added: Sequence[AddedPhase],
        events: Sequence[StoreEvent],
    ) -> None:
        raise NotImplementedError

    def save_phase(self, run_id: str, phase: StoredPhase) -> None:
        self.save_batch(run_id, [PhaseRow.of(phase)], (), ())

    def save_added(self, run_id: str, added: AddedPhase) -> None:
        self.save_batch(run_id, (), [added], ())

    def append_events(self, run_id: str, events: list[dict[str, Any]]) -> None:
        if events:
            self.save_batch(run_id, (), (), events)


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    flow: str
    status: str
    done: int
    total: int
    created: float  # unix time
    elapsed_s: float | None
    tokens: float
    cost: float
    stop_reason: str | None


@runtime_checkable
class RunStore(Protocol):
    def create_run(
        self, run_id: str, flow: str, inputs: dict[str, Any], mode: str, meta: dict[str, Any]
    ) -> None:
        """Record a new run. Raises StoreError if run_id exists."""

    def load_run(self, run_id: str) -> StoredRun:
        """Everything resume needs. Raises StoreError('unknown run id ...') if absent."""

    def acquire(self, run_id: str) -> None:
        """Mark the run as executed by this process; StoreError if another live process has it,
        or another execution in this process (through any store object on the same database)."""

    def release(self, run_id: str) -> None:
        """Give up the lock taken by acquire (idempotent)."""

    def save_phase(self, run_id: str, phase: StoredPhase) -> None:
        """Insert or replace one phase record; durable (committed) on return."""

    def save_batch(
        self,
        run_id: str,
        phases: Sequence[PhaseRow],
        added: Sequence[AddedPhase],
        events: Sequence[StoreEvent],
    ) -> None:
        """Phase records (insert or replace, in order), added phases and events (the engine's
        event tuples, or dicts as for `append_events`) in one transaction: all of them durable
        on return, or none. `events` reads each back as a dict (`Event.to_dict` for a tuple)."""

    def save_added(self, run_id: str, added: AddedPhase) -> None:
        """Remember a dynamically added phase; durable on return."""

    def append_events(self, run_id: str, events: list[dict[str, Any]]) -> None:
        """Append events (each has an integer "seq" >= 0, increasing across the run's
        executions; StoreError otherwise) for replay."""

    def events(self, run_id: str, after_seq: int = -1) -> list[dict[str, Any]]:
        """Events with seq > after_seq, in order (all of them by default)."""

    def finish_run(
        self,
        run_id: str,
        status: str,
        elapsed_s: float,
        tokens: float,
        cost: float,
        stop_reason: str | None,
    ) -> None:
        """Record the end of an execution of the run (a resumed run may finish again)."""

    def list_runs(self) -> list[RunSummary]:
        """All runs, newest first."""

    def close(self) -> None:
        """Release resources."""
