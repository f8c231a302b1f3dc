"""`CheckpointWriter`: a run's checkpoints written from one thread, in groups.

The event loop must not wait on the disk: a commit with `synchronous=FULL` is an fsync, a
millisecond or more, and every running phase would stall behind it. So the engine hands each
phase record, added phase and event to this writer and goes on. The writer's thread takes
everything handed over since its last commit and writes it in one transaction
(`RunStore.save_batch`): under load a commit carries hundreds of records, and the fsync is paid
once for all of them.

After each commit it calls `on_commit(count, error)` from its thread: `count` is how many
`submit` calls are now durable (the engine reports what they contain only then). If the store
fails, the error is passed once, and everything submitted afterwards is dropped: the run stops.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from phasefarm.store.base import AddedPhase, PhaseRow, RunStore, StoreEvent

__all__ = ["Batch", "CheckpointWriter"]

CommitCallback = Callable[[int, BaseException | None], None]


@dataclass(slots=True)
class Batch:
    """What one `submit` hands over; the writer may commit several of them together."""

    phases: list[PhaseRow] = field(default_factory=list)
    added: list[AddedPhase] = field(default_factory=list)
    events: list[StoreEvent] = field(default_factory=list)  # the engine's event tuples

    def __bool__(self) -> bool:
        return bool(self.phases or self.added or self.events)


class CheckpointWriter:
    """Writes one run's batches to `store` from a thread of its own, in submission order."""

    def __init__(self, store: RunStore, run_id: str, on_commit: CommitCallback) -> None:
        self.store = store
        self.run_id = run_id
        self._on_commit = on_commit
        self._cond = threading.Condition()
        self._queue: list[Batch] = []
        self._submitted = 0
        self._committed = 0
        self._closing = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._work, name=f"phasefarm-checkpoints-{run_id}", daemon=True
        )
        self._thread.start()

    def submit(self, batch: Batch) -> int:
        """Queue `batch`; returns its number (1, 2, ...), which `on_commit` counts up to."""
        with self._cond:
            if self._closing:
                raise RuntimeError("checkpoint writer is closed")
            self._submitted += 1
            self._queue.append(batch)
            self._cond.notify()
            return self._submitted

    def close(self, timeout: float | None = None) -> BaseException | None:
        """Write what is queued, stop the thread; the store's error if it failed, else None.

        With a `timeout`, a writer still busy when it expires is left to finish on its own
        (its thread is a daemon) and a TimeoutError is returned."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        if self._thread.is_alive():
            return TimeoutError(f"checkpoint writer of run {self.run_id} did not finish")
        return self.error

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                taken, self._queue = self._queue, []
                upto = self._submitted
            if self.error is None:
                try:
                    self._write(taken)
                except BaseException as exc:  # reported to the run, which stops
                    self.error = exc
                    self._on_commit(self._committed, exc)
                    continue
                self._committed = upto
                self._on_commit(upto, None)

    def _write(self, batches: list[Batch]) -> None:
        if len(batches) == 1:
            only = batches[0]
            phases, added, events = only.phases, only.added, only.events
        else:
            phases, added, events = [], [], []
            for batch in batches:
                phases += batch.phases
                added += batch.added
                events += batch.events
        if phases or added or events:
            self.store.save_batch(self.run_id, phases, added, events)
