"""Filling a phase's parameters: which value each one receives when the phase runs.

A parameter receives, in this order: the phase context (`ctx`), an argument (`item` / `index`
of a map item, `args` of an added phase), the output of the phase of that name, a run input, a
service, or its default. A `Binding` records the choice once per phase; `kwargs` applies it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from phasefarm.engine.graph import NodeSpec
from phasefarm.engine.phases import CONTEXT_PARAM, PhaseDef
from phasefarm.engine.scheduler import Scheduler
from phasefarm.errors import GraphError

if TYPE_CHECKING:
    from phasefarm.engine.flow import Flow

__all__ = ["Binding", "Sources", "bind", "compile_flow", "hashed_values", "kwargs", "value"]

# where a parameter's value comes from
CTX, ARG, OUTPUT, INPUT, SERVICE = "ctx", "arg", "output", "input", "service"


class Binding(NamedTuple):
    """A phase as it runs: its definition, its key and how its parameters are filled.

    Immutable, so the bindings of a flow's static phases are built once and shared by its
    runs (see `compile_flow`). A named tuple: a flow's first run builds one per phase, and
    a frozen dataclass takes twice as long to build (`phasefarm bench overhead`, first run)."""

    key: str
    spec: PhaseDef
    kind: str  # "phase" | "map" | "item" | "template"
    deps: tuple[str, ...]
    args: Mapping[str, Any]
    params: tuple[tuple[str, str], ...]  # (parameter, where its value comes from)
    # data of its first `phase.started` event, read-only and made once: an event mapping
    # per phase is a measurable part of the engine's overhead (`phasefarm bench overhead`)
    first_started: Mapping[str, Any]

    @property
    def wants_ctx(self) -> bool:
        """Whether it has a `ctx` parameter (the context always fills one)."""
        return CONTEXT_PARAM in self.spec.params


@dataclass(frozen=True, slots=True)
class Sources:
    """The values a run fills parameters from (`outputs` grows as phases succeed)."""

    outputs: Mapping[str, Any]
    inputs: Mapping[str, Any]
    services: Mapping[str, Any]


def bind(
    key: str,
    spec: PhaseDef,
    kind: str,
    deps: tuple[str, ...],
    args: Mapping[str, Any],
    inputs: Mapping[str, Any],
    services: Mapping[str, Any],
    first_started: Mapping[str, Any] | None = None,
) -> Binding:
    """How each parameter of `spec` is filled; GraphError for one nothing can fill.
    `first_started`: the data of its first `phase.started` (made here if not given)."""
    params: list[tuple[str, str]] = []
    for param in spec.params:
        if param == CONTEXT_PARAM:
            params.append((param, CTX))
        elif param in args or (spec.kind == "map" and param in ("item", "index")):
            params.append((param, ARG))
        elif param in deps:
            params.append((param, OUTPUT))
        elif param in inputs:
            params.append((param, INPUT))
        elif param in services:
            params.append((param, SERVICE))
        elif param in spec.defaults:
            continue
        else:
            raise GraphError(
                f"phase {spec.name!r}: parameter {param!r} is not a phase, input, service "
                "or argument"
            )
    if first_started is None:
        first_started = MappingProxyType({"attempt": 1, "pool": spec.pool})
    return Binding(key, spec, kind, deps, args, tuple(params), first_started)


def kwargs(binding: Binding, sources: Sources, ctx: Any) -> dict[str, Any]:
    """The keyword arguments of one call of the phase body."""
    return {param: value(binding, sources, param, source, ctx) for param, source in binding.params}


def hashed_values(binding: Binding, sources: Sources) -> dict[str, Any]:
    """What the phase receives that its checkpoint's input hash covers: not services (clients,
    locks, folders) and not the phase context."""
    return {
        param: value(binding, sources, param, source, None)
        for param, source in binding.params
        if source not in (SERVICE, CTX)
    }


def value(binding: Binding, sources: Sources, param: str, source: str, ctx: Any) -> Any:
    """The value parameter `param` receives from `source`."""
    if source == OUTPUT:
        return sources.outputs[param]
    if source == ARG:
        return binding.args[param]
    if source == INPUT:
        return sources.inputs[param]
    if source == SERVICE:
        return sources.services[param]
    return ctx


def compile_flow(
    flow: Flow,
    pools: Mapping[str, int | None],
    mode: str,
    max_running: int | None,
    inputs: Mapping[str, Any],
    services: Mapping[str, Any],
) -> tuple[Scheduler, dict[str, Binding]]:
    """A flow's static phases as a fresh run starts them: the scheduler in its initial state
    and every phase's binding."""
    scheduler = Scheduler(dict(pools), mode, max_running)
    nodes: list[NodeSpec] = []
    bindings: dict[str, Binding] = {}
    no_args: Mapping[str, Any] = {}
    # one read-only `phase.started` data per pool, not per phase: fewer objects for the
    # collector to walk during a flow's first run (`phasefarm bench overhead`, first run)
    started: dict[str, Mapping[str, Any]] = {}
    with collector_paused():
        for spec in flow.phases.values():
            node = spec.node(flow.phases)
            if spec.pool not in started:
                started[spec.pool] = MappingProxyType({"attempt": 1, "pool": spec.pool})
            bindings[spec.name] = bind(
                spec.name, spec, spec.kind, node.deps, no_args, inputs, services, started[spec.pool]
            )
            nodes.append(node)
        scheduler.add(nodes)
    return scheduler, bindings


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a block that builds many objects that all
    outlive it and form no cycles (as Mercurial's `util.nogc` does): collections meanwhile would
    only walk and promote them, and their count would bring the next full collection of the
    whole process forward. Compiling a 10,000-phase flow builds ~30,000 such objects; pausing
    saves ~2 µs per phase on its first run (`phasefarm bench overhead`, first run). The
    collector stays off if it was off (the process's choice)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
