"""A run's event stream: its timeline, and who is told about each event when.

Events are appended to the `Timeline` as they happen and reported to callbacks and subscribers
in order, once durable: at once without a store, after their commit with one (the run calls
`report(upto)`), so an observer is never told of a phase the store could not give back.
A callback that raises is warned about and does not break the run; events are immutable, so
one observer cannot change what another sees.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Callable

from phasefarm.engine.events import Event, Timeline

__all__ = ["EventCallback", "Reporter"]

EventCallback = Callable[[Event], None]


class Reporter:
    def __init__(self, run_id: str, first_seq: int, callback: EventCallback | None) -> None:
        self.timeline = Timeline(run_id, first_seq)
        self.callbacks: list[EventCallback] = [callback] if callback else []
        self._subscribers: list[asyncio.Queue[Event | None]] = []
        self.listening = bool(self.callbacks)  # anyone to report to
        self._reported = 0  # events of the timeline reported so far
        self._closed = False

    def report(self, upto: int) -> None:
        """Tell observers about the timeline's events before index `upto`, in order."""
        start = self._reported
        if upto <= start:
            return
        self._reported = upto
        for event in self.timeline[start:upto]:
            for callback in self.callbacks:
                try:
                    callback(event)
                except Exception as exc:  # an observer must not break the run
                    warnings.warn(f"event callback failed: {exc!r}", RuntimeWarning, stacklevel=1)
            for queue in self._subscribers:
                queue.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[Event | None]:
        """A queue of every event reported so far and to come, then None at the end."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        for event in self.timeline[: self._reported]:
            queue.put_nowait(event)
        if self._closed:
            queue.put_nowait(None)
        else:
            self._subscribers.append(queue)
            self.listening = True
        return queue

    def close(self) -> None:
        """The run is over: subscribers get their None."""
        self._closed = True
        for queue in self._subscribers:
            queue.put_nowait(None)
        self._subscribers.clear()
