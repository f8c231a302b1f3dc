"""Starting a run: a handle inside a running event loop, or a blocking call in a fresh one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from phasefarm.engine.events import Event
from phasefarm.engine.result import RunResult
from phasefarm.engine.run import Run

__all__ = ["RunHandle", "run_blocking"]


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
        """Every event of the run as it is reported (from the first), until the run ends."""
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
