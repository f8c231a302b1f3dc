"""Faults the fake OpenAI server injects on purpose: seeded, decided per call, counted.

    server = FakeOpenAI(faults=Faults(transient_rate=0.3, reset_rate=0.1, seed=7))
    server.rule("SeoStrategy", status=400)           # that step fails every time
    server.rule("PageSeo", content="<not json>")     # that step answers garbage every time
    server.rule("Stylesheet", stall=True)            # that step never answers
    server.fault_counts                              # {"transient": 12, "reset": 3, ...}

A random fault rate drawn in arrival order would hit different calls on every run (concurrent
calls arrive in any order). Here the decision is a function of the seed, the request's content
and how many times that same request was seen before, so the same calls fail the same number of
times whatever the order, and no call fails more than `max_in_a_row` times in a row: a client
with enough retries always gets through, and a test of that cannot flake.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import Receive, Scope, Send

__all__ = [
    "DroppedConnection",
    "Faults",
    "QuietDrops",
    "Rule",
    "call_signature",
    "draw_fault",
    "log_config",
]


@dataclass(frozen=True)
class Faults:
    """Transient faults: a share of attempts answered 503, a share whose connection is dropped
    half way through the answer (the client sees a broken connection, not an HTTP status), a
    share answered 429 with a Retry-After of `retry_after` seconds."""

    transient_rate: float = 0.0
    reset_rate: float = 0.0
    rate_limited_rate: float = 0.0
    retry_after: float = 0.2
    max_in_a_row: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        total = self.transient_rate + self.reset_rate + self.rate_limited_rate
        if not 0 <= total <= 1:
            raise ValueError("the fault rates must add up to between 0 and 1")


@dataclass(frozen=True)
class Rule:
    """What every request whose JSON schema name is `match` (or whose messages contain
    it) gets instead of a normal answer: an error `status`, verbatim `content`, or a `stall`
    (no answer until the server stops)."""

    match: str
    status: int | None = None
    content: str | None = None
    stall: bool = False
    retry_after: float | None = None

    @property
    def kind(self) -> str:
        if self.stall:
            return "stall"
        return "rule_status" if self.status is not None else "rule_content"

    def applies(self, schema_name: str, text: str) -> bool:
        return schema_name == self.match or (bool(self.match) and self.match in text)


def call_signature(*parts: str) -> str:
    """The identity of a call: the same request sent again (a retry) has the same one."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "replace"))
        digest.update(b"\0")
    return digest.hexdigest()


def draw_fault(faults: Faults, signature: str, seen: int) -> str | None:
    """The fault of the `seen`-th attempt (0-based) of this call: "transient", "reset",
    "rate_limited" or None."""
    if seen >= faults.max_in_a_row:
        return None
    draw = random.Random(f"{faults.seed}:{signature}:{seen}").random()
    edge = 0.0
    for kind, rate in (
        ("transient", faults.transient_rate),
        ("reset", faults.reset_rate),
        ("rate_limited", faults.rate_limited_rate),
    ):
        edge += rate
        if draw < edge:
            return kind
    return None


class DroppedConnection:
    """An ASGI response that announces a body, sends half of it and ends without completing:
    the server then closes the connection, and the client sees it break mid-answer."""

    def __init__(self, on_sent: Callable[[], None] | None = None) -> None:
        self.on_sent = on_sent

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b'{"id": "chatcmpl-dropped", "choices": ['
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body) * 4).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body, "more_body": True})
        if self.on_sent is not None:
            self.on_sent()


class QuietDrops(logging.Filter):
    """Drops uvicorn's error line for an answer left unfinished on purpose (a dropped
    connection is the fault, not a server bug)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned without completing response" not in record.getMessage()


def log_config() -> dict[str, object]:
    """uvicorn's default logging, with `QuietDrops` on its error handler."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"quiet_drops": {"()": QuietDrops}}
    config["handlers"]["default"]["filters"] = ["quiet_drops"]
    return config
