"""A rate-limited OpenAI-compatible server for `bench ratelimit`, independent of the client.

Nothing here comes from `phasefarm.llm` or `phasefarm.testing`: it has its own token count
(characters / 3.5, rounded up, where the client estimates about 4 characters per token), its
own limiter (a sliding-window log: a request is accepted when the requests, and the tokens,
accepted for that key in the last `window_s` seconds leave room for it; no bucket, no burst
allowance) and its own answers (the simplest object the request's JSON schema accepts).
Standard library only (`http.server`), so it runs without the `web` extra.

The per-minute limits are enforced over `window_s` (default 1 s) in proportion: 600 rpm is 10
requests in any 1-second window. OpenAI documents that a per-minute limit may be enforced
over shorter periods in this way; a 60-second window would let a 15-second benchmark send
everything at once and say nothing about pacing.

Every arrival is logged with the server's clock (`arrivals`), so rates come from the server.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Arrival", "KeyLog", "LimitServer", "count_tokens", "least_span", "sample"]

CHARS_PER_TOKEN = 3.5


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class Arrival:
    t: float  # server clock, seconds since the server started
    key: str
    status: int
    tokens: int  # the request's tokens by this server's count (prompt + answer)


def sample(schema: dict[str, Any], defs: dict[str, Any] | None = None) -> Any:
    """The simplest value `schema` accepts (objects, arrays, strings, numbers, enums, refs)."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return sample(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        return sample(schema["anyOf"][0], defs)
    kind = schema.get("type", "object")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        return {name: sample(sub, defs) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [sample(schema.get("items", {}), defs) for _ in range(schema.get("minItems", 1))]
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "Fresh sourdough, baked before dawn every morning."[: schema.get("maxLength", 200)]


class KeyLog:
    """The sliding-window log of one key: (time, tokens) of requests accepted lately."""

    def __init__(self, requests: int, tokens: int, window_s: float) -> None:
        self.requests, self.tokens, self.window_s = requests, tokens, window_s
        self.log: deque[tuple[float, int]] = deque()

    def wait(self, now: float, tokens: int) -> float:
        """0.0 when a request of `tokens` would be accepted at `now`, else the seconds until
        it would be. Changes nothing."""
        log = [(t, n) for t, n in self.log if t > now - self.window_s]
        used = sum(n for _, n in log)
        if len(log) < self.requests and (not log or used + tokens <= self.tokens):
            return 0.0
        wait_requests = 0.0
        if len(log) >= self.requests:
            wait_requests = log[len(log) - self.requests][0] + self.window_s - now
        wait_tokens, freed = 0.0, 0
        for t, n in log:  # the oldest entries leave the window first
            if used - freed + tokens <= self.tokens:
                break
            freed += n
            wait_tokens = t + self.window_s - now
        return max(wait_requests, wait_tokens, 1e-9)

    def admit(self, now: float, tokens: int) -> float:
        """0.0 when accepted (and logged), else the seconds until it would be. Times only
        move forward."""
        while self.log and self.log[0][0] <= now - self.window_s:
            self.log.popleft()
        wait = self.wait(now, tokens)
        if wait == 0.0:
            self.log.append((now, tokens))
            return 0.0
        return max(wait, 0.001)  # Retry-After is sent in whole milliseconds


def least_span(
    tokens: list[int], *, keys: int, requests: int, window_tokens: int, window_s: float
) -> float:
    """The least time from the first to the last arrival in which `keys` keys under these
    limits accept requests of `tokens` tokens each: every request sent at the earliest moment
    this server's rule admits it, on the key that admits it first (what a client that knows
    the server's windows exactly would do)."""
    logs = [KeyLog(requests, window_tokens, window_s) for _ in range(keys)]
    now = 0.0
    for n in tokens:
        ready = []
        for log in logs:
            at = now
            while (wait := log.wait(at, n)) > 0:
                at += wait
            ready.append(at)
        now = min(ready)
        logs[ready.index(now)].admit(now, n)
    return now


class LimitServer:
    """`with LimitServer(keys=[...], rpm=600, tpm=120_000) as server: server.url`."""

    def __init__(
        self,
        *,
        keys: list[str],
        rpm: int,
        tpm: int,
        window_s: float = 1.0,
        latency: float = 0.03,
        announce: bool = False,
    ) -> None:
        self.rpm, self.tpm, self.window_s = rpm, tpm, window_s
        self.latency, self.announce = latency, announce
        per_window = window_s / 60.0
        self.window_requests = max(1, math.floor(rpm * per_window))
        self.window_tokens = max(1, math.floor(tpm * per_window))
        self._windows = {
            key: KeyLog(self.window_requests, self.window_tokens, window_s) for key in keys
        }
        self._lock = threading.Lock()
        self.arrivals: list[Arrival] = []
        self._start = time.monotonic()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> LimitServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def decide(self, key: str, tokens: int) -> float:
        """Log the arrival; 0.0 if accepted, else seconds until it would be."""
        with self._lock:
            now = time.monotonic() - self._start
            wait = self._windows[key].admit(now, tokens)
            self.arrivals.append(Arrival(now, key, 200 if wait == 0.0 else 429, tokens))
            return wait

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the client's connection pool expects

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                key = self.headers.get("authorization", "").removeprefix("Bearer ").strip()
                if not self.path.endswith("/chat/completions") or key not in server._windows:
                    self._send(404 if key in server._windows else 401, {"error": {}}, {})
                    return
                server.answer(self, body, key)

        return Handler

    def answer(self, handler: Any, body: dict[str, Any], key: str) -> None:
        prompt = "".join(str(m.get("content", "")) for m in body.get("messages", []))
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            content = json.dumps(sample(fmt["json_schema"]["schema"]))
        else:
            content = "Fresh sourdough, baked before dawn every morning."
        prompt_tokens, completion_tokens = count_tokens(prompt), count_tokens(content)
        wait = self.decide(key, prompt_tokens + completion_tokens)
        headers = self._limit_headers(key)
        if wait:
            headers |= {"retry-after-ms": f"{wait * 1000:.0f}", "retry-after": str(math.ceil(wait))}
            message = f"Rate limit reached for requests; try again in {wait:.3f}s."
            handler._send(429, {"error": {"message": message, "type": "requests"}}, headers)
            return
        time.sleep(self.latency)
        handler._send(
            200,
            {
                "id": f"chatcmpl-{len(self.arrivals)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "limit-model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
            headers,
        )

    def _limit_headers(self, key: str) -> dict[str, str]:
        if not self.announce:
            return {}
        return {
            "x-ratelimit-limit-requests": str(self.rpm),
            "x-ratelimit-limit-tokens": str(self.tpm),
        }
