"""Where a phase body executes: the one-method seam between the engine and an executor.

The engine decides when a phase runs, with which arguments, how often and for how long
(phase_task.py); a `Backend` only executes the body once and returns its output or raises.
`LocalBackend`, the default, executes it in this process. Another backend (e.g. Ray, running
bodies as remote tasks) implements the same method and is passed as
`flow.run(..., backend=...)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["Backend", "LocalBackend"]


class Backend(Protocol):
    def call(
        self, fn: Callable[..., Any], kwargs: dict[str, Any], is_async: bool
    ) -> Awaitable[Any]:
        """An awaitable that executes `fn(**kwargs)` once (awaited if `is_async`) and gives
        its result or raises its exception."""
        ...


class LocalBackend:
    """In this process: a coroutine function is awaited in the phase's own task; a plain
    function runs in a worker thread (`asyncio.to_thread`, which carries the context, so the
    phase's scope follows it)."""

    def call(
        self, fn: Callable[..., Any], kwargs: dict[str, Any], is_async: bool
    ) -> Awaitable[Any]:
        # the body's own coroutine, not one wrapping it: a frame less per phase
        if is_async:
            return fn(**kwargs)  # type: ignore[no-any-return]
        return asyncio.to_thread(fn, **kwargs)

    def __repr__(self) -> str:
        return "LocalBackend()"
