"""A real `phasefarm serve` in a subprocess for the web tests, and small HTTP/WS helpers."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

STARTUP_TIMEOUT_S = 30.0


@dataclass
class Server:
    base: str  # http://127.0.0.1:PORT
    token: str
    store: str  # the store URL it serves
    out: Path  # where runs started in it write
    process: subprocess.Popen[str]

    @property
    def url(self) -> str:
        return f"{self.base}/?token={self.token}"

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://", 1)

    def client(self, token: str | None = "ok") -> httpx.Client:
        headers = {}
        if token is not None:
            headers["X-Phasefarm-Token"] = self.token if token == "ok" else token
        return httpx.Client(base_url=self.base, headers=headers, timeout=30)

    def start(self, **fields: Any) -> str:
        form = {"job": "demo", "brief": "city birds", "time_scale": "0.02", **fields}
        with self.client() as client:
            response = client.post("/api/runs", json={k: str(v) for k, v in form.items()})
        assert response.status_code == 201, response.text
        run_id: str = response.json()["run_id"]
        return run_id

    def runs(self) -> list[dict[str, Any]]:
        with self.client() as client:
            response = client.get("/api/runs")
        assert response.status_code == 200, response.text
        runs: list[dict[str, Any]] = response.json()["runs"]
        return runs

    def run(self, run_id: str) -> dict[str, Any]:
        return next(r for r in self.runs() if r["run_id"] == run_id)

    def wait_finished(self, run_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(run_id)
            if run["status"] != "running" and not run["live"]:
                return run
            time.sleep(0.05)
        raise AssertionError(f"run {run_id} did not finish in {timeout} s")


@contextmanager
def serve(tmp: Path, *, env: dict[str, str] | None = None) -> Iterator[Server]:
    """`python -m phasefarm serve` on a free port, stopped with SIGINT at the end."""
    store = f"sqlite:///{tmp / 'runs.sqlite3'}"
    out = tmp / "out"
    errors = (tmp / "serve.stderr").open("w", encoding="utf-8")  # a file: a pipe could fill up
    process = subprocess.Popen(
        [sys.executable, "-m", "phasefarm", "serve", "--store", store, "--out", str(out)],
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout or ()], daemon=True
    )
    reader.start()
    try:
        try:
            first = lines.get(timeout=STARTUP_TIMEOUT_S)
        except queue.Empty:
            raise AssertionError(
                f"phasefarm serve printed no URL: {(tmp / 'serve.stderr').read_text()}"
            ) from None
        assert first.startswith("phasefarm serve: http://127.0.0.1:"), first
        url = first.split(": ", 1)[1].strip()
        base, token = url.split("/?token=")
        yield Server(base, token, store, out, process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        errors.close()


Messages = list[dict[str, Any]]


def read_stream(ws: Any, timeout: float = 60.0) -> tuple[Messages, Messages]:
    """Messages of an event socket until it closes: (events, other messages)."""
    events: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        try:
            raw = ws.recv(timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            raise AssertionError("the event stream did not end in time") from None
        except Exception:  # closed by the server after "end"
            return events, others
        message = json.loads(raw)
        if message["type"] == "events":
            events.extend(message["events"])
        else:
            others.append(message)
