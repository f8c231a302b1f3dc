"""Who may call the fake OpenAI server, and how often: the gate every request passes first.

In order: the API key (401 for an unknown one), the failures a test queued (`fail_next`), the
per-key rpm / tpm token buckets (429 with `retry-after-ms`, `retry-after` or
`x-ratelimit-reset-*`, as `retry_after_style` says), then the random 5xx rate. With
`limit_headers`, answers also carry `x-ratelimit-limit-*` / `x-ratelimit-remaining-*`.
The buckets are the server's own (`fake_parts.Bucket`), never the client's limiter.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse

from phasefarm.testing.fake_parts import Bucket
from phasefarm.testing.fake_records import KeyLimits, RecordedRequest, ServerState, error_response

__all__ = ["RETRY_AFTER_STYLES", "Gate"]

RETRY_AFTER_STYLES = ("ms", "seconds", "reset")


class Gate:
    """Auth, scripted failures, rate limits and the 5xx rate of one server."""

    def __init__(
        self,
        state: ServerState,
        *,
        keys: Sequence[str] | None,
        rpm: float | None,
        tpm: float | None,
        burst_s: float,
        error_rate: float,
        limit_headers: bool,
        retry_after_style: str,
        rng: random.Random,
    ) -> None:
        if retry_after_style not in RETRY_AFTER_STYLES:
            raise ValueError("retry_after_style must be 'ms', 'seconds' or 'reset'")
        self.state = state
        self.keys = list(keys) if keys is not None else None
        self.rpm, self.tpm, self.burst_s = rpm, tpm, burst_s
        self.error_rate = error_rate
        self.limit_headers_on = limit_headers
        self.retry_after_style = retry_after_style
        self.rng = rng
        for index, key in enumerate(self.keys or (), start=1):
            state.key_ids[key] = f"key#{index}"

    def key_id(self, request: Request) -> str | None:
        """The request's key as "key#N" (None: not one of `keys`). Holds the lock."""
        header = request.headers.get("authorization", "")
        key = header.removeprefix("Bearer ").strip()
        key_ids = self.state.key_ids
        if self.keys is not None:
            return key_ids.get(key)
        if key not in key_ids:
            key_ids[key] = f"key#{len(key_ids) + 1}"
        return key_ids[key]

    def _limits(self, key_id: str, now: float) -> KeyLimits:
        limits = self.state.limits.get(key_id)
        if limits is None:
            requests = tokens = None
            if self.rpm is not None:
                requests = Bucket(self.rpm / 60, max(1.0, self.rpm / 60 * self.burst_s), now)
            if self.tpm is not None:
                tokens = Bucket(self.tpm / 60, max(1.0, self.tpm / 60 * self.burst_s), now)
            limits = KeyLimits(requests, tokens)
            self.state.limits[key_id] = limits
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

    def limit_headers(self, key_id: str, now: float) -> dict[str, str]:
        """`x-ratelimit-limit-*` / `-remaining-*` for this key (none unless `limit_headers`)."""
        if not self.limit_headers_on:
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

    def retry_headers(self, seconds: float, reason: str) -> dict[str, str]:
        """How long to wait, spelled as `retry_after_style` says."""
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

    def check(self, request: Request, base: RecordedRequest) -> tuple[str, JSONResponse | None]:
        """The request's key id and the refusal it gets, if any (holds the lock). `base` is
        the request's log entry, recorded here with its status when refused."""
        key_id = self.key_id(request)
        now = base.t
        base = base.but(key_id=key_id or "?")
        state = self.state
        if key_id is None:
            supplied = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            state.record(base.but(status=401, reason="auth", finished=now))
            message = f"Incorrect API key provided: {supplied}."
            return "?", error_response(401, message, "invalid_api_key")
        if state.script:
            scripted = state.script.popleft()
            state.faults["scripted"] += 1
            headers = {}
            if scripted.retry_after is not None:
                headers = self.retry_headers(scripted.retry_after, "rpm")
            state.record(
                base.but(
                    status=scripted.status,
                    reason="scripted",
                    retry_after=scripted.retry_after,
                    finished=now,
                )
            )
            message = scripted.message or f"scripted failure {scripted.status}"
            return key_id, error_response(scripted.status, message, "scripted", headers)
        refused = self._admit(key_id, base.prompt_tokens + base.completion_tokens, now)
        if refused is not None:
            reason, seconds = refused
            state.record(base.but(status=429, reason=reason, retry_after=seconds, finished=now))
            headers = {**self.retry_headers(seconds, reason), **self.limit_headers(key_id, now)}
            message = f"Rate limit reached for {key_id} ({reason})."
            return key_id, error_response(429, message, "rate_limit_exceeded", headers)
        if self.error_rate > 0 and self.rng.random() < self.error_rate:
            state.record(base.but(status=503, reason="error_rate", finished=now))
            return key_id, error_response(503, "The server is overloaded.", "server_error")
        return key_id, None
