"""What the fake OpenAI server remembers: its request log and the state its handlers share.

Every HTTP request leaves one `RecordedRequest` (tests read them through `FakeOpenAI.requests`);
`ServerState` is everything the handlers read and change under one lock: the log, the key ids
handed out, the scripted answers and failures queued by tests, the rules, the per-key rate
buckets and the fault counts.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse

from phasefarm.testing.fake_faults import Rule
from phasefarm.testing.fake_parts import Bucket

__all__ = ["KeyLimits", "RecordedRequest", "Scripted", "ServerState", "error_response"]


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the server saw it. `t` is `time.monotonic()` at arrival."""

    t: float
    path: str
    key_id: str  # "key#1"... by position in `keys`, in order of first use when keys=None
    status: int
    model: str = ""
    response_format: str = ""  # "json_schema" | "json_object" | "text" | "image"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retry_after: float | None = None  # seconds, on 429
    reason: str = ""  # "rpm" | "tpm" | "scripted" | "error_rate" | "malformed" | "auth" ...
    finished: float = 0.0  # time.monotonic() when the response was sent
    messages: int = 0  # chat messages in the request
    last_message: str = ""  # the last message's text, first 2,000 characters
    max_tokens: int | None = None  # the answer cap the request carried
    request_bytes: int = 0  # size of the request body
    call: str = ""  # the call's identity: a retry of the same request has the same one

    def but(self, **changes: Any) -> RecordedRequest:
        """A copy with `changes` (the same request, answered otherwise)."""
        return dataclasses.replace(self, **changes)


@dataclass
class Scripted:
    """A failure a test queued with `fail_next`."""

    status: int
    retry_after: float | None
    message: str


@dataclass
class KeyLimits:
    """One key's rate buckets (None: that limit is off)."""

    requests: Bucket | None
    tokens: Bucket | None


@dataclass
class ServerState:
    """What the handlers share; read and change it only while holding `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    log: list[RecordedRequest] = field(default_factory=list)
    key_ids: dict[str, str] = field(default_factory=dict)
    limits: dict[str, KeyLimits] = field(default_factory=dict)
    script: deque[Scripted] = field(default_factory=deque)
    malformed: int = 0
    counter: int = 0
    answers: deque[str] = field(default_factory=deque)
    rules: list[Rule] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)  # attempts per call signature
    faults: Counter[str] = field(default_factory=Counter)  # injected faults by kind

    def record(self, entry: RecordedRequest) -> None:
        self.log.append(entry)

    def rule_for(self, schema_name: str, text: str) -> Rule | None:
        return next((r for r in self.rules if r.applies(schema_name, text)), None)


def error_response(
    status: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> JSONResponse:
    """An error answer in OpenAI's shape: `{"error": {message, type, param, code}}`."""
    kind = "rate_limit_error" if status == 429 else "invalid_request_error"
    if status >= 500:
        kind = "server_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}},
        status_code=status,
        headers=headers or {},
    )
