"""A run's events for a client: what it missed (from the store), then the live stream.

Every event has a sequence number, unique and increasing within a run (across resumed
executions too). A client says the last number it saw; it gets every event after it exactly
once, in order, so a client that reconnects loses and doubles nothing:
- a run this server executes: the store's events after that number, then the run's own
  in-memory timeline (which has every event of the execution, from its first), skipping what
  was already sent; the store may lag the timeline (it is written at phase ends), never the
  reverse for earlier executions;
- a run executed elsewhere (the CLI, another server): the store, polled.
The message format is in docs/web.md.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phasefarm.engine.runner import RunHandle
    from phasefarm.web.runs import RunManager

__all__ = ["POLL_S", "event_batches"]

POLL_S = 0.25  # how often the store is read for runs executed by another process
BATCH_MAX = 500  # events per message at most


async def event_batches(
    manager: RunManager, run_id: str, after: int, *, poll_s: float = POLL_S
) -> AsyncIterator[list[dict[str, Any]]]:
    """Lists of event dicts with seq > after, in seq order, until the run's execution ends
    (its `run.finished` event has been yielded) and nothing newer is stored."""
    sent = after
    handle = manager.handle(run_id)
    if handle is not None:
        async for batch in _live(manager, handle, run_id, sent):
            yield batch
        return
    while True:
        # from the last event sent, included: a client that saw `run.finished` is told the end
        events = manager.store.events(run_id, sent - 1 if sent >= 0 else -1)
        last_kind = events[0]["kind"] if events and events[0]["seq"] == sent else None
        events = [e for e in events if e["seq"] > sent]
        for start in range(0, len(events), BATCH_MAX):
            batch = events[start : start + BATCH_MAX]
            sent = batch[-1]["seq"]
            last_kind = batch[-1]["kind"]
            yield batch
        if last_kind == "run.finished":
            return
        live = manager.handle(run_id)
        if live is not None:  # resumed by this server in the meantime
            async for batch in _live(manager, live, run_id, sent):
                yield batch
            return
        await asyncio.sleep(poll_s)


async def _live(
    manager: RunManager, handle: RunHandle, run_id: str, sent: int
) -> AsyncIterator[list[dict[str, Any]]]:
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def pump() -> None:
        try:
            async for event in handle.events():
                queue.put_nowait(event.to_dict())
        finally:
            queue.put_nowait(None)

    # the store first: earlier executions of a resumed run are only there
    stored = [e for e in manager.store.events(run_id, sent)]
    first_live = handle.run.timeline.first_seq
    earlier = [e for e in stored if e["seq"] < first_live]
    if earlier:
        sent = earlier[-1]["seq"]
        yield earlier
    task = asyncio.create_task(pump())
    try:
        ended = False
        while not ended:
            batch: list[dict[str, Any]] = []
            item = await queue.get()
            while True:
                if item is None:
                    ended = True
                    break
                if item["seq"] > sent:
                    batch.append(item)
                    sent = item["seq"]
                if len(batch) >= BATCH_MAX or queue.empty():
                    break
                item = queue.get_nowait()
            if batch:
                yield batch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
