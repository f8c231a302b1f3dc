"""The fault hook of the fake OpenAI server: which attempt gets which injected fault, and how
that fault is answered (an error status, a dropped connection, a stalled answer).

A rule (`FakeOpenAI.rule`) wins over the seeded faults (`Faults`, drawn by `draw_fault` from
the call's signature and how often it was seen); every injected fault is counted by kind and
logged as a `RecordedRequest`. A rule giving content is not a fault here: the answer carries it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import cast

from starlette.responses import Response

from phasefarm.testing.fake_faults import DroppedConnection, Faults, Rule, draw_fault
from phasefarm.testing.fake_limits import Gate
from phasefarm.testing.fake_records import RecordedRequest, ServerState, error_response

__all__ = ["Injected", "Injector"]

STALL_POLLS = 6000  # a stalled answer ends after 6000 x 10 ms, or when the server stops
Injected = tuple[str, Response | None]  # the fault's kind, and its answer when it has one


class Injector:
    """Decides, counts, logs and delivers the faults of one server."""

    def __init__(
        self, state: ServerState, gate: Gate, faults: Faults | None, stopping: threading.Event
    ) -> None:
        self.state = state
        self.gate = gate
        self.faults = faults
        self.stopping = stopping

    def inject(
        self, rule: Rule | None, signature: str, key_id: str, path: str, now: float
    ) -> Injected | None:
        """The fault this attempt gets, if any, counted and logged (holds the lock)."""
        kind: str | None = None
        response: Response | None = None
        if rule is not None and rule.content is None:
            kind = rule.kind
            if rule.status is not None:
                headers = (
                    {}
                    if rule.retry_after is None
                    else self.gate.retry_headers(rule.retry_after, "rpm")
                )
                message = f"rule {rule.match!r}: failing"
                response = error_response(rule.status, message, "rule", headers)
        elif self.faults is not None:
            seen = self.state.seen[signature]
            self.state.seen[signature] += 1
            kind = draw_fault(self.faults, signature, seen)
            if kind == "transient":
                message = "The server had an error (injected)."
                response = error_response(503, message, "server_error")
            elif kind == "rate_limited":
                headers = self.gate.retry_headers(self.faults.retry_after, "rpm")
                message = "Rate limit reached (injected)."
                response = error_response(429, message, "rate_limit_exceeded", headers)
        if kind is None:
            if rule is not None:
                self.state.faults[rule.kind] += 1
            return None
        self.state.faults[kind] += 1
        self.state.record(
            RecordedRequest(
                t=now,
                path=path,
                key_id=key_id,
                status=response.status_code if response is not None else 0,
                reason=kind,
                finished=now,
                retry_after=self._retry_after(kind, rule),
                call=signature[:16],
            )
        )
        return kind, response

    def _retry_after(self, kind: str, rule: Rule | None) -> float | None:
        if kind == "rate_limited" and self.faults is not None:
            return self.faults.retry_after
        return rule.retry_after if rule is not None else None

    async def deliver(self, injected: Injected) -> Response:
        """The answer of an injected fault (a stall waits here, bounded, first)."""
        kind, response = injected
        if response is not None:
            return response
        if kind == "stall":
            # bounded, and ended by stop(): uvicorn waits for open answers before it exits
            for _ in range(STALL_POLLS):
                if self.stopping.is_set():
                    break
                await asyncio.sleep(0.01)
            return error_response(503, "stalled answer ended", "server_error")
        return cast(Response, DroppedConnection())
