"""Running one phase: its attempts, timeout, context and outcome.

Every phase runs here, in an asyncio task of its own (one execution path: no shortcut for
simple phases; the one that existed saved 0.2 µs per phase). The task:
1. makes the phase's scope current (its task has a private copy of the context, so nothing
   needs resetting, and sub-tasks and worker threads inherit it);
2. fills the parameters, then tries the body up to `1 + retries` times through the run's
   backend, each attempt under the phase's `timeout`; between attempts it waits an
   exponential backoff with jitter;
3. hands the outcome to the run (`PhaseHost.phase_ended`), which records it.

What is retried: an exception whose `retryable` is true (any exception that does not say
otherwise). Errors of model calls are retried in the LLM layer, not here (errors.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import random
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from phasefarm import scope
from phasefarm.engine.binding import Binding, Sources, kwargs
from phasefarm.errors import RunStopped

if TYPE_CHECKING:
    from phasefarm.engine.backend import Backend
    from phasefarm.engine.result import PhaseRecord

__all__ = ["MAX_BACKOFF_S", "PhaseContext", "PhaseHost", "describe", "run_phase"]

MAX_BACKOFF_S = 30.0


class PhaseHost(Protocol):
    """What a phase task needs from its run (engine/run.py's `Run`)."""

    run_id: str
    cancelled: bool
    records: dict[str, PhaseRecord]
    sources: Sources
    backend: Backend
    retry_backoff: float
    flow_name: str
    t0: float
    loop: asyncio.AbstractEventLoop
    loop_thread: int
    root_context: contextvars.Context

    def emit(self, kind: str, phase: str | None, data: dict[str, Any]) -> None: ...
    def emit_frozen(self, kind: str, phase: str | None, data: Mapping[str, Any]) -> None: ...
    def sink(self, key: str, kind: str, data: dict[str, Any]) -> None: ...
    def request_stop(self, reason: str) -> None: ...
    def stop_reason_or(self, default: str) -> str: ...
    def stopping(self) -> bool: ...
    def phase_ended(self, key: str, status: str, output: Any, error: str | None) -> None: ...
    def add_phase(
        self,
        adder: str,
        template: str,
        key: str | None,
        needs: tuple[str, ...],
        args: dict[str, Any],
        options: Mapping[str, Any],
    ) -> str: ...


class PhaseContext:
    """Given to a phase that has a `ctx` parameter."""

    def __init__(self, host: PhaseHost, key: str) -> None:
        self._host = host
        self.key = key
        self.run_id = host.run_id
        self.flow = host.flow_name
        self.attempt = 0

    def emit(self, kind: str, **data: Any) -> None:
        """Send a custom event; numeric fields of "usage" events are summed per phase."""
        self._host.sink(self.key, kind, data)

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
        host = self._host
        request = (self.key, template, key, tuple(needs), dict(args or {}), options)
        if host.loop_thread == threading.get_ident():
            return host.add_phase(*request)
        # From a worker thread: add it in the loop, in the run's own context (work started
        # from this thread's context would not belong to the run).
        future: concurrent.futures.Future[str] = concurrent.futures.Future()

        def add() -> None:
            try:
                future.set_result(host.add_phase(*request))
            except BaseException as exc:
                future.set_exception(exc)

        host.loop.call_soon_threadsafe(add, context=host.root_context)
        return future.result()


async def run_phase(host: PhaseHost, binding: Binding) -> None:
    """The body of a phase's task: run the phase, then report its outcome to the host."""
    key = binding.key
    spec = binding.spec
    record = host.records[key]
    record.started = time.perf_counter() - host.t0
    scope.enter(scope.Scope(host.run_id, key, host.sink))
    status, output, error = "failed", None, None
    escape: BaseException | None = None
    try:
        ctx = PhaseContext(host, key) if binding.wants_ctx else None
        call_kwargs = kwargs(binding, host.sources, ctx) if binding.params else {}
        while True:
            record.attempts += 1
            if ctx is not None:
                ctx.attempt = record.attempts
            if record.attempts == 1:
                host.emit_frozen("phase.started", key, binding.first_started)
            else:
                host.emit("phase.started", key, {"attempt": record.attempts, "pool": spec.pool})
            if host.cancelled:  # by an observer of that event: the body does not start
                raise asyncio.CancelledError
            try:
                if spec.timeout is None:
                    output = await host.backend.call(spec.fn, call_kwargs, spec.is_async)
                else:
                    async with asyncio.timeout(spec.timeout):
                        output = await host.backend.call(spec.fn, call_kwargs, spec.is_async)
                status = "succeeded"
                break
            except RunStopped as exc:
                host.request_stop(str(exc))
                status, error = "cancelled", describe(exc)
                break
            except Exception as exc:
                error = describe(exc, spec.timeout)
                if (
                    record.attempts > spec.retries
                    or not getattr(exc, "retryable", True)
                    or host.stopping()
                ):
                    status = "failed"
                    break
                delay = backoff(
                    host.retry_backoff if spec.backoff is None else spec.backoff, record.attempts
                )
                host.emit(
                    "phase.retrying",
                    key,
                    {"attempt": record.attempts, "error": error, "delay_s": round(delay, 3)},
                )
                await asyncio.sleep(delay)
    except asyncio.CancelledError:
        status, output, error = "cancelled", None, host.stop_reason_or("cancelled")
    except BaseException as exc:  # a binding that cannot be filled, a test's Failed, Ctrl-C...
        status, output, error = "failed", None, describe(exc)
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            escape = exc  # recorded below, then on its way up
    host.phase_ended(key, status, output, error)
    if escape is not None:
        raise escape


def backoff(base: float, attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt`: exponential, jittered, capped."""
    delay: float = min(MAX_BACKOFF_S, base * 2 ** (attempt - 1))
    return delay * random.uniform(0.5, 1.5)


def describe(exc: BaseException, timeout: float | None = None) -> str:
    """One line for a phase record's `error`: the exception's type and message."""
    if isinstance(exc, TimeoutError) and not str(exc):
        return f"timed out after {timeout:g} s" if timeout else "timed out"
    text = " / ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
