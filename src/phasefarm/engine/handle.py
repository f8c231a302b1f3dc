"""Starting a run: a handle inside a running event loop, or a blocking call in a fresh one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from phasefarm.engine.events import Event
from phasefarm.engine.reporting import EventCallback
from phasefarm.engine.result import RunResult
from phasefarm.engine.run import Run
from phasefarm.errors import StoreRefused

if TYPE_CHECKING:
    from phasefarm.engine.flow import Flow
    from phasefarm.store.base import RunStore

__all__ = ["RunHandle", "new_run", "resumed_run", "run_blocking"]


def new_run(flow: Flow, inputs: dict[str, Any], options: Mapping[str, Any]) -> Run:
    """A fresh run from `Flow.start/run/run_sync`'s options (RunOptions)."""
    opts = dict(options)
    for name in ("services", "pools", "meta"):
        if opts.get(name) is not None:
            opts[name] = dict(opts[name])
    return Run(flow, inputs=inputs, **opts)


def resumed_run(
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
    """The stored run `run_id` of `flow`, ready to execute again (see resume.py)."""
    stored = store.load_run(run_id)
    if stored.flow != flow.name:
        raise StoreRefused(f"run {run_id!r} belongs to flow {stored.flow!r}, not {flow.name!r}")
    return Run(
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
