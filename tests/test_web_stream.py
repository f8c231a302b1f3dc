"""The event WebSocket: replay of a finished run, resuming after a cut with nothing lost or
doubled, and runs executed by another process (the CLI) followed through the store."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.sync.client import connect

from phasefarm.store.url import open_store
from web_support import Server, read_stream, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("web-stream")) as running:
        yield running


def stored_events(server: Server, run_id: str) -> list[dict[str, Any]]:
    store = open_store(server.store, create=False)
    try:
        return store.events(run_id)
    finally:
        store.close()


@contextmanager
def subscribe(server: Server, run_id: str, after: int) -> Iterator[Any]:
    with connect(f"{server.ws}/api/runs/{run_id}/events?token={server.token}") as ws:
        ws.send(json.dumps({"type": "subscribe", "after": after}))
        yield ws


def test_finished_run_replays(server: Server):
    run_id = server.start(job="demo", time_scale="0")
    server.wait_finished(run_id)
    with subscribe(server, run_id, -1) as ws:
        events, others = read_stream(ws)
    assert events == stored_events(server, run_id)
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert [m["type"] for m in others] == ["hello", "end"]
    hello, end = others
    assert hello["run"]["job"] == "demo" and hello["run"]["graph"]["critical_path"]
    assert end["last_seq"] == events[-1]["seq"] and end["run"]["status"] == "succeeded"
    with subscribe(server, run_id, 9) as ws:  # from the middle
        tail, _ = read_stream(ws)
    assert tail == events[10:]
    with subscribe(server, run_id, events[-1]["seq"]) as ws:  # saw it all: told the end at once
        nothing, messages = read_stream(ws, timeout=10)
    assert nothing == [] and [m["type"] for m in messages] == ["hello", "end"]


def test_reconnects_lose_and_double_nothing(server: Server):
    """Cut the socket again and again during a live run; each new socket says the last seq
    seen. Together they must give the run's events exactly once, in order."""
    run_id = server.start(job="demo", time_scale="0.05", size="12")
    seen: list[dict[str, Any]] = []
    cuts = 0
    while True:
        with subscribe(server, run_id, seen[-1]["seq"] if seen else -1) as ws:
            got = 0
            while True:
                message = json.loads(ws.recv(timeout=30))
                if message["type"] == "events":
                    seen.extend(message["events"])
                    got += len(message["events"])
                    if got >= 3:  # cut mid-stream
                        break
                elif message["type"] == "end":
                    break
        if message["type"] == "end":
            break
        cuts += 1
    assert cuts >= 2  # the run was cut while live, more than once
    events = stored_events(server, run_id)
    assert seen == events
    assert [e["seq"] for e in seen] == list(range(len(seen)))
    assert seen[-1]["kind"] == "run.finished"


def test_run_from_the_cli_followed_through_the_store(server: Server, tmp_path):
    command = [
        sys.executable,
        "-m",
        "phasefarm",
        "demo",
        "birds",
        "--store",
        server.store,
        "--time-scale",
        "0.05",
        "--run-id",
        "from-the-cli",
        "--json",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # wait until the CLI has recorded the run, then follow it while it is going
        for _ in range(600):
            if any(r["run_id"] == "from-the-cli" for r in server.runs()):
                break
            time.sleep(0.05)
        with subscribe(server, "from-the-cli", -1) as ws:
            events, others = read_stream(ws, timeout=60)
    finally:
        stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert stderr == ""  # --json: nothing but the JSON
    assert json.loads(stdout)["status"] == "succeeded"
    assert others[0]["run"]["live"] is False
    assert events == stored_events(server, "from-the-cli")
    assert [e["seq"] for e in events] == list(range(len(events)))
    assert events[-1]["kind"] == "run.finished"
