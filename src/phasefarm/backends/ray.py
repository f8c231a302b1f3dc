"""The Ray backend: phase bodies run as Ray tasks; the scheduler stays in the driver.

    backend = RayBackend(address=None, worker_services=partial(build_services, meta))
    result = await flow.run(inputs=..., services=services, backend=backend)

What runs where:

- the driver (the process that called `Flow.run`) keeps the scheduler, the run's records, the
  checkpoint store and the event timeline; for each phase it submits one Ray task and awaits it;
- the task (`ray_worker.run_phase`, on any worker of the cluster) fills the phase's
  parameters, runs the body (an async one on the worker process's long-lived event loop) and
  returns two objects: the output, and a
  report (the custom events the body emitted, in order, and the exception if it raised). The
  events also come to the driver as they happen (`ray_events.py`); the driver emits them into
  the run, so usage adds up in the run's totals, the store and the live view, in order per phase;
- outputs stay in Ray's object store: the driver fetches each once (to checkpoint it), and a
  phase that consumes it (or a map's items, as a list) gets the object references as its task
  arguments, so a worker reads them from the object store, not sent through the driver again;
- services are sent to the task by value (pickled), except an `LLM`: its connections and
  limiter cannot travel, so the task builds its services with `worker_services` (a picklable
  function, e.g. the website job's `build_services(meta)`) and its LLMs get the cluster's
  shared limiter and the run's shared budget (`ray_limiter.py`). API keys never travel: a
  worker reads `OPENAI_API_KEY` from its own environment;
- a pool with a size maps to the Ray resource `pool:<name>` when the cluster has it (a cluster
  this backend starts declares one per pool of the run), so the pool is also enforced across
  every run on the cluster;
- a phase that takes `ctx` runs in the driver: its context reaches into the driver's run
  (`ctx.add_phase`); the phases it adds run on the cluster;
- when a worker process dies mid-phase, Ray runs the task again (`max_retries`, system failures
  only: an exception raised by the body is the engine's to retry); the driver records the
  phase once, when the task finally returns.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import ray
from ray.exceptions import RayError, RayTaskError

from phasefarm import scope
from phasefarm.backends.ray_events import EventRelay, LiveEvents
from phasefarm.backends.ray_limiter import NAMESPACE, SharedLimiter, run_budget, shared_limiter
from phasefarm.backends.ray_worker import LLMWiring, PhaseCall, PhaseReport, RefList, run_phase
from phasefarm.engine.backend import LocalBackend
from phasefarm.engine.phases import CONTEXT_PARAM
from phasefarm.errors import BackendError, UsageError
from phasefarm.llm.client import LLM
from phasefarm.llm.limiter import RateLimiter

__all__ = ["RayBackend", "connect"]

# Settings a worker takes from the driver so that it reaches the same server (never a key).
_SHARED_ENV = ("OPENAI_BASE_URL", "OPENAI_MODEL")
DEFAULT_TASK_CPUS = 1.0  # one phase per logical CPU: each keeps a warm worker process
LOCAL_CPUS_PER_CORE = 4


def connect(address: str | None = None, *, pools: Mapping[str, int | None] | None = None) -> bool:
    """Join the cluster at `address` ("host:port", "auto", "ray://..."), or start a new local
    one; True if this call started Ray (then the caller shuts it down).

    A local cluster gets one resource `pool:<name>` per sized pool. Already connected: nothing
    to do (the caller's cluster is used as it is)."""
    if ray.is_initialized():
        return False
    if address:
        _probe(address)
        try:
            ray.init(
                address=address,
                namespace=NAMESPACE,
                log_to_driver=False,
                logging_level=logging.ERROR,
            )
        except (ConnectionError, RayError, ValueError) as exc:
            raise UsageError(f"cannot join the Ray cluster at {address!r}: {exc}") from None
        return True
    resources = {f"pool:{name}": float(size) for name, size in (pools or {}).items() if size}
    ray.init(
        address="local",  # a cluster of our own, even if another one runs on this machine
        # Ray keeps about one idle worker process per CPU and ends the others; phases mostly
        # wait on a model, so a local cluster counts more CPUs than the machine has, sparing a
        # new worker process (about a second to start) for most phases.
        num_cpus=LOCAL_CPUS_PER_CORE * (os.cpu_count() or 1),
        namespace=NAMESPACE,
        resources=resources,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
    )
    return True


def _probe(address: str) -> None:
    """Refuse an address nothing listens at: Ray itself would retry for minutes."""
    host, _, port = address.rpartition(":")
    if "://" in address or not host or not port.isdigit():
        return  # "auto", a Ray client URL: left to Ray
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise UsageError(
            f"cannot join the Ray cluster at {address!r}: {exc.strerror or exc}"
        ) from None


class RayBackend:
    """Runs phase bodies as Ray tasks (see the module's docstring)."""

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        worker_services: Callable[[], Mapping[str, Any]] | None = None,
        limiter: str | None = None,
        task_cpus: float = DEFAULT_TASK_CPUS,
        max_retries: int = 3,
        pools: Mapping[str, int | None] | None = None,
    ) -> None:
        if task_cpus < 0:
            raise UsageError("task_cpus must be >= 0")
        self.address = address
        self.worker_services = worker_services
        self.limiter_name = limiter
        self.task_cpus = task_cpus
        self.max_retries = max_retries
        self.pools = dict(pools or {})  # declared as resources of a cluster `start` starts
        self._started = False
        self._remote: Any = None
        self._pool_resources: set[str] = set()
        # outputs fetched from the object store, by identity: a consumer gets the reference
        self._refs: dict[int, tuple[Any, Any]] = {}
        self._wiring: dict[tuple[str, int], LLMWiring] = {}
        self._here = LocalBackend()
        self._live: LiveEvents  # set by start()

    def __repr__(self) -> str:
        return f"RayBackend(address={self.address!r}, limiter={self.limiter_name!r})"

    def start(self) -> None:
        """Connect (idempotent); called before the first phase is submitted."""
        if self._remote is not None:
            return
        self._started = connect(self.address, pools=self.pools)
        resources: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call,unused-ignore]
        self._pool_resources = {name for name in resources if name.startswith("pool:")}
        self._remote = ray.remote(run_phase)
        relay = ray.remote(EventRelay).options(num_cpus=0, max_concurrency=1000).remote()
        self._live = LiveEvents(relay)

    def close(self) -> None:
        """Forget fetched outputs; shut Ray down if `start` started it."""
        self._refs.clear()
        self._wiring.clear()
        self._remote = None
        if self._started and ray.is_initialized():
            ray.shutdown()
        self._started = False

    async def call(
        self,
        fn: Callable[..., Any],
        kwargs: Mapping[str, Any],
        is_async: bool = True,
        pool: str = "default",
    ) -> Any:
        """Run one phase body as a Ray task and return its output (its events re-emitted).

        The phase is the current one (`phasefarm.scope`); `is_async` is read on the worker."""
        if CONTEXT_PARAM in kwargs:  # its context adds phases to this driver's run: run here
            return await self._here.call(fn, dict(kwargs), is_async, pool)
        self.start()
        current = scope.current_scope() or scope.Scope("-", "-", _ignore)
        run_id, key = current.run_id, current.phase
        names = tuple(kwargs)
        worker_services = tuple(n for n, v in kwargs.items() if isinstance(v, LLM))
        if worker_services and self.worker_services is None:
            raise UsageError(
                f"phase {key!r}: the LLM service {worker_services[0]!r} cannot be sent to a Ray "
                "worker; give RayBackend(worker_services=...) a function that builds it there"
            )
        wiring = {n: self._wire(run_id, kwargs[n]) for n in worker_services}
        values = [None if n in worker_services else self._by_reference(kwargs[n]) for n in names]
        call = PhaseCall(
            fn=fn,
            key=key,
            run_id=run_id,
            names=names,
            worker_services=worker_services,
            services_factory=self.worker_services,
            wiring=wiring,
            env={k: os.environ[k] for k in _SHARED_ENV if k in os.environ},
            relay=self._live.relay,
            token=uuid.uuid4().hex,
        )
        resources = {f"pool:{pool}": 1.0} if f"pool:{pool}" in self._pool_resources else {}
        try:
            output_ref, report_ref = self._remote.options(
                num_returns=2,
                num_cpus=self.task_cpus,
                resources=resources,
                max_retries=self.max_retries,
                retry_exceptions=False,
                name=f"phase:{key}",
            ).remote(call, *values)
        except TypeError as exc:  # Ray could not pickle something the phase is given
            reason = str(exc).splitlines()[0]
            raise UsageError(f"phase {key!r} cannot be sent to a Ray worker: {reason}") from None
        live = self._live.watch(call.token, current)
        try:
            report: PhaseReport = await report_ref
        except asyncio.CancelledError:
            ray.cancel(output_ref)
            raise
        except RayTaskError as exc:  # our wrapper itself failed: not the body
            raise BackendError(f"phase {key!r} failed on its Ray worker: {exc.cause}") from None
        except RayError as exc:
            raise BackendError(f"phase {key!r} could not run on Ray: {exc}") from None
        finally:
            self._live.forget(call.token)
        self._live.finish(live, report.attempt, report.events)
        if report.error is not None:
            raise report.error
        output = await output_ref
        self._refs[id(output)] = (output, output_ref)
        return output

    def _by_reference(self, value: Any) -> Any:
        """The object reference of an output fetched before; for a list of such outputs (a
        map's items, as a consumer gets them), a `RefList` the worker resolves."""
        known = self._refs.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        if type(value) is list and value:
            refs = [self._refs.get(id(item)) for item in value]
            if all(r is not None and r[0] is item for r, item in zip(refs, value, strict=True)):
                return RefList([r[1] for r in refs if r is not None])
        return value

    def _wire(self, run_id: str, llm: LLM) -> LLMWiring:
        """The cluster's shared limiter and the run's shared budget, for this driver LLM."""
        wiring = self._wiring.get((run_id, id(llm)))
        if wiring is None:
            limiter = None
            if isinstance(llm.limiter, SharedLimiter):
                limiter = llm.limiter
            elif isinstance(llm.limiter, RateLimiter) and _limits_anything(llm.limiter):
                name = self.limiter_name or llm.provider.cache_identity
                limiter = shared_limiter(name, like=llm.limiter)
            budget = llm.budget
            capped = budget.max_tokens is not None or budget.max_cost is not None
            wiring = LLMWiring(
                limiter=limiter,
                budget=run_budget(f"{run_id}:{id(llm)}", budget) if capped else None,
                max_tokens=budget.max_tokens,
                max_cost=budget.max_cost,
            )
            self._wiring[(run_id, id(llm))] = wiring
        return wiring


def _ignore(phase: str, kind: str, data: dict[str, Any]) -> None:
    """Where the events of a body called outside any run go."""


def _limits_anything(limiter: RateLimiter) -> bool:
    """False for the limiter of an offline run without limits: nothing to share."""
    return limiter.rpm is not None or limiter.tpm is not None or limiter.adaptive
