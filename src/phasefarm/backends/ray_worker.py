"""What runs on a Ray worker: one phase body per task (`run_phase`), with the run's services.

A worker process runs one task at a time and Ray reuses it for later tasks, so each process
keeps a `WorkerRuntime`: an event loop in a thread of its own that outlives tasks, and the
services it built (per `services_factory`, the last few). A phase then pays neither for a new
event loop nor for building its services again (an OpenAI provider with its HTTP clients takes
about 90 ms to build: measured in `phasefarm bench scale`'s per-phase overhead).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import pickle
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import ray
from ray import cloudpickle

from phasefarm import scope
from phasefarm.backends.ray_limiter import SharedBudget, SharedLimiter
from phasefarm.errors import PhasefarmError
from phasefarm.llm.client import LLM

__all__ = [
    "LLMWiring",
    "PhaseCall",
    "PhaseReport",
    "RefList",
    "WorkerRuntime",
    "run_phase",
    "runtime",
]

KEEP_SERVICES = 4  # services of this many runs stay built in a worker process


@dataclass(frozen=True)
class LLMWiring:
    """How a worker's LLM joins the cluster: the shared limiter and the run's budget actor."""

    limiter: SharedLimiter | None  # None: nothing to share, the worker's own limiter will do
    budget: Any  # a BudgetActor handle; None without caps (usage adds up through the events)
    max_tokens: float | None
    max_cost: float | None


@dataclass(frozen=True)
class PhaseCall:
    """Everything a task needs besides the phase's arguments (sent by value)."""

    fn: Callable[..., Any]
    key: str
    run_id: str
    names: tuple[str, ...]  # parameter names, in the order of the task's positional values
    worker_services: tuple[str, ...]  # parameters to take from `services_factory`
    services_factory: Callable[[], Mapping[str, Any]] | None
    wiring: Mapping[str, LLMWiring] = field(default_factory=dict)  # LLM services by name
    env: Mapping[str, str] = field(default_factory=dict)
    relay: Any = None  # an EventRelay handle: events go to the driver as they happen
    token: str = ""  # this phase's task, for the relay


@dataclass(frozen=True)
class RefList:
    """A list argument whose items are outputs in the object store: fetched on the worker."""

    refs: list[Any]


@dataclass(frozen=True)
class PhaseReport:
    """What came out of a body besides its output: its events, and its exception if any."""

    events: list[tuple[str, dict[str, Any]]]
    attempt: str  # this execution of the task (Ray may run it again on another worker)
    error: BaseException | None = None


class WorkerRuntime:
    """One per worker process: a long-lived event loop and the services built on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        thread = threading.Thread(
            target=self.loop.run_forever, name="phasefarm-worker-loop", daemon=True
        )
        thread.start()
        self.services: OrderedDict[bytes, Mapping[str, Any]] = OrderedDict()

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run `coro` on the loop and wait for it; an interrupt (`ray.cancel`) cancels it."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def services_for(
        self, factory: Callable[[], Mapping[str, Any]], env: Mapping[str, str]
    ) -> Mapping[str, Any]:
        """What `factory` builds, with the driver's `env`: built once, then reused."""
        key: bytes = cloudpickle.dumps((factory, dict(env)))  # type: ignore[no-untyped-call,unused-ignore]
        made = self.services.get(key)
        if made is not None:
            self.services.move_to_end(key)
            return made
        made = self.services[key] = factory()
        while len(self.services) > KEEP_SERVICES:
            _, old = self.services.popitem(last=False)
            self.run(_close(old))
        return made


@functools.cache
def runtime() -> WorkerRuntime:
    """This process's runtime, made by its first task."""
    return WorkerRuntime()


def run_phase(call: PhaseCall, *values: Any) -> tuple[Any, PhaseReport]:
    """The Ray task: run one phase body on a worker; (output, report)."""
    os.environ.update(call.env)
    events: list[tuple[str, dict[str, Any]]] = []
    attempt = uuid.uuid4().hex

    def sink(phase: str, kind: str, data: dict[str, Any]) -> None:
        events.append((kind, dict(data)))
        if call.relay is not None:
            call.relay.push.remote(call.token, attempt, kind, dict(data))

    kwargs = {
        name: ray.get(value.refs) if isinstance(value, RefList) else value
        for name, value in zip(call.names, values, strict=True)
    }
    here = scope.Scope(call.run_id, call.key, sink)
    try:
        if call.worker_services:
            assert call.services_factory is not None
            made = runtime().services_for(call.services_factory, call.env)
            for name in call.worker_services:
                kwargs[name] = _join_cluster(made[name], call.wiring.get(name))
        if inspect.iscoroutinefunction(call.fn):
            output = runtime().run(_in_scope(here, call.fn, kwargs))
        else:
            with scope.phase_scope(here):
                output = call.fn(**kwargs)
    except Exception as exc:
        return None, PhaseReport(events, attempt, _portable(exc))
    return output, PhaseReport(events, attempt)


async def _in_scope(here: scope.Scope, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    with scope.phase_scope(here):
        return await fn(**kwargs)


async def _close(services: Mapping[str, Any]) -> None:
    for service in services.values():
        if isinstance(service, LLM):
            await service.aclose()


def _join_cluster(service: Any, wiring: LLMWiring | None) -> Any:
    if isinstance(service, LLM) and wiring is not None:
        if wiring.limiter is not None:
            service.limiter = wiring.limiter
        if wiring.budget is not None:
            service.budget = SharedBudget(
                wiring.budget, max_tokens=wiring.max_tokens, max_cost=wiring.max_cost
            )
    return service


def _portable(exc: Exception) -> Exception:
    """The exception itself when it survives pickling, else one of ours with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        error = PhasefarmError(f"{type(exc).__name__}: {exc}")
        error.retryable = getattr(exc, "retryable", True)
        return error
    return exc
