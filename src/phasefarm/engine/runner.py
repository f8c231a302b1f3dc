"""The asyncio runner: drives the scheduler, runs phase bodies, records everything.

Every running phase runs in a task; when a phase ends, its task records the outcome (in the
store first, so a dependent never starts before its inputs are durable), tells the scheduler,
and starts whatever became ready. There is no polling loop and no wave barrier in here: the
release policy lives in the scheduler alone.

A task whose phase ends may run the first phase it releases itself, in place of a new task
(`_run_fast`): in a chain that saves a task and a turn of the event loop per phase. The next
phase sees the same context variables a new task would have copied at that moment; every
`HANDOFF_YIELD` phases the task yields to the loop, so a long chain cannot starve others.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import random
import secrets
import threading
import time
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from phasefarm.engine.events import Event, Timeline
from phasefarm.engine.flow import CONTEXT_PARAM, PhaseDef
from phasefarm.engine.result import PhaseRecord, RunResult
from phasefarm.engine.scheduler import MODES, NodeSpec, Scheduler
from phasefarm.errors import (
    CheckpointValueError,
    GraphError,
    RunStopped,
    StoreError,
    UsageError,
)
from phasefarm.scope import Scope, add_usage
from phasefarm.scope import _current as _SCOPE
from phasefarm.scope import _run as _RUN_SCOPE

if TYPE_CHECKING:
    from phasefarm.engine.flow import Flow
    from phasefarm.store.base import RunStore, StoredPhase, StoredRun

__all__ = ["EventCallback", "PhaseContext", "Run", "RunHandle", "run_blocking"]

EventCallback = Callable[[Event], None]

MAX_BACKOFF_S = 30.0
HANDOFF_YIELD = 16  # a task running phases one after another yields to the loop this often
_PHASE_KIND = {s: f"phase.{s}" for s in ("succeeded", "failed", "skipped", "cancelled")}
# Event data for the common cases, shared by every such event (event data is read-only):
# a dict per event would be a measurable part of the per-phase overhead.
_SUCCEEDED_FIRST_TIME: dict[str, Any] = {"attempts": 1, "error": None, "restored": False}
_NO_ARGS: dict[str, Any] = {}  # never mutated
_FIRST_STARTED: dict[str, dict[str, Any]] = {}  # pool -> data of a first phase.started


@dataclass(slots=True, eq=False)
class _Bound:
    """A phase as it runs: its definition, its key and how its parameters are filled.

    Not changed once built, so the bindings of a flow's static phases are compiled once and
    shared by its runs (see `_compile`)."""

    key: str
    spec: PhaseDef
    kind: str  # "phase" | "map" | "item" | "template"
    deps: tuple[str, ...]
    args: dict[str, Any] = field(default_factory=dict)
    binding: tuple[tuple[str, str], ...] = ()  # (param, source)
    fast: bool = False  # set once the binding is known: see is_fast()
    started: dict[str, Any] = field(default_factory=dict)  # data of its first phase.started

    @property
    def wants_ctx(self) -> bool:
        return ("ctx", "ctx") in self.binding

    def is_fast(self) -> bool:
        """Runs as a bare task with a completion callback: nothing to retry, time or give."""
        spec = self.spec
        return spec.is_async and spec.retries == 0 and spec.timeout is None and not self.wants_ctx


class PhaseContext:
    """Given to a phase that has a `ctx` parameter."""

    def __init__(self, run: Run, key: str) -> None:
        self._run = run
        self.key = key
        self.run_id = run.run_id
        self.flow = run.flow.name
        self.attempt = 0

    def emit(self, kind: str, **data: Any) -> None:
        """Send a custom event; numeric fields of "usage" events are summed per phase."""
        self._run._sink(self.key, kind, data)

    def add_phase(
        self,
        template: str,
        *,
        key: str | None = None,
        needs: Sequence[str] = (),
        args: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> str:
        """Add a phase from a template registered with `@flow.template()`; returns its key.

        `options` may override pool, retries, timeout, priority, estimate. Adding the same key
        again with the same template is a no-op, so a re-run adder does not duplicate work.
        """
        run = self._run
        if run._loop_thread == threading.get_ident():
            return run._add_phase(self.key, template, key, tuple(needs), dict(args or {}), options)
        # From a thread: add it in the loop, in the run's own context (a task made from this
        # thread's context would lack the run's scope, and so would the phases it starts).
        future: concurrent.futures.Future[str] = concurrent.futures.Future()

        def add() -> None:
            try:
                future.set_result(
                    run._add_phase(self.key, template, key, tuple(needs), dict(args or {}), options)
                )
            except BaseException as exc:
                future.set_exception(exc)

        run._loop.call_soon_threadsafe(add, context=run._root_context)
        return future.result()


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
        backend: Any = None,
        stored: StoredRun | None = None,
        retry_failed: bool = False,
    ) -> None:
        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r} (choose {', '.join(MODES)})")
        services = services or {}
        for name in inputs:
            if name in flow.phases:
                raise GraphError(f"input {name!r} has the same name as a phase")
            if name in services:
                raise GraphError(f"{name!r} is given both as an input and as a service")
        flow.validate(inputs.keys(), services.keys(), pools)
        self.flow = flow
        self.inputs = inputs
        self.services = services
        self.mode = mode
        self.store = store
        self.meta = meta or {}
        self.backend = backend
        self.run_id = run_id or _new_run_id(flow.name)
        self._stored = stored
        self._retry_failed = retry_failed
        self._callbacks: list[EventCallback] = [on_event] if on_event else []
        self._subscribers: list[asyncio.Queue[Event | None]] = []
        self.pools: dict[str, int | None] = {**flow.pools, **(pools or {})}
        compiled = flow.cached(
            (
                "run",
                mode,
                tuple(sorted(self.pools.items())),
                max_running,
                frozenset(inputs),
                frozenset(services),
            ),
            partial(_compile, flow, self.pools, mode, max_running, inputs, services),
        )
        self.scheduler: Scheduler = compiled[0].copy()
        self.bound: dict[str, _Bound] = dict(compiled[1])
        self.records: dict[str, PhaseRecord] = {key: PhaseRecord(key) for key in self.bound}
        self._items: dict[str, list[str]] = {}  # map -> keys of its items once expanded
        # resumed run: what each phase spent in earlier executions (see _count_earlier_usage)
        self._earlier_usage: dict[str, dict[str, float]] = {}
        self.outputs: dict[str, Any] = {}
        # unique across executions of one run
        self.timeline = Timeline(self.run_id, 0 if stored is None else stored.last_seq + 1)
        self._flat = self.timeline.flat  # see _emit
        self.usage: dict[str, float] = {}
        self.result: RunResult | None = None
        self._flushed = 0  # events already in the store
        self._run_scope = Scope(self.run_id, "", self._sink)  # phases set only their key
        # whether anything reads events as they happen (else _emit only appends them)
        self._listening = bool(self._callbacks) or store is not None
        # phase key -> its task; a task removes itself once it has recorded its outcome
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._t0 = time.perf_counter()
        self._stop_reason: str | None = None
        self._cancelled = False
        self._pumping = False
        self._finished: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop
        self._loop_thread = -1
        self._root_context: contextvars.Context  # set by execute()
        self._adds: dict[str, int] = {}
        self._active = 0  # phases started (in a task) and not yet completed
        # set while a fast phase's task records its outcome: the first fast phase that this
        # releases is handed to that task (_handoff) instead of getting a task of its own
        self._can_hand_off = False
        self._handoff: _Bound | None = None
        self._store_error: Exception | None = None  # the store failed: stop writing to it
        if stored is not None:
            self._count_earlier_usage(stored)
            for added in stored.added:
                self._add_phase(
                    added.added_by,
                    added.template,
                    added.key,
                    added.needs,
                    added.args,
                    added.options,
                    persist=False,
                )

    # -- construction helpers -----------------------------------------------------------

    @classmethod
    def create(cls, flow: Flow, inputs: dict[str, Any], options: Mapping[str, Any]) -> Run:
        """A fresh run from `Flow.start/run/run_sync`'s options (RunOptions)."""
        opts = dict(options)
        for name in ("services", "pools", "meta"):
            if opts.get(name) is not None:
                opts[name] = dict(opts[name])
        return cls(flow, inputs=inputs, **opts)

    @classmethod
    def for_resume(
        cls,
        flow: Flow,
        run_id: str,
        *,
        store: RunStore,
        services: Mapping[str, Any] | None = None,
        retry_failed: bool = False,
        on_event: EventCallback | None = None,
        mode: str | None = None,
        pools: Mapping[str, int] | None = None,
    ) -> Run:
        stored = store.load_run(run_id)
        if stored.flow != flow.name:
            raise StoreError(f"run {run_id!r} belongs to flow {stored.flow!r}, not {flow.name!r}")
        return cls(
            flow,
            inputs=dict(stored.inputs),
            mode=mode or stored.mode,
            services=dict(services or {}),
            pools=dict(pools or {}),
            store=store,
            run_id=run_id,
            on_event=on_event,
            meta=dict(stored.meta),
            stored=stored,
            retry_failed=retry_failed,
        )

    def _bind(
        self, key: str, spec: PhaseDef, kind: str, deps: tuple[str, ...], args: dict[str, Any]
    ) -> _Bound:
        return _bind(key, spec, kind, deps, args, self.inputs, self.services)

    # -- running --------------------------------------------------------------------------

    async def execute(self) -> RunResult:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._finished = self._loop.create_future()
        self._t0 = time.perf_counter()
        self._open_store()
        # every task of this run copies this context: its phases need only set their key
        run_token = _RUN_SCOPE.set(self._run_scope)
        self._root_context = contextvars.copy_context()  # for work handed in from threads
        try:
            self._emit(
                "run.started",
                None,
                {
                    "flow": self.flow.name,
                    "mode": self.mode,
                    "total": self.scheduler.total,
                    "resumed": self._stored is not None,
                },
            )
            self._pump()
            if self.scheduler.finished and not self._finished.done():
                self._finished.set_result(None)
            try:
                await self._finished
            except asyncio.CancelledError:
                # cancelled from outside (Ctrl-C in run_sync / asyncio.run, or the awaiting
                # task); cancel() via the handle has already set its own reason
                self.cancel("interrupted")
                while self._tasks:
                    await asyncio.gather(*self._tasks.values(), return_exceptions=True)
                self._finalize()
                raise
            result = self._finalize()
            if self._store_error is not None:
                raise StoreError(
                    f"checkpoint store failed during run {self.run_id}: "
                    f"{_describe(self._store_error)}"
                ) from self._store_error
            return result
        finally:
            _RUN_SCOPE.reset(run_token)
            if self.store is not None:
                with contextlib.suppress(Exception):
                    self.store.release(self.run_id)

    def _open_store(self) -> None:
        if self.store is None:
            return
        if self._stored is None:
            self.store.create_run(self.run_id, self.flow.name, self.inputs, self.mode, self.meta)
        self.store.acquire(self.run_id)

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the run now: running phases are cancelled, nothing new starts."""
        if self._cancelled:
            return
        self._cancelled = True
        self._stop_reason = self._stop_reason or reason
        self._stop_scheduler(reason)
        for task in list(self._tasks.values()):
            task.cancel()
            # a task cancelled before its first step never runs its body, so it cannot
            # record its outcome: this callback does it instead
            task.add_done_callback(self._cancelled_done)
        self._check_finished()

    def _request_stop(self, reason: str) -> None:
        """A phase raised RunStopped: release nothing more, let running phases finish."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self._stop_scheduler(reason)

    def _stop_scheduler(self, reason: str) -> None:
        for key in self.scheduler.stop():
            self._settle_record(key, "cancelled", reason)

    def _pump(self) -> None:
        """Start every phase the scheduler releases. Re-entrant calls fall through: the loop
        of the outer call picks up what they would have started."""
        if self._pumping:
            return
        self._pumping = True
        try:
            next_ready = self.scheduler.next_ready
            bounds = self.bound
            restoring = self._stored is not None
            while (key := next_ready()) is not None:
                bound = bounds[key]
                if bound.kind == "map":
                    self._advance_map(bound)
                elif restoring and self._restore(bound):
                    continue
                elif bound.fast and self.backend is None:
                    self._start_fast(bound)
                else:
                    self._active += 1
                    self._tasks[key] = self._loop.create_task(self._execute(bound), name=key)
        finally:
            self._pumping = False

    def _cancelled_done(self, task: asyncio.Task[Any]) -> None:
        key = task.get_name()
        if self._tasks.pop(key, None) is not None:
            self._active -= 1
            self._complete(key, "cancelled", None, self._stop_reason or "cancelled")

    def _start_fast(self, bound: _Bound) -> None:
        """The common case, kept lean: no retry loop, no timeout, no context object; the
        task records its own outcome as soon as the body returns (no done callback, which
        would cost a turn of the event loop per phase)."""
        key = bound.key
        record = self.records[key]
        record.started = now = time.perf_counter() - self._t0
        record.attempts = 1
        self._flat += (now, "phase.started", key, bound.started)  # _emit(), inlined
        if self._listening:
            self._dispatch()
        self._active += 1
        if self._can_hand_off:
            self._can_hand_off = False
            self._handoff = bound
            return
        self._tasks[key] = self._loop.create_task(self._run_fast(bound), name=key)

    async def _run_fast(self, bound: _Bound) -> None:
        """Run a fast phase, record its outcome, then any phase handed off to this task.

        The body's coroutine is made here, not when the phase is released: a task cancelled
        before its first step then leaves no coroutine that was never awaited."""
        task: asyncio.Task[None] | None = None
        ran = 0
        while True:
            key = bound.key
            # the task's context is its own copy: setting the scope here needs no reset
            _SCOPE.set(key)
            error: str | None
            escape: BaseException | None = None
            try:
                if ran and not ran % HANDOFF_YIELD:
                    await asyncio.sleep(0)
                if self._cancelled:
                    raise asyncio.CancelledError
                spec = bound.spec
                if bound.binding:
                    output = await spec.fn(**self._kwargs(bound, None))
                else:
                    output = await spec.fn()
            except asyncio.CancelledError:
                status, output, error = "cancelled", None, self._stop_reason or "cancelled"
            except RunStopped as exc:
                self._request_stop(str(exc))
                status, output, error = "cancelled", None, _describe(exc)
            except Exception as exc:
                status, output, error = "failed", None, _describe(exc)
            except BaseException as exc:  # not an Exception (a test's Failed, ...): still failed
                status, output, error = "failed", None, _describe(exc)
                if isinstance(exc, KeyboardInterrupt | SystemExit):
                    escape = exc  # recorded, then on its way up
            else:
                status, error = "succeeded", None
            del self._tasks[key]
            self._active -= 1
            self._can_hand_off = escape is None
            try:
                self._complete(key, status, output, error)
            finally:
                self._can_hand_off = False
            if escape is not None:
                raise escape
            handoff = self._handoff
            if handoff is None:
                return
            self._handoff = None
            bound = handoff
            if task is None:
                task = asyncio.current_task()
                assert task is not None
            if task.cancelling():
                # a cancellation is pending on this task: it belongs to the phase that just
                # ended, so the next phase gets a task of its own
                self._tasks[bound.key] = self._loop.create_task(
                    self._run_fast(bound), name=bound.key
                )
                return
            self._tasks[bound.key] = task
            ran += 1

    async def _execute(self, bound: _Bound) -> None:
        spec = bound.spec
        key = bound.key
        record = self.records[key]
        record.started = time.perf_counter() - self._t0
        ctx = PhaseContext(self, key) if bound.wants_ctx else None
        status, output, error = "failed", None, None
        escape: BaseException | None = None
        attempt = 0
        # Each phase runs in its own task, whose context is a private copy: setting the scope
        # here needs no reset, and it follows the body into awaits and worker threads.
        _SCOPE.set(key)
        try:
            kwargs = self._kwargs(bound, ctx) if bound.binding else {}
            while True:
                attempt += 1
                record.attempts = attempt
                if ctx is not None:
                    ctx.attempt = attempt
                self._emit("phase.started", key, {"attempt": attempt, "pool": spec.pool})
                try:
                    if self.backend is not None:  # e.g. Ray: the body runs elsewhere
                        async with asyncio.timeout(spec.timeout):
                            output = await self.backend.call(
                                spec.fn, kwargs, spec.is_async, pool=spec.pool
                            )
                    elif spec.is_async and spec.timeout is None:
                        output = await spec.fn(**kwargs)
                    else:
                        output = await self._call(spec, kwargs)
                    status = "succeeded"
                    break
                except RunStopped as exc:
                    status, error = "cancelled", _describe(exc)
                    self._request_stop(str(exc))
                    break
                except Exception as exc:
                    error = _describe(exc, spec.timeout)
                    retryable = getattr(exc, "retryable", True)
                    if attempt <= spec.retries and retryable and not self.scheduler.stopped:
                        delay = self._backoff(spec, attempt, exc)
                        self._emit(
                            "phase.retrying",
                            key,
                            {"attempt": attempt, "error": error, "delay_s": round(delay, 3)},
                        )
                        await asyncio.sleep(delay)
                        continue
                    status = "failed"
                    break
        except asyncio.CancelledError:
            status, error = "cancelled", self._stop_reason or "cancelled"
        except GraphError as exc:  # a binding that cannot be filled
            status, error = "failed", _describe(exc)
        except BaseException as exc:  # not an Exception (a test's Failed, ...): still failed
            status, output, error = "failed", None, _describe(exc)
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                escape = exc  # recorded, then on its way up
        del self._tasks[key]
        self._active -= 1
        self._complete(key, status, output, error)
        if escape is not None:
            raise escape

    async def _call(self, spec: PhaseDef, kwargs: dict[str, Any]) -> Any:
        if spec.is_async:
            if spec.timeout is None:
                return await spec.fn(**kwargs)
            async with asyncio.timeout(spec.timeout):
                return await spec.fn(**kwargs)
        call = asyncio.to_thread(spec.fn, **kwargs)
        if spec.timeout is None:
            return await call
        async with asyncio.timeout(spec.timeout):
            return await call

    def _kwargs(self, bound: _Bound, ctx: PhaseContext | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for param, source in bound.binding:
            if source == "output":
                kwargs[param] = self.outputs[param]
            elif source == "arg":
                kwargs[param] = bound.args[param]
            elif source == "input":
                kwargs[param] = self.inputs[param]
            elif source == "service":
                kwargs[param] = self.services[param]
            else:
                kwargs[param] = ctx
        return kwargs

    def _backoff(self, spec: PhaseDef, attempt: int, exc: BaseException) -> float:
        base = self.flow.retry_backoff if spec.backoff is None else spec.backoff
        delay: float = min(MAX_BACKOFF_S, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.5)
        retry_after = getattr(exc, "retry_after", None)
        if isinstance(retry_after, int | float) and retry_after > delay:
            delay = float(retry_after)
        return delay

    # -- maps ---------------------------------------------------------------------------

    def _advance_map(self, bound: _Bound) -> None:
        """First release: expand into one item phase per item. Second: collect the results."""
        key = bound.key
        spec = bound.spec
        record = self.records[key]
        item_keys = self._items.get(key)
        if item_keys is None:
            record.started = self._now()
            record.attempts = 1
            blocked = [d for d in bound.deps if self.records[d].status != "succeeded"]
            if blocked:  # only a partial map is released with a failed dependency
                self._complete(key, "skipped", None, f"{blocked[0]} did not succeed")
                return
            try:
                source = self.outputs[spec.over or ""]
                items = spec.items(source) if spec.items is not None else source
                if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
                    raise GraphError(
                        f"map {key!r} needs a list of items from {spec.over!r}, "
                        f"got {type(items).__name__}"
                    )
            except Exception as exc:
                self._complete(key, "failed", None, _describe(exc))
                return
            item_keys = self._items[key] = [f"{key}[{i}]" for i in range(len(items))]
            level = self.scheduler.level(key)
            nodes = []
            for index, (item_key, item) in enumerate(zip(item_keys, items, strict=True)):
                args = {"item": item, "index": index}
                self.bound[item_key] = self._bind(item_key, spec, "item", bound.deps, args)
                self.records[item_key] = self._new_record(item_key)
                nodes.append(
                    NodeSpec(
                        item_key, bound.deps, spec.pool, spec.priority, spec.estimate, level=level
                    )
                )
            self.scheduler.add(nodes)
            self.scheduler.defer(key, item_keys)
            self._emit("phase.started", key, {"attempt": 1, "items": len(item_keys)})
            return
        results = [self.outputs.get(k) for k in item_keys]
        failed = [k for k in item_keys if self.records[k].status != "succeeded"]
        if failed and not spec.partial:
            self._complete(key, "skipped", None, f"items did not succeed: {', '.join(failed)}")
        else:
            self._complete(key, "succeeded", results, None)

    # -- dynamic phases -----------------------------------------------------------------

    def _add_phase(
        self,
        adder: str,
        template: str,
        key: str | None,
        needs: tuple[str, ...],
        args: dict[str, Any],
        options: Mapping[str, Any],
        *,
        persist: bool = True,
    ) -> str:
        spec = self.flow.templates.get(template)
        if spec is None:
            from phasefarm.engine.flow import _unknown

            raise GraphError(
                _unknown(adder, template, self.flow.templates).replace(
                    "is not a phase, input or service", "is not a template of this flow"
                )
            )
        allowed = {"pool", "retries", "timeout", "priority", "estimate"}
        bad = sorted(set(options) - allowed)
        if bad:
            raise GraphError(f"add_phase({template!r}): unknown option(s) {', '.join(bad)}")
        if key is None:
            count = self._adds.get(adder, 0)
            self._adds[adder] = count + 1
            key = f"{template}[{adder}.{count}]"
        existing = self.bound.get(key)
        if existing is not None:
            if existing.kind == "template" and existing.spec.name == template:
                return key
            raise GraphError(f"duplicate phase key {key!r}")
        for dep in needs:
            if dep not in self.bound:
                from phasefarm.engine.flow import _unknown

                raise GraphError(_unknown(key, dep, self.bound))
        from dataclasses import replace

        from phasefarm.engine.flow import _check_options

        if options:
            spec = replace(spec, **options)
            _check_options(key, spec.retries, spec.timeout, spec.estimate, spec.backoff)
        deps = list(needs)
        for param in spec.params:
            if param in self.flow.phases and param not in args and param not in deps:
                deps.append(param)
        bound = self._bind(key, spec, "template", tuple(deps), args)
        settled = self.scheduler.add(
            [NodeSpec(key, bound.deps, spec.pool, spec.priority, spec.estimate)]
        )
        self.bound[key] = bound
        self.records[key] = self._new_record(key)
        if persist and self.store is not None:
            from phasefarm.store.base import AddedPhase

            self.store.save_added(
                self.run_id,
                AddedPhase(key, template, bound.deps, args, dict(options), adder),
            )
        self._emit(
            "phase.added", key, {"deps": list(bound.deps), "pool": spec.pool, "added_by": adder}
        )
        for settled_key, status in settled:  # stopped, or a dependency had already ended badly
            if self.scheduler.stopped:
                reason = self._stop_reason or "run stopped"
            else:
                ended = [d for d in bound.deps if self.records[d].status in ("failed", "skipped")]
                reason = f"{ended[0]} {self.records[ended[0]].status}" if ended else "cancelled"
            self._settle_record(settled_key, status, reason)
        if not settled and persist:
            self._pump()
        return key

    # -- resume ---------------------------------------------------------------------------

    def _restore(self, bound: _Bound) -> bool:
        """Reuse a stored outcome if its inputs are unchanged; True if it was reused."""
        assert self._stored is not None
        stored = self._stored.phases.get(bound.key)
        if stored is None or stored.status not in ("succeeded", "failed"):
            return False
        if stored.status == "failed" and self._retry_failed:
            return False
        if stored.input_hash != self._input_hash(bound):
            return False
        record = self.records[bound.key]
        record.restored = True
        record.attempts = stored.attempts
        record.started, record.finished = stored.started, stored.finished
        self._complete(bound.key, stored.status, stored.output, stored.error, restored=True)
        return True

    def _count_earlier_usage(self, stored: StoredRun) -> None:
        """A resumed run's usage starts from what its earlier executions spent, abandoned
        attempts included: the run's totals and each phase's record go on from there."""
        from phasefarm.store.base import usage_so_far

        assert self.store is not None
        spent = usage_so_far(stored, self.store.events(self.run_id))
        for key, totals in spent.items():
            add_usage(self.usage, totals)
            record = self.records.get(key)
            if record is not None:
                record.usage = dict(totals)
        self._earlier_usage = spent  # for phases added again below (their records are new)

    def _new_record(self, key: str) -> PhaseRecord:
        """The record of a phase added during the run (map item, template)."""
        record = PhaseRecord(key)
        earlier = self._earlier_usage.get(key)
        if earlier:
            record.usage = dict(earlier)
        return record

    def _input_hash(self, bound: _Bound) -> str:
        from phasefarm.store.codec import input_hash

        values = {p: v for p, v in self._kwargs(bound, None).items() if _hashed(bound, p)}
        return input_hash({"key": bound.key, "values": values})

    # -- recording ------------------------------------------------------------------------

    def _complete(
        self,
        key: str,
        status: str,
        output: Any,
        error: str | None,
        *,
        restored: bool = False,
    ) -> None:
        record = self.records[key]
        record.status = status
        record.error = error
        if not restored:
            record.finished = now = time.perf_counter() - self._t0
        if status == "succeeded":
            self.outputs[key] = output
        if self.store is not None and not restored:
            try:
                self._persist(self.bound[key], record, output if status == "succeeded" else None)
            except CheckpointValueError as exc:
                # an output a resume could not read back: the phase fails, its dependents
                # are skipped, the rest of the run goes on
                status = record.status = "failed"
                error = record.error = f"cannot checkpoint the output: {exc}"
                self.outputs.pop(key, None)
                self._persist(self.bound[key], record, None)
        if status == "succeeded" and record.attempts == 1 and not restored:
            self._flat += (now, "phase.succeeded", key, _SUCCEEDED_FIRST_TIME)  # _emit(), inlined
            if self._listening:
                self._dispatch()
        else:
            data = {"attempts": record.attempts, "error": error, "restored": restored}
            self._emit(_PHASE_KIND[status], key, data)
        scheduler = self.scheduler
        for settled_key, settled_status in scheduler.finish(key, status):
            reason = (
                f"{key} {status}"
                if settled_status == "skipped"
                else (self._stop_reason or f"{key} cancelled")
            )
            self._settle_record(settled_key, settled_status, reason)
        self._emit("progress", None, {"done": scheduler.done_count, "total": scheduler.total})
        if scheduler.has_ready and not self._cancelled:
            self._pump()
        if not self._active:
            self._check_finished()

    def _settle_record(self, key: str, status: str, reason: str) -> None:
        """A phase that never ran: skipped (a dependency failed) or cancelled."""
        record = self.records[key]
        record.status = status
        record.error = reason
        if self.store is not None:
            self._persist(self.bound[key], record, None)
        self._emit(f"phase.{status}", key, {"reason": reason})

    def _persist(self, bound: _Bound, record: PhaseRecord, output: Any) -> None:
        """Save a phase record. A store that fails ends the run with its error: carrying on
        would run phases whose inputs a resume could not find (this runs in callbacks, where
        an exception would otherwise be lost and the run would hang)."""
        if self._store_error is not None:
            return
        try:
            self._save(bound, record, output)
        except CheckpointValueError:
            raise  # the output's fault, not the store's: _complete fails the phase
        except Exception as exc:
            self._store_error = exc
            self.cancel(f"checkpoint store failed: {_describe(exc)}")

    def _save(self, bound: _Bound, record: PhaseRecord, output: Any) -> None:
        from phasefarm.store.base import StoredPhase

        assert self.store is not None
        input_hash = None
        if record.status in ("succeeded", "failed") and bound.kind != "map":
            try:
                input_hash = self._input_hash(bound)
            except CheckpointValueError:
                input_hash = None  # inputs that cannot be hashed: a resume runs it again
        phase: StoredPhase = StoredPhase(
            key=record.key,
            status=record.status,
            attempts=record.attempts,
            started=record.started,
            finished=record.finished,
            output=output,
            error=record.error,
            input_hash=input_hash,
            usage=dict(record.usage),
        )
        self.store.save_phase(self.run_id, phase)
        self._flush_events()

    def _flush_events(self) -> None:
        end = len(self.timeline)
        if self.store is not None and end > self._flushed:
            events = self.timeline[self._flushed : end]
            self._flushed = end
            self.store.append_events(self.run_id, [e.to_dict() for e in events])

    def _check_finished(self) -> None:
        if (
            self._active == 0
            and self.scheduler.finished
            and self._finished is not None
            and not self._finished.done()
        ):
            self._finished.set_result(None)

    def _finalize(self) -> RunResult:
        if self.result is not None:
            return self.result
        executed = [r for r in self.records.values() if not r.restored and r.started is not None]
        elapsed = 0.0
        if executed:
            end = max((r.finished or r.started or 0.0) for r in executed)
            elapsed = end - min(r.started or 0.0 for r in executed)
        statuses = {r.status for r in self.records.values()}
        if self._cancelled or self._stop_reason is not None:
            status = "cancelled"
        elif statuses & {"failed", "skipped", "cancelled", "pending"}:
            status = "failed"
        else:
            status = "succeeded"
        self._emit(
            "run.finished",
            None,
            {
                "status": status,
                "elapsed_s": round(elapsed, 6),
                "stop_reason": self._stop_reason,
                "usage": dict(self.usage),
            },
        )
        if self.store is not None and self._store_error is None:
            self._flush_events()
            self.store.finish_run(
                self.run_id,
                status,
                elapsed,
                self.usage.get("tokens", 0.0),
                self.usage.get("cost", 0.0),
                self._stop_reason,
            )
        for queue in self._subscribers:
            queue.put_nowait(None)
        self.result = RunResult(
            run_id=self.run_id,
            flow=self.flow.name,
            mode=self.mode,
            status=status,
            phases=self.records,
            outputs=self.outputs,
            timeline=self.timeline,
            usage=self.usage,
            elapsed_s=elapsed,
            stop_reason=self._stop_reason,
        )
        return self.result

    # -- events ---------------------------------------------------------------------------

    def _now(self) -> float:
        return time.perf_counter() - self._t0

    def _emit(self, kind: str, phase: str | None, data: dict[str, Any]) -> None:
        self._flat += (time.perf_counter() - self._t0, kind, phase, data)
        if self._listening:
            self._dispatch()

    def _dispatch(self) -> None:
        """Give the newest event to callbacks and subscribers (the store takes it later)."""
        event = self.timeline[-1]
        for callback in self._callbacks:
            try:
                callback(event)
            except Exception as exc:  # an observer must not break the run
                warnings.warn(f"event callback failed: {exc!r}", RuntimeWarning, stacklevel=1)
        for queue in self._subscribers:
            queue.put_nowait(event)

    def _sink(self, key: str, kind: str, data: dict[str, Any]) -> None:
        """Custom events from inside a phase; may be called from a worker thread."""
        if threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(self._sink, key, kind, data)
            return
        if kind == "usage":
            add_usage(self.records[key].usage, data)
            add_usage(self.usage, data)
        self._emit(kind, key, dict(data))

    def subscribe(self) -> asyncio.Queue[Event | None]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        for event in self.timeline:
            queue.put_nowait(event)
        if self.result is not None:
            queue.put_nowait(None)
        else:
            self._subscribers.append(queue)
            self._listening = True
        return queue


class RunHandle:
    """A started run: await its result, cancel it, or iterate over its events."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._task = asyncio.ensure_future(run.execute())

    @property
    def run_id(self) -> str:
        return self.run.run_id

    def cancel(self) -> None:
        self.run.cancel("cancelled")

    async def result(self) -> RunResult:
        return await self._task

    def __await__(self) -> Any:
        return self._task.__await__()

    async def events(self) -> AsyncIterator[Event]:
        queue = self.run.subscribe()
        while (event := await queue.get()) is not None:
            yield event


def run_blocking(
    factory: Callable[[], Run],
    cleanup: Callable[[], Awaitable[None]] | None = None,
) -> RunResult:
    """Run in a fresh event loop. Ctrl-C cancels the run cleanly and returns its result.

    `cleanup` runs in the same loop after the run, whatever happened (e.g. closing the HTTP
    clients of an LLM service, which belong to that loop)."""
    holder: list[Run] = []

    async def main() -> RunResult:
        try:
            run = factory()
            holder.append(run)
            return await run.execute()
        finally:
            if cleanup is not None:
                await cleanup()

    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        if holder and holder[0].result is not None:
            return holder[0].result
        raise


def _compile(
    flow: Flow,
    pools: dict[str, int | None],
    mode: str,
    max_running: int | None,
    inputs: Mapping[str, Any],
    services: Mapping[str, Any],
) -> tuple[Scheduler, dict[str, _Bound]]:
    """A flow's static phases as a fresh run starts them: the scheduler in its initial state
    and every phase's binding. Built once per flow, mode, pools and input names; each run
    copies it (`Scheduler.copy()` is a few list copies, where building is a graph walk)."""
    scheduler = Scheduler(pools, mode, max_running)
    nodes: list[NodeSpec] = []
    bounds: dict[str, _Bound] = {}
    for spec in flow.phases.values():
        node = spec.node(flow.phases)
        bounds[spec.name] = _bind(spec.name, spec, spec.kind, node.deps, _NO_ARGS, inputs, services)
        nodes.append(node)
    scheduler.add(nodes)
    return scheduler, bounds


def _bind(
    key: str,
    spec: PhaseDef,
    kind: str,
    deps: tuple[str, ...],
    args: dict[str, Any],
    inputs: Mapping[str, Any],
    services: Mapping[str, Any],
) -> _Bound:
    """How each parameter of a phase is filled: a dependency's output, an input, a service,
    an argument (map items, templates) or the phase context."""
    binding: list[tuple[str, str]] = []
    for param in spec.params:
        if param == CONTEXT_PARAM:
            binding.append((param, "ctx"))
        elif param in args or (spec.kind == "map" and param in ("item", "index")):
            binding.append((param, "arg"))
        elif param in deps:
            binding.append((param, "output"))
        elif param in inputs:
            binding.append((param, "input"))
        elif param in services:
            binding.append((param, "service"))
        elif param in spec.defaults:
            continue
        else:
            raise GraphError(
                f"phase {spec.name!r}: parameter {param!r} is not a phase, input, service "
                "or argument"
            )
    bound = _Bound(key, spec, kind, deps, args, tuple(binding))
    bound.fast = bound.is_fast()
    started = _FIRST_STARTED.get(spec.pool)
    if started is None:
        started = _FIRST_STARTED[spec.pool] = {"attempt": 1, "pool": spec.pool}
    bound.started = started
    return bound


def _hashed(bound: _Bound, param: str) -> bool:
    return any(p == param and s in ("output", "input", "arg") for p, s in bound.binding)


def _describe(exc: BaseException, timeout: float | None = None) -> str:
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"timed out after {timeout:g} s" if timeout else "timed out"
    text = " / ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _new_run_id(flow: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{flow}-{stamp}-{secrets.token_hex(2)}"
