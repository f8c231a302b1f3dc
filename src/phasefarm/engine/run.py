"""A run's lifecycle: releasing ready phases, completing them, cancelling, finishing.

`Run.execute()` asks the scheduler for every phase that may start and gives each one a task
(phase_task.py). When a phase ends, its task calls `phase_ended`: the run records the outcome,
hands the record to the checkpoint store (checkpoint.py), tells the scheduler, and starts what
became ready. There is no polling loop and no wave barrier in here: the release policy lives in
the scheduler alone. Maps and added phases are in expand.py, reuse of stored outcomes in
resume.py, the event stream in reporting.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import secrets
import threading
import time
from collections.abc import Mapping
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from phasefarm.engine import expand, resume
from phasefarm.engine.backend import Backend, LocalBackend
from phasefarm.engine.binding import Binding, Sources, compile_flow
from phasefarm.engine.checkpoint import Checkpoints
from phasefarm.engine.events import Event, frozen
from phasefarm.engine.phase_task import describe, run_phase
from phasefarm.engine.reporting import EventCallback, Reporter
from phasefarm.engine.result import PhaseRecord, RunResult, run_outcome
from phasefarm.engine.scheduler import MODES, Scheduler
from phasefarm.errors import CheckpointValueError, StoreError, UsageError
from phasefarm.scope import add_usage

if TYPE_CHECKING:
    from phasefarm.engine.flow import Flow
    from phasefarm.store.base import RunStore, StoredRun

__all__ = ["Run"]

# Uncommitted phase records above which no new phase is released until the store catches up:
# what a crash can make a resume run again stays bounded (docs/checkpoints.md).
MAX_UNCOMMITTED = 1000
# The data of the most common event, read-only and so shared by every such event: a mapping
# per event is a measurable part of the per-phase overhead (`phasefarm bench overhead`).
SUCCEEDED_FIRST_TRY = MappingProxyType({"attempts": 1, "error": None, "restored": False})
# A `progress` event is sent each time another hundredth of the phases has ended (so after
# every phase in a run of at most 100) and when the last one ends: a summary for progress bars,
# not one more event per phase in big runs (each phase has its own end event).
PROGRESS_STEPS = 100


class Run:
    """One execution of a flow (a fresh run, or a resume of a stored one)."""

    def __init__(
        self,
        flow: Flow,
        *,
        inputs: dict[str, Any],
        mode: str = "parallel",
        services: dict[str, Any] | None = None,
        pools: dict[str, int] | None = None,
        store: RunStore | None = None,
        run_id: str | None = None,
        on_event: EventCallback | None = None,
        meta: dict[str, Any] | None = None,
        max_running: int | None = None,
        stored: StoredRun | None = None,
        retry_failed: bool = False,
        backend: Backend | None = None,
    ) -> None:
        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r} (choose {', '.join(MODES)})")
        services = services or {}
        flow.validate(inputs.keys(), services.keys(), pools)
        self.flow = flow
        self.flow_name = flow.name
        self.retry_backoff = flow.retry_backoff
        self.mode = mode
        self.store = store
        self.meta = meta or {}
        self.run_id = run_id or new_run_id(flow.name)
        self.stored = stored
        self.retry_failed = retry_failed
        self.backend: Backend = backend or LocalBackend()
        self.pools: dict[str, int | None] = {**flow.pools, **(pools or {})}
        scheduler, bindings = flow.cached(
            (
                mode,
                tuple(sorted(self.pools.items())),
                max_running,
                *map(frozenset, (inputs, services)),
            ),
            partial(compile_flow, flow, self.pools, mode, max_running, inputs, services),
        )
        self.scheduler: Scheduler = scheduler.copy()
        self.bindings: dict[str, Binding] = dict(bindings)
        self.records: dict[str, PhaseRecord] = {key: PhaseRecord(key) for key in bindings}
        self.outputs: dict[str, Any] = {}
        self.sources = Sources(self.outputs, inputs, services)
        self.usage: dict[str, float] = {}
        self.earlier_usage: dict[str, dict[str, float]] = {}  # resumed: spent per phase before
        self.items: dict[str, list[str]] = {}  # map key -> its item keys once expanded
        self.adds: dict[str, int] = {}  # adder -> phases it added without a key
        # unique across executions of one run
        first_seq = 0 if stored is None else stored.last_seq + 1
        self.reporter = Reporter(self.run_id, first_seq, on_event)
        self.timeline = self.reporter.timeline
        self.result: RunResult | None = None
        self.t0 = time.perf_counter()
        self.tasks: dict[str, asyncio.Task[None]] = {}  # running phases; each removes itself
        self.stop_reason: str | None = None
        self.cancelled = False
        self.checkpoints: Checkpoints | None = None  # while executing with a store
        self.store_error: BaseException | None = None
        self.uncommitted = 0  # phase records handed to the store, not yet committed
        self.next_progress = 1  # the count of ended phases the next `progress` event waits for
        self._pumping = False
        self._finished: asyncio.Future[None] | None = None
        self.loop: asyncio.AbstractEventLoop
        self.loop_thread = -1
        self.root_context: contextvars.Context  # set by execute(), for work from threads
        if stored is not None:
            assert store is not None
            self.usage, self.earlier_usage = resume.earlier_usage(stored, store)
            for key, record in self.records.items():
                record.usage = dict(self.earlier_usage.get(key) or {})
            expand.add_again(self, stored.added)

    # -- executing ------------------------------------------------------------------------

    async def execute(self) -> RunResult:
        self.loop = asyncio.get_running_loop()
        self.loop_thread = threading.get_ident()
        self.root_context = contextvars.copy_context()
        self._finished = self.loop.create_future()
        self.t0 = time.perf_counter()
        self._open_store()
        try:
            self.emit(
                "run.started",
                None,
                {
                    "flow": self.flow.name,
                    "mode": self.mode,
                    "total": self.scheduler.total,
                    "resumed": self.stored is not None,
                },
            )
            self.pump()
            self._check_finished()
            try:
                await self._finished
            except asyncio.CancelledError:
                # cancelled from outside (Ctrl-C in run_sync / asyncio.run, or the awaiting
                # task); cancel() via the handle has already set its own reason
                self.cancel("interrupted")
                while self.tasks:
                    await asyncio.gather(*self.tasks.values(), return_exceptions=True)
                self._finalize()
                raise
            return self._finalize()
        finally:
            if self.checkpoints is not None and self.result is None:
                self.checkpoints.close()  # ended by an error of its own: stop the writer too
            if self.store is not None:
                # a failed store: _finalize has raised its error already
                with contextlib.suppress(StoreError):
                    self.store.release(self.run_id)

    def _open_store(self) -> None:
        if self.store is None:
            return
        if self.stored is None:
            self.store.create_run(
                self.run_id, self.flow.name, dict(self.sources.inputs), self.mode, self.meta
            )
        self.store.acquire(self.run_id)
        self.checkpoints = Checkpoints(
            self.store,
            self.run_id,
            self.timeline,
            self.loop,
            on_durable=self._durable,
            on_failed=self._store_failed,
            sources=self.sources,
        )

    def pump(self) -> None:
        """Start every phase the scheduler releases. Re-entrant calls fall through: the loop
        of the outer call picks up what they would have started."""
        if self._pumping or self.uncommitted >= MAX_UNCOMMITTED:
            return
        self._pumping = True
        try:
            while (key := self.scheduler.next_ready()) is not None:
                binding = self.bindings[key]
                if binding.kind == "map":
                    expand.advance_map(self, binding)
                elif self.stored is not None and self._restore(binding):
                    continue
                else:
                    self.tasks[key] = self.loop.create_task(run_phase(self, binding), name=key)
                if self.uncommitted >= MAX_UNCOMMITTED:
                    break
        finally:
            self._pumping = False

    def _restore(self, binding: Binding) -> bool:
        assert self.stored is not None
        stored = resume.reusable(self.stored, binding, self.sources, self.retry_failed)
        if stored is None:
            return False
        record = self.records[binding.key]
        record.restored = True
        record.attempts = stored.attempts
        record.started, record.finished = stored.started, stored.finished
        self.complete(binding.key, stored.status, stored.output, stored.error)
        return True

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the run now: running phases are cancelled, nothing new starts."""
        if self.cancelled:
            return
        self.cancelled = True
        self.stop_reason = self.stop_reason or reason
        self._stop_scheduler(reason)
        for task in list(self.tasks.values()):
            task.cancel()
            # a task cancelled before its first step never runs its body, so it cannot
            # report its outcome: this callback does it instead
            task.add_done_callback(self._cancelled_done)
        self._check_finished()

    def _cancelled_done(self, task: asyncio.Task[Any]) -> None:
        if task.get_name() in self.tasks:
            self.phase_ended(task.get_name(), "cancelled", None, self.stop_reason_or("cancelled"))

    def request_stop(self, reason: str) -> None:
        """A phase raised RunStopped: release nothing more, let running phases finish."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop_scheduler(reason)

    def stop_reason_or(self, default: str) -> str:
        return self.stop_reason or default

    def stopping(self) -> bool:
        return self.scheduler.stopped

    def _stop_scheduler(self, reason: str) -> None:
        for key in self.scheduler.stop():
            self.settle(key, "cancelled", reason)

    # -- completing ---------------------------------------------------------------------

    def phase_ended(self, key: str, status: str, output: Any, error: str | None) -> None:
        """A phase's task reports its outcome (once)."""
        del self.tasks[key]
        self.complete(key, status, output, error)

    def complete(self, key: str, status: str, output: Any, error: str | None) -> None:
        """Record a phase's end, checkpoint it, tell the scheduler, start what became ready."""
        record = self.records[key]
        record.status, record.error = status, error
        if not record.restored:
            record.finished = time.perf_counter() - self.t0
            if self.checkpoints is not None:
                try:
                    self._checkpoint(record, output if status == "succeeded" else None)
                except CheckpointValueError as exc:
                    # an output a resume could not read back: the phase fails, its dependents
                    # are skipped, the rest of the run goes on
                    status, output = "failed", None
                    record.status, record.error = status, f"cannot checkpoint the output: {exc}"
                    self._checkpoint(record, None)
        if status == "succeeded":
            self.outputs[key] = output
        if status == "succeeded" and record.attempts == 1 and not record.restored:
            self.emit_frozen("phase.succeeded", key, SUCCEEDED_FIRST_TRY)
        else:
            data = {"attempts": record.attempts, "error": record.error, "restored": record.restored}
            self.emit(f"phase.{status}", key, data)
        for settled, settled_status in self.scheduler.finish(key, status):
            reason = (
                f"{key} {status}"
                if settled_status == "skipped"
                else self.stop_reason_or(f"{key} cancelled")
            )
            self.settle(settled, settled_status, reason)
        done, total = self.scheduler.done_count, self.scheduler.total
        if done >= self.next_progress or done == total:
            self.next_progress = done + max(1, total // PROGRESS_STEPS)
            self.emit("progress", None, {"done": done, "total": total})
        if self.scheduler.has_ready and not self.cancelled:
            self.pump()
        self._check_finished()

    def settle(self, key: str, status: str, reason: str) -> None:
        """A phase that never ran: skipped (a dependency failed) or cancelled."""
        record = self.records[key]
        record.status, record.error = status, reason
        self._checkpoint(record, None)
        self.emit(f"phase.{status}", key, {"reason": reason})

    def _checkpoint(self, record: PhaseRecord, output: Any) -> None:
        """Hand a phase record to the store; CheckpointValueError if the output cannot be
        written (raised here, on the run's thread, so that phase fails and nothing else)."""
        if self.checkpoints is None:
            return
        hashed = record.status in ("succeeded", "failed")
        self.checkpoints.phase(record, output, self.bindings[record.key] if hashed else None)
        self.uncommitted += 1

    def _durable(self, events: int, records: int) -> None:
        """The writer committed: `events` of the timeline and `records` more phase records."""
        self.uncommitted -= records
        self.reporter.report(events)
        if self.scheduler.has_ready and not self.cancelled:
            self.pump()

    def _store_failed(self, error: BaseException) -> None:
        self.store_error = error
        self.cancel(f"checkpoint store failed: {describe(error)}")

    def _check_finished(self) -> None:
        if (
            not self.tasks
            and self.scheduler.finished
            and self._finished is not None
            and not self._finished.done()
        ):
            self._finished.set_result(None)

    def _finalize(self) -> RunResult:
        if self.result is not None:
            return self.result
        stopped = self.cancelled or self.stop_reason is not None
        status, elapsed = run_outcome(self.records.values(), stopped)
        self.emit(
            "run.finished",
            None,
            {
                "status": status,
                "elapsed_s": round(elapsed, 6),
                "stop_reason": self.stop_reason,
                "usage": frozen(self.usage),  # a read-only copy
            },
        )
        if self.checkpoints is not None:
            error = self.checkpoints.close() or self.store_error
            if error is not None:
                self.reporter.close()
                raise StoreError(
                    f"checkpoint store {self.store!r} failed during run {self.run_id}: "
                    f"{describe(error)}"
                ) from error
            assert self.store is not None
            self.store.finish_run(
                self.run_id,
                status,
                elapsed,
                self.usage.get("tokens", 0.0),
                self.usage.get("cost", 0.0),
                self.stop_reason,
            )
        self.reporter.report(len(self.timeline))
        self.reporter.close()
        self.result = RunResult(
            self.run_id,
            self.flow.name,
            self.mode,
            status,
            self.records,
            self.outputs,
            self.timeline,
            self.usage,
            elapsed,
            self.stop_reason,
        )
        return self.result

    # -- events ---------------------------------------------------------------------------

    def emit(self, kind: str, phase: str | None, data: dict[str, Any]) -> None:
        """Append an event; report it once it is durable. `data` must be a dict made for this
        event alone: it is wrapped read-only, not copied."""
        self.emit_frozen(kind, phase, MappingProxyType(data))

    def emit_frozen(self, kind: str, phase: str | None, data: Mapping[str, Any]) -> None:
        """`emit` for data that is already read-only (a `MappingProxyType` nothing else can
        change through), e.g. one precomputed for a common case."""
        self.timeline.append(time.perf_counter() - self.t0, kind, phase, data)
        if self.checkpoints is not None:
            self.checkpoints.schedule()
        elif self.reporter.listening:
            self.reporter.report(len(self.timeline))

    def subscribe(self) -> asyncio.Queue[Event | None]:
        """A queue of every event reported so far and to come, then None at the end."""
        if self.checkpoints is None:  # without a store, every event is reportable at once
            self.reporter.report(len(self.timeline))
        return self.reporter.subscribe()

    def sink(self, key: str, kind: str, data: dict[str, Any]) -> None:
        """Custom events from inside a phase; may be called from a worker thread."""
        if threading.get_ident() != self.loop_thread:
            self.loop.call_soon_threadsafe(self.sink, key, kind, data)
            return
        if kind == "usage":
            add_usage(self.records[key].usage, data)
            add_usage(self.usage, data)
        self.emit(kind, key, dict(data))

    def add_phase(
        self,
        adder: str,
        template: str,
        key: str | None,
        needs: tuple[str, ...],
        args: dict[str, Any],
        options: Mapping[str, Any],
    ) -> str:
        return expand.add_phase(self, adder, template, key, needs, args, options)


def new_run_id(flow: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{flow}-{stamp}-{secrets.token_hex(2)}"
