"""A run's side of the checkpoint store: what it writes, and when that is durable.

The run hands phase records, added phases and its events to `Checkpoints`, which collects
what arrives during one turn of the event loop and submits it as one batch to the store's
`CheckpointWriter` (a thread: commits never block the loop). When the writer reports a batch
committed, the run learns how far its timeline is durable and only then reports those events to
callbacks and subscribers: whatever an observer was told (`phase.succeeded` included) is in the
store. Dependents do not wait for that commit (docs/checkpoints.md has the measurements): a
crash loses at most the phases running or waiting for their commit at that moment, and a
resume runs those again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Callable
from typing import Any

from phasefarm.engine.binding import Binding, Sources
from phasefarm.engine.events import Timeline
from phasefarm.engine.result import PhaseRecord
from phasefarm.engine.resume import InputHashes
from phasefarm.store.base import AddedPhase, PhaseRow, RunStore, usage_json
from phasefarm.store.codec import encode
from phasefarm.store.writer import Batch, CheckpointWriter

__all__ = ["CLOSE_TIMEOUT_S", "Checkpoints"]

CLOSE_TIMEOUT_S = 300.0  # the last commit of a run; the store's own busy timeout is 30 s


class Checkpoints:
    """Batches a run's writes for the writer thread and tracks what is durable."""

    def __init__(
        self,
        store: RunStore,
        run_id: str,
        timeline: Timeline,
        loop: asyncio.AbstractEventLoop,
        on_durable: Callable[[int, int], None],
        on_failed: Callable[[BaseException], None],
        sources: Sources,
    ) -> None:
        self.store = store
        self._hashes = InputHashes(sources)
        self.run_id = run_id
        self._timeline = timeline
        self._loop = loop
        self._on_durable = on_durable  # (events durable so far, records just committed)
        self._on_failed = on_failed
        self._batch = Batch()
        self._sent = 0  # events handed to the writer
        self._scheduled = False
        self._closed = False
        # One batch with the writer at a time: what arrives meanwhile waits on this side and
        # goes with the next commit (no lock or thread wake-up per turn of the loop).
        self._writer_busy = False
        # (batch number, events durable once it is committed, its phase records), in order
        self._in_flight: collections.deque[tuple[int, int, int]] = collections.deque()
        self._writer = CheckpointWriter(store, run_id, self._committed_in_thread)

    # -- what the run hands over ------------------------------------------------------------

    def phase(self, record: PhaseRecord, output: Any, hashed: Binding | None) -> None:
        """Queue a phase record, with the input hash of `hashed` (the phase's binding, None
        for a record without one); CheckpointValueError if its output cannot be written
        (raised here, on the run's thread, so that phase fails and nothing else)."""
        row = PhaseRow(
            record.key,
            record.status,
            record.attempts,
            record.started,
            record.finished,
            None if output is None else encode(output),
            record.error,
            None if hashed is None else self._hashes.of(hashed),
            usage_json(record.usage),
        )
        self._batch.phases.append(row)
        self.schedule()

    def added(self, added: AddedPhase) -> None:
        self._batch.added.append(added)
        self.schedule()

    def schedule(self) -> None:
        """Submit what arrived during this turn of the loop at its end (new events too);
        while the writer is busy, nothing: its commit callback submits what arrived."""
        if not self._scheduled and not self._writer_busy and not self._closed:
            self._scheduled = True
            self._loop.call_soon(self._submit)

    def _submit(self) -> None:
        self._scheduled = False
        if self._closed or self._writer_busy:
            return
        end = len(self._timeline)
        batch = self._batch
        # every event, progress included: a replay from the store has no gaps in `seq`
        batch.events.extend(self._timeline[self._sent : end])
        if not batch:
            return
        self._batch = Batch()
        self._sent = end
        number = self._writer.submit(batch)
        self._writer_busy = True
        self._in_flight.append((number, end, len(batch.phases)))

    # -- what the writer reports --------------------------------------------------------------

    def _committed_in_thread(self, count: int, error: BaseException | None) -> None:
        # a closed loop: the run has ended, and close() has returned the outcome
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._committed, count, error)

    def _committed(self, count: int, error: BaseException | None) -> None:
        if self._closed:
            return
        if error is not None:
            self._closed = True
            self._on_failed(error)
            return
        durable, records = -1, 0
        while self._in_flight and self._in_flight[0][0] <= count:
            _, durable, phases = self._in_flight.popleft()
            records += phases
        self._writer_busy = False
        self._submit()  # what arrived during that commit
        if durable >= 0:
            self._on_durable(durable, records)

    def close(self) -> BaseException | None:
        """Write everything emitted so far, wait for it (blocking), stop the writer: None,
        or the store's error. The run's whole timeline is durable after None."""
        if not self._closed:
            self._writer_busy = False  # the writer queues it behind the batch it is writing
            self._submit()
            self._closed = True
        return self._writer.close(CLOSE_TIMEOUT_S)
