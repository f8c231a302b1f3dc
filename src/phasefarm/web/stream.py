"""A run's events for a client: what it missed (from the store), then the live stream.

Every event has a sequence number, unique and increasing within a run (across resumed
executions too). A client says the last number it saw; it gets every event after it exactly
once, in order, so a client that reconnects loses and doubles nothing:
- a run this server executes (always a fresh one, from seq 0): its events are collected as
  they happen (`LiveEvents`, one subscription to the run, shared by every client), and a
  client gets the collected ones after the number it gave;
- a run executed elsewhere (the CLI, another server): the store, polled.
The message format is in docs/web.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from phasefarm.engine.runner import RunHandle
    from phasefarm.store.base import RunStore

__all__ = ["BATCH_MAX", "POLL_S", "LiveEvents", "event_batches"]

POLL_S = 0.25  # how often the store is read for runs executed by another process
BATCH_MAX = 500  # events per message at most


class LiveEvents:
    """The events of one execution of a run in this process, as dicts, in seq order."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.ended = False
        self._changed = asyncio.Event()

    async def collect(self, handle: RunHandle) -> None:
        """Follow the run to its end (run as a task)."""
        try:
            async for event in handle.events():
                self.events.append(event.to_dict())
                self._wake()
        finally:
            self.ended = True
            self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, seen: int) -> None:
        """Until there are more than `seen` events or the execution has ended."""
        while len(self.events) <= seen and not self.ended:
            await self._changed.wait()

    async def batches(self, sent: int) -> AsyncIterator[list[dict[str, Any]]]:
        """Collected events with seq > sent, as they come, until the execution ends."""
        index = 0
        while True:
            await self.wait(index)
            fresh = [e for e in self.events[index : index + BATCH_MAX] if e["seq"] > sent]
            index = min(len(self.events), index + BATCH_MAX)
            if fresh:
                sent = fresh[-1]["seq"]
                yield fresh
            if self.ended and index >= len(self.events):
                return


async def event_batches(
    store: RunStore,
    live: Callable[[str], LiveEvents | None],
    run_id: str,
    after: int,
    *,
    poll_s: float = POLL_S,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Lists of event dicts with seq > after, in seq order, until the run's execution ends
    (its `run.finished` event has been yielded) and nothing newer is stored. `live` gives the
    collected events of a run this process executes (None for others)."""
    sent = after
    while True:
        collected = live(run_id)
        if collected is not None:  # a fresh run, started here: every event is collected
            async for batch in collected.batches(sent):
                yield batch
            return
        # from the last event sent, included: a client that saw `run.finished` is told the end
        events = store.events(run_id, sent - 1 if sent >= 0 else -1)
        last_kind = events[0]["kind"] if events and events[0]["seq"] == sent else None
        events = [e for e in events if e["seq"] > sent]
        for start in range(0, len(events), BATCH_MAX):
            batch = events[start : start + BATCH_MAX]
            sent = batch[-1]["seq"]
            last_kind = batch[-1]["kind"]
            yield batch
        if last_kind == "run.finished":
            return
        await asyncio.sleep(poll_s)
