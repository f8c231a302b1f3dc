"""A real OpenAI-compatible HTTP server on 127.0.0.1, for tests, demos and benchmarks.

    with FakeOpenAI(keys=["sk-a", "sk-b"], rpm=600, latency=0.02) as server:
        client = AsyncOpenAI(base_url=server.url, api_key="sk-a")
        ...
        server.requests          # the request log, one `RecordedRequest` per HTTP request

It speaks `POST /v1/chat/completions` (JSON conforming to the schema when `response_format` is
`json_schema`; JSON mode finds the schema in the prompt when there is one) and
`POST /v1/images/generations` (b64 PNG), with per-key rpm/tpm token buckets that answer 429
with `retry-after-ms`, `retry-after` and `x-ratelimit-reset-*`, a 5xx rate, a malformed-JSON rate,
scripted failures (`fail_next`, `malformed_next`), seeded faults decided per call and rules per
step (`faults=Faults(...)`, `rule(...)`, `fault_counts`: see `fake_faults`) and configurable
latency. Answers are deterministic: generated from the request's messages and the server's seed.

The log never holds an API key: keys are recorded by position ("key#1"), unknown ones as "?".
A 401 does echo the wrong key in its message, as some real servers do, so that clients can be
tested for not passing it on.

Run it standalone: `python -m phasefarm.testing.fake_openai --port 0 [--rpm 600 ...]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import ipaddress
import json
import math
import random
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, cast

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from phasefarm.testing.fake_faults import (
    DroppedConnection,
    Faults,
    Rule,
    call_signature,
    draw_fault,
    log_config,
)
from phasefarm.testing.fake_parts import (
    Bucket,
    count_tokens,
    fake_png,
    request_random,
    sentence,
)
from phasefarm.testing.fake_parts import (
    prompt_tokens as count_prompt,
)
from phasefarm.testing.schema_fuzz import fuzz

__all__ = ["FakeOpenAI", "Faults", "RecordedRequest", "main"]


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


@dataclass
class _Scripted:
    status: int
    retry_after: float | None
    message: str


@dataclass
class _KeyLimits:
    requests: Bucket | None
    tokens: Bucket | None


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    log: list[RecordedRequest] = field(default_factory=list)
    key_ids: dict[str, str] = field(default_factory=dict)
    limits: dict[str, _KeyLimits] = field(default_factory=dict)
    script: deque[_Scripted] = field(default_factory=deque)
    malformed: int = 0
    counter: int = 0
    answers: deque[str] = field(default_factory=deque)
    rules: list[Rule] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)  # attempts per call signature
    faults: Counter[str] = field(default_factory=Counter)  # injected faults by kind


class FakeOpenAI:
    """The server. Start it with `with FakeOpenAI(...) as server:` or `start()` / `stop()`."""

    def __init__(
        self,
        *,
        keys: Sequence[str] | None = None,
        rpm: float | None = None,
        tpm: float | None = None,
        burst_s: float = 1.0,
        latency: float = 0.0,
        image_latency: float | None = None,
        error_rate: float = 0.0,
        malformed_rate: float = 0.0,
        seed: int = 0,
        json_schema_supported: bool = True,
        limit_headers: bool = False,
        retry_after_style: str = "ms",
        fuzz: bool = False,
        images_endpoint: bool = True,
        report_usage: bool = True,
        answer_token_limit: int | None = None,
        reject_max_tokens: bool = False,
        faults: Faults | None = None,
        rewrite: Callable[[dict[str, Any], Any], Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if retry_after_style not in ("ms", "seconds", "reset"):
            raise ValueError("retry_after_style must be 'ms', 'seconds' or 'reset'")
        self.keys = list(keys) if keys is not None else None
        self.rpm = rpm
        self.tpm = tpm
        self.burst_s = burst_s
        self.latency = latency
        self.image_latency = latency if image_latency is None else image_latency
        self.error_rate = error_rate
        self.malformed_rate = malformed_rate
        self.seed = seed
        self.json_schema_supported = json_schema_supported
        self.limit_headers = limit_headers
        self.retry_after_style = retry_after_style
        # fuzz: structured answers generated from the request's JSON schema alone, at its
        # edges (`schema_fuzz`): a model that honours the schema and nothing else.
        self.fuzz = fuzz
        self.images_endpoint = images_endpoint  # False: 404, as vLLM or Ollama answer
        self.report_usage = report_usage  # False: answers without a `usage` object
        # A model that stops at this many tokens whatever the request's cap (finish "length").
        self.answer_token_limit = answer_token_limit
        # As OpenAI's reasoning models: `max_tokens` refused, `max_completion_tokens` wanted.
        self.reject_max_tokens = reject_max_tokens
        self.faults = faults
        # rewrite(schema, value): changes each generated structured answer before it is sent,
        # e.g. hostile text inside schema-valid values (verbatim answers: `rule(content=)`)
        self.rewrite = rewrite
        self._stopping = threading.Event()  # ends stalled answers, so the server can stop
        if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            raise ValueError(f"the fake server only listens on loopback, not {host!r}")
        self._host = host
        self._port = port
        self._rng = random.Random(seed)
        self._state = _State()
        if self.keys is not None:
            for index, key in enumerate(self.keys, start=1):
                self._state.key_ids[key] = f"key#{index}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/images/generations", self._images, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    def __repr__(self) -> str:
        url = self.url if self._socket else None
        return f"FakeOpenAI(url={url!r}, rpm={self.rpm}, tpm={self.tpm})"

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the server is not started")
        return int(self._socket.getsockname()[1])

    @property
    def url(self) -> str:
        """The base URL to give an OpenAI client, ending in /v1."""
        return f"http://{self._host}:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        sock.listen(1024)
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            backlog=1024,
            log_config=log_config(),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="fake-openai", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- test controls -----------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, in arrival order."""
        with self._state.lock:
            return list(self._state.log)

    def clear(self) -> None:
        with self._state.lock:
            self._state.log.clear()

    def fail_next(
        self,
        status: int = 500,
        *,
        count: int = 1,
        retry_after: float | None = None,
        message: str = "",
    ) -> None:
        """The next `count` requests (any key, after auth) answer `status`."""
        with self._state.lock:
            for _ in range(count):
                self._state.script.append(_Scripted(status, retry_after, message))

    def answer_next(self, content: str, count: int = 1) -> None:
        """The next `count` chat answers carry `content` verbatim, whatever the request's
        `max_tokens` (a server that ignores the cap)."""
        with self._state.lock:
            for _ in range(count):
                self._state.answers.append(content)

    def rule(
        self,
        match: str,
        *,
        status: int | None = None,
        content: str | None = None,
        stall: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """From now on, every request whose JSON schema name is `match` (or whose messages
        contains it) answers `status`, or `content` verbatim, or never (`stall`)."""
        if (status is not None) + (content is not None) + stall != 1:
            raise ValueError("a rule gives exactly one of status, content or stall")
        with self._state.lock:
            self._state.rules.append(Rule(match, status, content, stall, retry_after))

    @property
    def fault_counts(self) -> dict[str, int]:
        """Faults injected so far, by kind: "transient", "reset", "rule_status",
        "rule_content", "stall" (scripted `fail_next` answers count as "scripted")."""
        with self._state.lock:
            return dict(self._state.faults)

    def malformed_next(self, count: int = 1) -> None:
        """The next `count` chat answers carry truncated, unparsable JSON content."""
        with self._state.lock:
            self._state.malformed += count

    # -- request handling --------------------------------------------------------------------

    def _key_id(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        key = header.removeprefix("Bearer ").strip()
        if self.keys is not None:
            return self._state.key_ids.get(key)
        if key not in self._state.key_ids:
            self._state.key_ids[key] = f"key#{len(self._state.key_ids) + 1}"
        return self._state.key_ids[key]

    def _limits(self, key_id: str, now: float) -> _KeyLimits:
        limits = self._state.limits.get(key_id)
        if limits is None:
            requests = tokens = None
            if self.rpm is not None:
                requests = Bucket(self.rpm / 60, max(1.0, self.rpm / 60 * self.burst_s), now)
            if self.tpm is not None:
                tokens = Bucket(self.tpm / 60, max(1.0, self.tpm / 60 * self.burst_s), now)
            limits = _KeyLimits(requests, tokens)
            self._state.limits[key_id] = limits
        return limits

    def _admit(self, key_id: str, tokens: int, now: float) -> tuple[str, float] | None:
        """Charge the key, or say which limit refused and how long until it would admit."""
        limits = self._limits(key_id, now)
        waits: list[tuple[str, float]] = []
        if limits.requests is not None and not limits.requests.admits(1, now):
            waits.append(("rpm", limits.requests.wait(1, now)))
        if limits.tokens is not None and not limits.tokens.admits(tokens, now):
            waits.append(("tpm", limits.tokens.wait(tokens, now)))
        if waits:
            reason = max(waits, key=lambda w: w[1])
            return reason[0], max(0.001, reason[1])
        if limits.requests is not None:
            limits.requests.take(1, now)
        if limits.tokens is not None:
            limits.tokens.take(tokens, now)
        return None

    def _limit_headers(self, key_id: str, now: float) -> dict[str, str]:
        if not self.limit_headers:
            return {}
        limits = self._limits(key_id, now)
        headers: dict[str, str] = {}
        if limits.requests is not None and self.rpm is not None:
            headers["x-ratelimit-limit-requests"] = str(int(self.rpm))
            headers["x-ratelimit-remaining-requests"] = str(max(0, int(limits.requests.level)))
        if limits.tokens is not None and self.tpm is not None:
            headers["x-ratelimit-limit-tokens"] = str(int(self.tpm))
            headers["x-ratelimit-remaining-tokens"] = str(max(0, int(limits.tokens.level)))
        return headers

    def _retry_headers(self, seconds: float, reason: str) -> dict[str, str]:
        reset = f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.3f}s"
        which = "tokens" if reason == "tpm" else "requests"
        if self.retry_after_style == "seconds":
            return {"retry-after": str(max(1, math.ceil(seconds)))}
        if self.retry_after_style == "reset":
            return {f"x-ratelimit-reset-{which}": reset}
        return {
            "retry-after-ms": f"{seconds * 1000:.1f}",
            "retry-after": str(max(1, math.ceil(seconds))),
            f"x-ratelimit-reset-{which}": reset,
        }

    def _record(self, entry: RecordedRequest) -> None:
        self._state.log.append(entry)

    def _gate(
        self,
        request: Request,
        path: str,
        model: str,
        fmt: str,
        tokens: tuple[int, int],
        now: float,
        messages: int = 0,
        call: str = "",
    ) -> tuple[str, JSONResponse | None]:
        """Auth, scripted failures, rate limits and the 5xx rate, in that order (holds the lock)."""
        key_id = self._key_id(request)
        prompt_tokens, completion_tokens = tokens
        base = RecordedRequest(
            t=now,
            path=path,
            key_id=key_id or "?",
            status=200,
            model=model,
            response_format=fmt,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            messages=messages,
            call=call[:16],
        )
        if key_id is None:
            supplied = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            self._record(_replace(base, status=401, reason="auth", finished=now))
            return "?", _error(401, f"Incorrect API key provided: {supplied}.", "invalid_api_key")
        if self._state.script:
            scripted = self._state.script.popleft()
            self._state.faults["scripted"] += 1
            headers = {}
            if scripted.retry_after is not None:
                headers = self._retry_headers(scripted.retry_after, "rpm")
            self._record(
                _replace(
                    base,
                    status=scripted.status,
                    reason="scripted",
                    retry_after=scripted.retry_after,
                    finished=now,
                )
            )
            message = scripted.message or f"scripted failure {scripted.status}"
            return key_id, _error(scripted.status, message, "scripted", headers)
        refused = self._admit(key_id, prompt_tokens + completion_tokens, now)
        if refused is not None:
            reason, seconds = refused
            self._record(
                _replace(base, status=429, reason=reason, retry_after=seconds, finished=now)
            )
            headers = {**self._retry_headers(seconds, reason), **self._limit_headers(key_id, now)}
            return key_id, _error(
                429, f"Rate limit reached for {key_id} ({reason}).", "rate_limit_exceeded", headers
            )
        if self.error_rate > 0 and self._rng.random() < self.error_rate:
            self._record(_replace(base, status=503, reason="error_rate", finished=now))
            return key_id, _error(503, "The server is overloaded.", "server_error")
        return key_id, None

    def _rule_for(self, schema_name: str, text: str) -> Rule | None:
        return next((r for r in self._state.rules if r.applies(schema_name, text)), None)

    def _inject(
        self, rule: Rule | None, signature: str, key_id: str, path: str, now: float
    ) -> tuple[str, Response | None] | None:
        """The fault this attempt gets, if any, counted and logged (holds the lock). A rule
        giving content is not a fault here: the answer carries it."""
        kind: str | None = None
        response: Response | None = None
        if rule is not None and rule.content is None:
            kind = rule.kind
            if rule.status is not None:
                headers = (
                    {} if rule.retry_after is None else self._retry_headers(rule.retry_after, "rpm")
                )
                response = _error(rule.status, f"rule {rule.match!r}: failing", "rule", headers)
        elif self.faults is not None:
            seen = self._state.seen[signature]
            self._state.seen[signature] += 1
            kind = draw_fault(self.faults, signature, seen)
            if kind == "transient":
                response = _error(503, "The server had an error (injected).", "server_error")
            elif kind == "rate_limited":
                headers = self._retry_headers(self.faults.retry_after, "rpm")
                response = _error(
                    429, "Rate limit reached (injected).", "rate_limit_exceeded", headers
                )
        if kind is None:
            if rule is not None:
                self._state.faults[rule.kind] += 1
            return None
        self._state.faults[kind] += 1
        status = response.status_code if response is not None else 0
        self._record(
            RecordedRequest(
                t=now,
                path=path,
                key_id=key_id,
                status=status,
                reason=kind,
                finished=now,
                retry_after=_fault_retry_after(kind, rule, self.faults),
                call=signature[:16],
            )
        )
        return kind, response

    async def _deliver_fault(self, injected: tuple[str, Response | None]) -> Response:
        kind, response = injected
        if response is not None:
            return response
        if kind == "stall":
            # bounded, and ended by stop(): uvicorn waits for open answers before it exits
            for _ in range(6000):
                if self._stopping.is_set():
                    break
                await asyncio.sleep(0.01)
            return _error(503, "stalled answer ended", "server_error")
        return cast(Response, DroppedConnection())

    async def _chat(self, request: Request) -> Response:
        now = time.monotonic()
        try:
            body = await request.json()
            messages = list(body["messages"])
            model = str(body.get("model", ""))
        except (ValueError, KeyError, TypeError):
            return _error(400, "Invalid request body: 'messages' is required.", "invalid_request")
        response_format = body.get("response_format") or {"type": "text"}
        fmt = str(response_format.get("type", "text"))
        if self.reject_max_tokens and "max_tokens" in body:
            return _error(
                400,
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "unsupported_parameter",
                param="max_tokens",
            )
        cap = body.get("max_completion_tokens", body.get("max_tokens"))
        max_tokens = int(cap) if isinstance(cap, int) and cap > 0 else None
        body_bytes = len(await request.body())
        if fmt == "json_schema" and not self.json_schema_supported:
            with self._state.lock:
                key_id = self._key_id(request) or "?"
                self._record(
                    RecordedRequest(
                        t=now,
                        path="chat",
                        key_id=key_id,
                        status=400,
                        model=model,
                        response_format=fmt,
                        reason="json_schema unsupported",
                        finished=now,
                    )
                )
            return _error(
                400,
                "response_format 'json_schema' is not supported by this server.",
                "invalid_request_error",
                param="response_format",
            )
        rng = request_random(self.seed, model, messages)
        schema_name = str((response_format.get("json_schema") or {}).get("name", ""))
        signature = call_signature("chat", model, json.dumps([messages, response_format]))
        with self._state.lock:
            scripted = self._state.answers.popleft() if self._state.answers else None
            rule = self._rule_for(schema_name, json.dumps(messages, ensure_ascii=False))
        if scripted is None and rule is not None and rule.content is not None:
            scripted = rule.content
        finish = "stop"
        if scripted is not None:
            content = scripted
        else:
            content = self._content(fmt, response_format, messages, rng)
            limits = [n for n in (max_tokens, self.answer_token_limit) if n is not None]
            if limits and count_tokens(content) > min(limits):
                content = content[: min(limits) * 4]  # cut at the cap, as a real server does
                finish = "length"
        prompt_tokens = count_prompt(messages)
        completion_tokens = count_tokens(content)
        with self._state.lock:
            key_id, refusal = self._gate(
                request,
                "chat",
                model,
                fmt,
                (prompt_tokens, completion_tokens),
                now,
                len(messages),
                signature,
            )
            if refusal is not None:
                return refusal
            injected = self._inject(rule, signature, key_id, "chat", now)
            malformed = False
            if fmt != "text" and self._state.malformed > 0:
                self._state.malformed -= 1
                malformed = True
            elif fmt != "text" and self.malformed_rate > 0:
                malformed = self._rng.random() < self.malformed_rate
            self._state.counter += 1
            number = self._state.counter
        if injected is not None:
            return await self._deliver_fault(injected)
        if malformed:
            content = content[: max(1, len(content) // 2)]
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        finished = time.monotonic()
        with self._state.lock:
            self._record(
                RecordedRequest(
                    t=now,
                    path="chat",
                    key_id=key_id,
                    status=200,
                    model=model,
                    response_format=fmt,
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    reason="malformed" if malformed else "",
                    finished=finished,
                    messages=len(messages),
                    last_message=_last_text(messages),
                    max_tokens=max_tokens,
                    request_bytes=body_bytes,
                    call=signature[:16],
                )
            )
            headers = {"x-request-id": f"req_{number}", **self._limit_headers(key_id, finished)}
        answer: dict[str, Any] = {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": finish,
                }
            ],
        }
        if self.report_usage:
            answer["usage"] = {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        return JSONResponse(answer, headers=headers)

    def _content(
        self,
        fmt: str,
        response_format: dict[str, Any],
        messages: list[dict[str, Any]],
        rng: random.Random,
    ) -> str:
        if fmt == "json_schema":
            schema = (response_format.get("json_schema") or {}).get("schema") or {}
            value = fuzz(schema, rng, edges=self.fuzz)
            if self.rewrite is not None:
                value = self.rewrite(schema, value)
            return json.dumps(value, ensure_ascii=False)
        if fmt == "json_object":
            schema = _schema_in_messages(messages)
            if schema is None:
                return json.dumps({"answer": sentence(rng, 1)})
            return json.dumps(fuzz(schema, rng, edges=self.fuzz), ensure_ascii=False)
        last = str(messages[-1].get("content", "")) if messages else ""
        if "html" in last.lower():
            return f"<!doctype html><title>Page</title><p>{sentence(rng)}</p>"
        return sentence(rng, 3)

    async def _images(self, request: Request) -> Response:
        now = time.monotonic()
        if not self.images_endpoint:
            return _error(404, "Not Found", "not_found")
        try:
            body = await request.json()
            prompt = str(body["prompt"])
            size = str(body.get("size") or "1024x1024")
            model = str(body.get("model") or "")
        except (ValueError, KeyError, TypeError):
            return _error(400, "Invalid request body: 'prompt' is required.", "invalid_request")
        prompt_tokens = count_tokens(prompt)
        signature = call_signature("images", model, prompt, size)
        with self._state.lock:
            key_id, refusal = self._gate(
                request, "images", model, "image", (prompt_tokens, 0), now, call=signature
            )
            if refusal is not None:
                return refusal
            rule = self._rule_for("", prompt)
            injected = self._inject(rule, signature, key_id, "images", now)
        if injected is not None:
            return await self._deliver_fault(injected)
        try:
            png = await asyncio.to_thread(fake_png, prompt, size)
        except ValueError as exc:
            return _error(400, str(exc), "invalid_request_error", param="size")
        if self.image_latency > 0:
            await asyncio.sleep(self.image_latency)
        finished = time.monotonic()
        with self._state.lock:
            self._record(
                RecordedRequest(
                    t=now,
                    path="images",
                    key_id=key_id,
                    status=200,
                    model=model,
                    response_format="image",
                    prompt_tokens=prompt_tokens,
                    finished=finished,
                    call=signature[:16],
                )
            )
        return JSONResponse(
            {
                "created": int(time.time()),
                "data": [{"b64_json": base64.b64encode(png).decode("ascii")}],
                "usage": {
                    "input_tokens": prompt_tokens,
                    "output_tokens": 0,
                    "total_tokens": prompt_tokens,
                    "input_tokens_details": {"text_tokens": prompt_tokens, "image_tokens": 0},
                },
            }
        )

    async def _models(self, request: Request) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [{"id": "fake-model", "object": "model", "owned_by": "fake"}],
            }
        )


def _fault_retry_after(kind: str, rule: Rule | None, faults: Faults | None) -> float | None:
    if kind == "rate_limited" and faults is not None:
        return faults.retry_after
    return rule.retry_after if rule is not None else None


def _last_text(messages: list[dict[str, Any]]) -> str:
    return str(messages[-1].get("content", ""))[:2000] if messages else ""


def _replace(entry: RecordedRequest, **changes: Any) -> RecordedRequest:
    from dataclasses import replace

    return replace(entry, **changes)


def _error(
    status: int,
    message: str,
    code: str,
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> JSONResponse:
    kind = "rate_limit_error" if status == 429 else "invalid_request_error"
    if status >= 500:
        kind = "server_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}},
        status_code=status,
        headers=headers or {},
    )


def _schema_in_messages(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """JSON mode has no schema field: use the first JSON schema the prompt spells out."""
    for message in messages:
        text = str(message.get("content", ""))
        start, end = text.find("{"), text.rfind("}")
        if start == -1 or end <= start:
            continue
        try:
            value = json.loads(text[start : end + 1])
        except ValueError:
            continue
        if isinstance(value, dict) and ("properties" in value or "type" in value):
            return value
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m phasefarm.testing.fake_openai",
        description="A fake OpenAI-compatible server on 127.0.0.1 for tests and demos.",
    )
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--keys", default=None, help="accepted API keys, comma separated")
    parser.add_argument("--rpm", type=float, default=None, help="requests per minute per key")
    parser.add_argument("--tpm", type=float, default=None, help="tokens per minute per key")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--error-rate", type=float, default=0.0, help="share of 503 answers")
    parser.add_argument("--malformed-rate", type=float, default=0.0, help="share of bad JSON")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    keys = [k.strip() for k in args.keys.split(",") if k.strip()] if args.keys else None
    server = FakeOpenAI(
        keys=keys,
        rpm=args.rpm,
        tpm=args.tpm,
        latency=args.latency,
        error_rate=args.error_rate,
        malformed_rate=args.malformed_rate,
        seed=args.seed,
        port=args.port,
    )
    with server:
        print(server.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
