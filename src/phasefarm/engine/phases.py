"""What a phase is, as the user defines it: `PhaseDef`, its options, and their checks.

`flow.py` builds these from decorated functions; the engine binds and runs them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FunctionType
from typing import TYPE_CHECKING, Any, Literal, NoReturn, Required, TypedDict

from phasefarm.engine.graph import NodeSpec
from phasefarm.errors import GraphError

if TYPE_CHECKING:
    from phasefarm.engine.backend import Backend
    from phasefarm.engine.reporting import EventCallback
    from phasefarm.store.base import RunStore

__all__ = [
    "CONTEXT_PARAM",
    "ITEM_PARAMS",
    "Kind",
    "PhaseDef",
    "PhaseOptions",
    "ResumeOptions",
    "RunOptions",
    "TemplateOptions",
    "check_options",
    "signature_params",
]

Kind = Literal["phase", "map", "template"]

# parameter names the engine fills itself
CONTEXT_PARAM = "ctx"
ITEM_PARAMS = ("item", "index")
_NO_DEFAULTS: frozenset[str] = frozenset()  # shared: fewer objects for the GC to walk


class TemplateOptions(TypedDict, total=False):
    """Options of `@flow.template()` (and, with those of PhaseOptions, of `@flow.phase()`)."""

    name: str | None
    pool: str
    retries: int
    timeout: float | None
    priority: int
    estimate: float
    backoff: float | None


class PhaseOptions(TemplateOptions, total=False):
    needs: Sequence[str]
    wave: int | None


class RunOptions(TypedDict, total=False):
    """Options of `Flow.start`, `run` and `run_sync` (see docs/engine.md)."""

    mode: str  # "parallel" (default) | "waves" | "sequential"
    services: Mapping[str, Any] | None  # injected by parameter name, never checkpointed
    pools: Mapping[str, int] | None  # pool sizes for this run, over the flow's
    store: RunStore | None  # checkpoint store; None: nothing is recorded
    run_id: str | None
    on_event: EventCallback | None
    meta: Mapping[str, Any] | None  # stored with the run, for resume (CLI options)
    max_running: int | None  # phases running at once, all pools together
    backend: Backend | None  # where phase bodies execute; None: LocalBackend (this process)


class ResumeOptions(TypedDict, total=False):
    """Options of `Flow.resume` and `resume_sync`; `store` is required."""

    store: Required[RunStore]
    services: Mapping[str, Any] | None
    retry_failed: bool
    on_event: EventCallback | None
    mode: str | None
    pools: Mapping[str, int] | None
    backend: Backend | None  # a run keeps no backend: resume asks again (the CLI: from meta)


@dataclass(frozen=True)
class PhaseDef:
    """A phase as the user defined it (a map or template is expanded at run time)."""

    name: str
    fn: Callable[..., Any]
    kind: Kind = "phase"
    needs: tuple[str, ...] = ()
    pool: str = "default"
    retries: int = 0
    timeout: float | None = None
    priority: int = 0
    estimate: float = 1.0
    wave: int | None = None
    backoff: float | None = None  # base seconds of exponential retry backoff; None: the flow's
    over: str | None = None  # map: the phase whose output lists the items
    items: Callable[[Any], Sequence[Any]] | None = None  # map: output -> items
    expect: int = 1  # map: number of items assumed by plan()
    partial: bool = False  # map: dependents get None for failed items instead of being skipped
    params: tuple[str, ...] = field(default=(), compare=False)
    defaults: frozenset[str] = field(default=frozenset(), compare=False)
    is_async: bool = field(default=True, compare=False)

    def phase_params(self, phase_names: Iterable[str] | Mapping[str, Any]) -> list[str]:
        """Parameters that name phases (data dependencies)."""
        names = phase_names
        return [
            p
            for p in self.params
            if p in names and p != CONTEXT_PARAM and not (self.kind == "map" and p in ITEM_PARAMS)
        ]

    def deps(self, phase_names: Iterable[str] | Mapping[str, Any]) -> tuple[str, ...]:
        if not self.params and self.over is None:
            return self.needs
        found = list(self.needs)
        if self.over is not None and self.over not in found:
            found.append(self.over)
        for p in self.phase_params(phase_names):
            if p not in found:
                found.append(p)
        return tuple(found)

    def node(self, phase_names: Iterable[str] | Mapping[str, Any]) -> NodeSpec:
        is_map = self.kind == "map"
        return NodeSpec(  # positional: a flow's first run builds one per phase
            self.name,
            self.deps(phase_names),
            "default" if is_map else self.pool,
            self.priority,
            self.estimate,  # a map's join: one item's time, for critical-path priority
            self.wave,
            None,  # level: from the dependencies
            is_map,  # virtual
            self.partial,  # tolerate_failed_deps
        )


def check_options(
    name: str, retries: int, timeout: float | None, estimate: float, backoff: float | None
) -> None:
    if not isinstance(retries, int) or retries < 0:
        raise GraphError(f"phase {name!r}: retries must be an integer >= 0, got {retries!r}")
    if timeout is not None and not timeout > 0:
        raise GraphError(f"phase {name!r}: timeout must be > 0 seconds, got {timeout!r}")
    if not estimate >= 0:
        raise GraphError(f"phase {name!r}: estimate must be >= 0 seconds, got {estimate!r}")
    if backoff is not None and not backoff >= 0:
        raise GraphError(f"phase {name!r}: backoff must be >= 0 seconds, got {backoff!r}")


def signature_params(fn: Callable[..., Any]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The parameter names of `fn` the engine fills, and those of them that have a default."""
    # A plain function's code object says all inspect.signature would: 10 µs -> 1 µs per
    # phase, half of declaring a phase (`phasefarm bench overhead`, first run). Wrapped
    # functions and other callables take inspect.signature.
    plain = type(fn) is FunctionType
    if plain and not hasattr(fn, "__wrapped__") and not hasattr(fn, "__signature__"):
        return _code_params(fn)
    params: list[str] = []
    defaults: set[str] = set()
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.kind == p.POSITIONAL_ONLY:
            _positional_only(fn, p.name)
        params.append(p.name)
        if p.default is not p.empty:
            defaults.add(p.name)
    return tuple(params), frozenset(defaults) if defaults else _NO_DEFAULTS


def _code_params(fn: Any) -> tuple[tuple[str, ...], frozenset[str]]:
    code = fn.__code__
    if code.co_posonlyargcount:
        _positional_only(fn, code.co_varnames[0])
    positional = code.co_argcount
    names: tuple[str, ...] = code.co_varnames[: positional + code.co_kwonlyargcount]
    defaults = set(names[positional - len(fn.__defaults__ or ()) : positional])
    defaults.update(fn.__kwdefaults__ or ())
    return names, frozenset(defaults) if defaults else _NO_DEFAULTS


def _positional_only(fn: Callable[..., Any], name: str) -> NoReturn:
    raise GraphError(f"phase {fn.__name__!r}: positional-only parameter {name!r} cannot be filled")
