"""Which phase is running right now, and where its custom events go.

The engine sets the scope around every phase body; lower layers (the LLM client, the limiter)
read it to attribute tokens to the phase and to report waiting, without importing the engine.
`contextvars` follow `asyncio` tasks and `asyncio.to_thread`, so plain phase functions see it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

__all__ = ["Scope", "add_usage", "current_scope", "emit", "enter", "phase_scope"]

EventSink = Callable[[str, str, dict[str, Any]], None]  # (phase, kind, data)


class Scope(NamedTuple):
    """The run and phase a piece of code works for, and where its custom events go."""

    run_id: str
    phase: str  # the phase key, e.g. "images[3]"
    sink: EventSink  # one per run: the phase is passed in, so a scope costs no closure


_current: ContextVar[Scope | None] = ContextVar("phasefarm_scope", default=None)


def current_scope() -> Scope | None:
    """The scope of the phase running in this context, or None outside any run."""
    return _current.get()


def enter(scope: Scope) -> None:
    """Make `scope` current for the rest of this context, with no way back: for the engine,
    which calls it first thing in each phase's own task (a private copy of the context)."""
    _current.set(scope)


def emit(kind: str, **data: Any) -> None:
    """Send a custom event (e.g. "usage", "limiter.wait") from inside a phase.

    Outside a run this does nothing, so library code can call it unconditionally.
    A "usage" event's numeric fields are summed per phase and per run by the engine.
    """
    scope = current_scope()
    if scope is not None:
        scope.sink(scope.phase, kind, data)


def add_usage(totals: dict[str, float], data: Mapping[str, Any]) -> None:
    """Add the numeric fields of a "usage" event's data to `totals` (bools are not numbers)."""
    for name, value in data.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            totals[name] = totals.get(name, 0.0) + value


@contextmanager
def phase_scope(scope: Scope) -> Iterator[None]:
    token = _current.set(scope)
    try:
        yield
    finally:
        _current.reset(token)
