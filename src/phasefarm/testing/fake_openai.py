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

The parts, one concept a module: `fake_routes` (the HTTP routes), `fake_limits` (auth, scripted
failures, rate limits, the 5xx rate), `fake_inject` (rules and seeded faults, delivered),
`fake_answers` (what a model says), `fake_records` (the request log and the shared state),
`fake_parts` (buckets, token counts, prose, pictures), `fake_faults` (the fault schedule),
`fake_serve` (uvicorn in a thread on loopback). This module: the server as tests use it (its
options, lifecycle and test controls) and the command line.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections.abc import Sequence
from types import TracebackType

from phasefarm.testing.fake_answers import Rewrite
from phasefarm.testing.fake_faults import Faults, Rule
from phasefarm.testing.fake_inject import Injector
from phasefarm.testing.fake_limits import Gate
from phasefarm.testing.fake_records import RecordedRequest, Scripted, ServerState
from phasefarm.testing.fake_routes import ModelBehaviour, OpenAIRoutes
from phasefarm.testing.fake_serve import LoopbackServer

__all__ = ["FakeOpenAI", "Faults", "RecordedRequest", "main"]


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
        rewrite: Rewrite | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.behaviour = ModelBehaviour(
            latency=latency,
            image_latency=latency if image_latency is None else image_latency,
            malformed_rate=malformed_rate,
            seed=seed,
            json_schema_supported=json_schema_supported,
            fuzz=fuzz,
            images_endpoint=images_endpoint,
            report_usage=report_usage,
            answer_token_limit=answer_token_limit,
            reject_max_tokens=reject_max_tokens,
            rewrite=rewrite,
        )
        self._stopping = threading.Event()  # ends stalled answers, so the server can stop
        rng = random.Random(seed)  # the 5xx and malformed-answer rates draw from it
        self._state = ServerState()
        self._gate = Gate(
            self._state,
            keys=keys,
            rpm=rpm,
            tpm=tpm,
            burst_s=burst_s,
            error_rate=error_rate,
            limit_headers=limit_headers,
            retry_after_style=retry_after_style,
            rng=rng,
        )
        injector = Injector(self._state, self._gate, faults, self._stopping)
        self.app = OpenAIRoutes(self.behaviour, self._state, self._gate, injector, rng).app
        self._serving = LoopbackServer(self.app, host=host, port=port, name="fake-openai")

    @property
    def keys(self) -> list[str] | None:
        """The accepted API keys (None: any key, numbered in order of first use)."""
        return self._gate.keys

    @property
    def rpm(self) -> float | None:
        return self._gate.rpm

    @property
    def tpm(self) -> float | None:
        return self._gate.tpm

    def __repr__(self) -> str:
        url = self.url if self._serving.listening else None
        return f"FakeOpenAI(url={url!r}, rpm={self.rpm}, tpm={self.tpm})"

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._serving.port

    @property
    def url(self) -> str:
        """The base URL to give an OpenAI client, ending in /v1."""
        return f"http://{self._serving.host}:{self.port}/v1"

    def start(self) -> FakeOpenAI:
        self._serving.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # stalled answers end, so uvicorn can finish them and exit
        self._serving.stop()

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
                self._state.script.append(Scripted(status, retry_after, message))

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
