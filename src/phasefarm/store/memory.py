"""`MemoryStore`: the in-memory twin of `SQLiteStore`, for tests and runs without a store.

It keeps what SQLiteStore keeps, in the same form: outputs, inputs and added-phase arguments go
through the codec as JSON text, so a value that would not survive SQLite fails here too, and a
loaded output is a fresh copy, never the object the phase returned.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from phasefarm.errors import StoreError, StoreRefused
from phasefarm.store import codec
from phasefarm.store._lock import (
    Holder,
    check_can_acquire,
    claim_in_process,
    drop_claims,
    holder_is_live,
    new_claimant,
    release_in_process,
    this_process,
)
from phasefarm.store.base import (
    AddedPhase,
    BatchWrites,
    PhaseRow,
    RunSummary,
    StoredPhase,
    StoredRun,
    StoreEvent,
)
from phasefarm.store.eventlog import EventGroup, check_after, event_group, group_events

__all__ = ["MemoryStore"]


@dataclass
class _Phase:
    status: str
    attempts: int
    started: float | None
    finished: float | None
    output: str | None
    error: str | None
    input_hash: str | None
    usage: str


@dataclass
class _Run:
    flow: str
    inputs: str
    mode: str
    meta: str
    status: str
    created: float
    updated: float
    elapsed: float | None = None
    tokens: float = 0.0
    cost: float = 0.0
    stop_reason: str | None = None
    lock: str | None = None
    phases: dict[str, _Phase] = field(default_factory=dict)
    added: dict[str, str] = field(default_factory=dict)  # key -> JSON of the AddedPhase
    events: list[EventGroup] = field(default_factory=list)  # as in the event_batches table


def encode_added(added: AddedPhase) -> str:
    return json.dumps(
        {
            "key": added.key,
            "template": added.template,
            "needs": list(added.needs),
            "args": codec.to_jsonable(added.args),
            "options": codec.to_jsonable(added.options),
            "added_by": added.added_by,
        }
    )


def decode_added(text: str) -> AddedPhase:
    data = json.loads(text)
    return AddedPhase(
        key=data["key"],
        template=data["template"],
        needs=tuple(data["needs"]),
        args=codec.from_jsonable(data["args"]),
        options=codec.from_jsonable(data["options"]),
        added_by=data["added_by"],
    )


def summary_status(status: str, lock: str | None) -> str:
    """A run recorded `running` whose executor is gone is shown as `interrupted`."""
    if status != "running":
        return status
    holder = Holder.from_json(lock)
    if holder is None or not holder_is_live(holder):
        return "interrupted"
    return status


def total_from_progress(progress_data: str | None, recorded: int) -> int:
    """N of k/N: the last `progress` event's total (the graph may not be fully recorded yet);
    `progress_data` is the JSON of that event's data (`EventGroup.progress`)."""
    total = recorded
    if progress_data:
        try:
            data = json.loads(progress_data) or {}
            total = max(total, int(data.get("total", 0)))
        except (ValueError, TypeError, AttributeError):
            pass
    return total


class MemoryStore(BatchWrites):
    """A RunStore in a dict. Thread-safe; lives as long as the object."""

    def __init__(self) -> None:
        self._runs: dict[str, _Run] = {}
        self._mutex = threading.Lock()
        self._closed = False
        self._claimant = new_claimant()
        # its own database: nothing else can open it
        self._database_id = f"memory:{self._claimant}"

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._runs)} runs)"

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, run_id: str) -> _Run:
        if self._closed:
            raise StoreError("store is closed")
        run = self._runs.get(run_id)
        if run is None:
            raise StoreRefused(f"unknown run id {run_id!r}")
        return run

    def create_run(
        self, run_id: str, flow: str, inputs: dict[str, Any], mode: str, meta: dict[str, Any]
    ) -> None:
        encoded_inputs, encoded_meta = codec.encode(inputs), codec.encode(meta)
        with self._mutex:
            if self._closed:
                raise StoreError("store is closed")
            if run_id in self._runs:
                raise StoreRefused(f"run id {run_id!r} already exists")
            now = time.time()
            self._runs[run_id] = _Run(
                flow=flow,
                inputs=encoded_inputs,
                mode=mode,
                meta=encoded_meta,
                status="running",
                created=now,
                updated=now,
                lock=this_process().to_json(),  # the creator executes it
            )

    def load_run(self, run_id: str) -> StoredRun:
        with self._mutex:
            run = self._run(run_id)
            phases = {
                key: StoredPhase(
                    key=key,
                    status=p.status,
                    attempts=p.attempts,
                    started=p.started,
                    finished=p.finished,
                    output=None if p.output is None else codec.decode(p.output),
                    error=p.error,
                    input_hash=p.input_hash,
                    usage=json.loads(p.usage),
                )
                for key, p in run.phases.items()
            }
            return StoredRun(
                run_id=run_id,
                flow=run.flow,
                inputs=codec.decode(run.inputs),
                mode=run.mode,
                status=run.status,
                phases=phases,
                added=[decode_added(text) for text in run.added.values()],
                meta=codec.decode(run.meta),
                last_seq=run.events[-1].last_seq if run.events else -1,
            )

    def acquire(self, run_id: str) -> None:
        with claim_in_process(self._database_id, run_id, self._claimant), self._mutex:
            run = self._run(run_id)
            check_can_acquire(run_id, Holder.from_json(run.lock))
            run.lock = this_process().to_json()
            run.status = "running"
            run.updated = time.time()

    def release(self, run_id: str) -> None:
        try:
            with self._mutex:
                run = self._runs.get(run_id)
                if run is None or run.lock is None:
                    return
                holder = Holder.from_json(run.lock)
                if holder is None or holder.pid == this_process().pid:
                    run.lock = None
        finally:
            release_in_process(self._database_id, run_id)

    def save_batch(
        self,
        run_id: str,
        phases: Sequence[PhaseRow],
        added: Sequence[AddedPhase],
        events: Sequence[StoreEvent],
    ) -> None:
        group = event_group(run_id, events) if events else None
        added_texts = [(a.key, encode_added(a)) for a in added]
        with self._mutex:
            run = self._run(run_id)
            if group is not None:  # checked before anything changes: all or nothing
                check_after(run_id, group.first_seq, run.events[-1].last_seq if run.events else -1)
            for p in phases:
                run.phases[p.key] = _Phase(*p[1:])
            if phases:
                run.updated = time.time()
            run.added.update(added_texts)
            if group is not None:
                run.events.append(group)

    def events(self, run_id: str, after_seq: int = -1) -> list[dict[str, Any]]:
        with self._mutex:
            run = self._run(run_id)
            return [
                event
                for group in run.events
                if group.last_seq > after_seq
                for event in group_events(group.json, after_seq)
            ]

    def finish_run(
        self,
        run_id: str,
        status: str,
        elapsed_s: float,
        tokens: float,
        cost: float,
        stop_reason: str | None,
    ) -> None:
        with self._mutex:
            run = self._run(run_id)
            run.status = status
            run.elapsed = elapsed_s
            run.tokens = tokens
            run.cost = cost
            run.stop_reason = stop_reason
            run.updated = time.time()

    def list_runs(self) -> list[RunSummary]:
        with self._mutex:
            if self._closed:
                raise StoreError("store is closed")
            out = []
            for run_id, run in self._runs.items():
                progress = next(
                    (g.progress for g in reversed(run.events) if g.progress is not None), None
                )
                done = sum(1 for p in run.phases.values() if p.status == "succeeded")
                tokens, cost = run.tokens, run.cost
                if run.elapsed is None:  # never finished: what its phases recorded so far
                    usages = [json.loads(p.usage) for p in run.phases.values()]
                    tokens = sum(u.get("tokens", 0.0) for u in usages)
                    cost = sum(u.get("cost", 0.0) for u in usages)
                out.append(
                    RunSummary(
                        run_id=run_id,
                        flow=run.flow,
                        status=summary_status(run.status, run.lock),
                        done=done,
                        total=total_from_progress(progress, len(run.phases)),
                        created=run.created,
                        elapsed_s=run.elapsed,
                        tokens=tokens,
                        cost=cost,
                        stop_reason=run.stop_reason,
                    )
                )
            out.sort(key=lambda s: s.created, reverse=True)
            return out

    def close(self) -> None:
        self._closed = True
        drop_claims(self._claimant)
