"""`Flow` and its decorators: `@flow.phase`, `@flow.map`, `@flow.template`.

A phase's dependencies are its parameter names that name other phases (or explicit `needs=`).
Definitions are checked as they are made (callable, unique name, sane options, no cycle among
the phases known so far); names that are neither phases, inputs nor services are reported when
the flow is planned or run, because inputs and services are only known then.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import (
    TYPE_CHECKING,
    Any,
    TypeVar,
    Unpack,
    overload,
)

from phasefarm.engine.graph import NodeSpec, topological
from phasefarm.engine.phases import (
    CONTEXT_PARAM,
    ITEM_PARAMS,
    Kind,
    PhaseDef,
    PhaseOptions,
    ResumeOptions,
    RunOptions,
    TemplateOptions,
    check_options,
    signature_params,
)
from phasefarm.errors import GraphError

if TYPE_CHECKING:
    from phasefarm.engine.handle import RunHandle
    from phasefarm.engine.plan import Plan
    from phasefarm.engine.result import RunResult

__all__ = ["Flow", "PhaseDef"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


class Flow:
    """A named set of phases and the pools they share."""

    def __init__(
        self,
        name: str,
        *,
        pools: Mapping[str, int] | None = None,
        retry_backoff: float = 0.5,
    ) -> None:
        if not name or not isinstance(name, str):
            raise GraphError("a flow needs a non-empty name")
        self.name = name
        self.pools: dict[str, int | None] = {"default": None}
        for pool, size in (pools or {}).items():
            if not isinstance(size, int) or size < 1:
                raise GraphError(f"pool {pool!r} must have a size of at least 1, got {size!r}")
            self.pools[pool] = size
        if retry_backoff < 0:
            raise GraphError(f"retry_backoff must be >= 0, got {retry_backoff!r}")
        self.retry_backoff = retry_backoff
        self.phases: dict[str, PhaseDef] = {}
        self.templates: dict[str, PhaseDef] = {}
        self._referenced: set[str] = set()  # names that defined phases depend on or ask for
        self._cache: dict[Hashable, Any] = {}  # see cached()

    # -- defining -------------------------------------------------------------------------

    @overload
    def phase(self, fn: F, /, **options: Unpack[PhaseOptions]) -> F: ...

    @overload
    def phase(self, fn: None = None, /, **options: Unpack[PhaseOptions]) -> Callable[[F], F]: ...

    def phase(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        needs: Sequence[str] = (),
        pool: str = "default",
        retries: int = 0,
        timeout: float | None = None,
        priority: int = 0,
        estimate: float = 1.0,
        wave: int | None = None,
        backoff: float | None = None,
    ) -> Any:
        """Decorator: add a phase. Usable bare (`@flow.phase`) or called (`@flow.phase(...)`)."""

        def decorate(func: F) -> F:
            self._add(
                self._define(
                    func,
                    "phase",
                    name,
                    needs,
                    pool,
                    retries,
                    timeout,
                    priority,
                    estimate,
                    wave,
                    backoff,
                )
            )
            return func

        return decorate(fn) if fn is not None else decorate

    def map(
        self,
        over: str,
        /,
        *,
        items: Callable[[Any], Sequence[Any]] | None = None,
        name: str | None = None,
        needs: Sequence[str] = (),
        pool: str = "default",
        retries: int = 0,
        timeout: float | None = None,
        priority: int = 0,
        estimate: float = 1.0,
        expect: int = 1,
        wave: int | None = None,
        backoff: float | None = None,
        partial: bool = False,
    ) -> Callable[[F], F]:
        """Decorator: one phase per item of `over`'s output (or of `items(output)`).

        Items run as `name[0]`, `name[1]`, ... with this phase's pool, retries and timeout;
        the function receives `item` and `index` if it asks for them. Dependents of `name`
        receive the list of item results in item order.
        """
        if not isinstance(over, str) or not over:
            raise GraphError("flow.map() needs the name of the phase whose output lists the items")
        if not isinstance(expect, int) or expect < 0:
            raise GraphError(f"map over {over!r}: expect must be an integer >= 0, got {expect!r}")

        def decorate(func: F) -> F:
            spec = self._define(
                func, "map", name, needs, pool, retries, timeout, priority, estimate, wave, backoff
            )
            self._add(replace(spec, over=over, items=items, expect=expect, partial=partial))
            return func

        return decorate

    @overload
    def template(self, fn: F, /, **options: Unpack[TemplateOptions]) -> F: ...

    @overload
    def template(
        self, fn: None = None, /, **options: Unpack[TemplateOptions]
    ) -> Callable[[F], F]: ...

    def template(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        pool: str = "default",
        retries: int = 0,
        timeout: float | None = None,
        priority: int = 0,
        estimate: float = 1.0,
        backoff: float | None = None,
    ) -> Any:
        """Decorator: a phase body that running phases add with `ctx.add_phase(name, ...)`."""

        def decorate(func: F) -> F:
            spec = self._define(
                func,
                "template",
                name,
                (),
                pool,
                retries,
                timeout,
                priority,
                estimate,
                None,
                backoff,
            )
            if spec.name in self.templates or spec.name in self.phases:
                raise GraphError(f"duplicate phase name {spec.name!r} in flow {self.name!r}")
            self.templates[spec.name] = spec
            self._cache.clear()
            return func

        return decorate(fn) if fn is not None else decorate

    def _define(
        self,
        fn: Any,
        kind: Kind,
        name: str | None,
        needs: Sequence[str],
        pool: str,
        retries: int,
        timeout: float | None,
        priority: int,
        estimate: float,
        wave: int | None,
        backoff: float | None,
    ) -> PhaseDef:
        if not callable(fn):
            raise GraphError(f"a phase must be a callable, got {type(fn).__name__}: {fn!r}")
        phase_name = name or getattr(fn, "__name__", None)
        if not phase_name or not isinstance(phase_name, str) or phase_name == "<lambda>":
            raise GraphError("a phase needs a name: pass name=... for lambdas and callables")
        if "[" in phase_name or "]" in phase_name:
            raise GraphError(f"phase name {phase_name!r} may not contain '[' or ']'")
        if isinstance(needs, str):
            needs = [needs]
        check_options(phase_name, retries, timeout, estimate, backoff)
        if not isinstance(pool, str) or not pool:
            raise GraphError(f"phase {phase_name!r}: pool must be a pool name, got {pool!r}")
        params, defaults = signature_params(fn)
        # callable objects count as async when their __call__ is a coroutine function
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(type(fn), "__call__", None)  # noqa: B004
        )
        return PhaseDef(
            name=phase_name,
            fn=fn,
            kind=kind,
            needs=tuple(needs),
            pool=pool,
            retries=retries,
            timeout=timeout,
            priority=priority,
            estimate=float(estimate),
            wave=wave,
            backoff=backoff,
            params=params,
            defaults=defaults,
            is_async=is_async,
        )

    def _add(self, spec: PhaseDef) -> None:
        if spec.name in self.phases or spec.name in self.templates:
            raise GraphError(f"duplicate phase name {spec.name!r} in flow {self.name!r}")
        self.phases[spec.name] = spec
        self._cache.clear()
        # A new phase closes a cycle only if an earlier phase already named it (or it names
        # itself); only then is the whole defined graph checked, so defining stays linear.
        own = spec.deps(self.phases)
        if spec.name in self._referenced or spec.name in own:
            known = self.phases
            edges = [
                NodeSpec(s.name, tuple(d for d in s.deps(known) if d in known))
                for s in known.values()
            ]
            topological(edges, ())
        self._referenced.update(own)
        self._referenced.update(spec.params)

    def cached(self, key: Hashable, build: Callable[[], T], *, limit: int = 8) -> T:
        """A value derived from the phases as defined now (the engine's compiled graphs):
        built on first use of `key`, dropped when a phase or template is added. At most
        `limit` values are kept; past that the oldest goes."""
        try:
            value: T = self._cache[key]
        except KeyError:
            value = build()
            if len(self._cache) >= limit:
                del self._cache[next(iter(self._cache))]
            self._cache[key] = value
        return value

    # -- checking -------------------------------------------------------------------------

    def validate(
        self,
        inputs: Iterable[str] | None = None,
        services: Iterable[str] = (),
        pools: Mapping[str, int] | None = None,
    ) -> None:
        """Raise GraphError for any unknown dependency or pool, or an input named like a phase
        or a service. `inputs=None` skips the check of names that are not phases (plan() does
        not know the inputs)."""
        all_pools = {**self.pools, **(pools or {})}
        available: set[str] = set()
        if inputs is not None:
            inputs, services = list(inputs), list(services)
            for name in inputs:
                if name in self.phases:
                    raise GraphError(f"input {name!r} has the same name as a phase")
                if name in services:
                    raise GraphError(f"{name!r} is given both as an input and as a service")
            available = {*self.phases, *inputs, *services, CONTEXT_PARAM}
        for spec in [*self.phases.values(), *self.templates.values()]:
            if spec.pool not in all_pools:
                known = ", ".join(sorted(all_pools))
                raise GraphError(
                    f"phase {spec.name!r} uses unknown pool {spec.pool!r} (known: {known})"
                )
            for dep in spec.needs:
                if dep not in self.phases:
                    raise GraphError(unknown_name(spec.name, dep, self.phases))
            if spec.over is not None and spec.over not in self.phases:
                raise GraphError(unknown_name(spec.name, spec.over, self.phases))
            if inputs is None:
                continue
            for param in spec.params:
                if param in available or param in spec.defaults:
                    continue
                if spec.kind == "map" and param in ITEM_PARAMS:
                    continue
                if spec.kind == "template":
                    continue  # templates get their arguments from ctx.add_phase(args=...)
                raise GraphError(unknown_name(spec.name, param, [*self.phases, *inputs, *services]))

    def plan(
        self,
        *,
        estimates: Mapping[str, float] | None = None,
        expect: Mapping[str, int] | None = None,
        pools: Mapping[str, int] | None = None,
    ) -> Plan:
        """Waves, critical path and estimated duration per mode, before anything runs."""
        from phasefarm.engine.plan import make_plan

        self.validate(pools=pools)
        return make_plan(self, estimates=estimates or {}, expect=expect or {}, pools=pools or {})

    # -- running --------------------------------------------------------------------------

    def start(
        self, inputs: Mapping[str, Any] | None = None, **options: Unpack[RunOptions]
    ) -> RunHandle:
        """Start a run in the running event loop and return its handle at once."""
        from phasefarm.engine.handle import RunHandle, new_run

        return RunHandle(new_run(self, dict(inputs or {}), options))

    async def run(
        self, inputs: Mapping[str, Any] | None = None, **options: Unpack[RunOptions]
    ) -> RunResult:
        """Run every phase to a terminal state and return the result (allSettled)."""
        return await self.start(inputs, **options).result()

    def run_sync(
        self, inputs: Mapping[str, Any] | None = None, **options: Unpack[RunOptions]
    ) -> RunResult:
        """`run()` in a fresh event loop; Ctrl-C cancels the run and returns its result."""
        from phasefarm.engine.handle import new_run, run_blocking

        return run_blocking(lambda: new_run(self, dict(inputs or {}), options))

    async def resume(self, run_id: str, **options: Unpack[ResumeOptions]) -> RunResult:
        """Run again what did not finish in a stored run; finished phases are reused."""
        from phasefarm.engine.handle import RunHandle, resumed_run

        return await RunHandle(resumed_run(self, run_id, **options)).result()

    def resume_sync(self, run_id: str, **options: Unpack[ResumeOptions]) -> RunResult:
        from phasefarm.engine.handle import resumed_run, run_blocking

        return run_blocking(lambda: resumed_run(self, run_id, **options))

    def __repr__(self) -> str:
        return f"Flow({self.name!r}, phases={len(self.phases)})"


def unknown_name(phase: str, missing: str, known: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(missing, list(known), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"phase {phase!r} depends on {missing!r}, which is not a phase, input or service{hint}"
