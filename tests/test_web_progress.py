"""The terminal view of a run: a live view on a terminal (one line per running phase, k/N,
elapsed, tokens and cost, retries and rate-limit waits), plain lines in a pipe, nothing but
the JSON with --json."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

from rich.console import Console

from phasefarm import Flow, PhaseContext
from phasefarm.progress import LiveProgress


def text_of(view: LiveProgress) -> str:
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(view.render())
    return out.getvalue()


def test_live_view_shows_running_phases_retries_waits_and_cost():
    terminal = io.StringIO()
    view = LiveProgress(True, console=Console(file=terminal, force_terminal=True, width=160))
    assert view.live_view
    flow = Flow("view")
    seen: dict[str, str] = {}
    tries = {"n": 0}

    @flow.phase()
    async def first(ctx: PhaseContext) -> int:
        ctx.emit("usage", tokens=1200, cost=0.0123)
        return 1

    @flow.phase(retries=1, backoff=0.0)
    async def flaky(first: int, ctx: PhaseContext) -> int:
        tries["n"] += 1
        if tries["n"] == 1:
            raise RuntimeError("model said no")
        ctx.emit("limiter.wait", key="k0", seconds=0.5)
        ctx.emit("llm.retry", task="x", reason="RateLimited", attempt=1, wait_s=0.1)
        seen["during"] = text_of(view)
        return 2

    @flow.phase()
    async def last(flaky: int) -> int:
        return flaky

    with view:
        result = flow.run_sync(on_event=view)
    assert result.status == "succeeded"
    during = seen["during"].splitlines()
    assert during[0].startswith("1/3 completed")
    assert "1,200 tokens, $0.0123" in during[0]
    assert "1 retries" in during[0] and "1 rate-limit waits" in during[0]
    assert len(during) == 2  # one line per running phase: only flaky runs
    assert "flaky" in during[1] and "attempt 2" in during[1]
    assert "1 llm retries" in during[1] and "waited 0.50 s for the rate limit" in during[1]
    after = text_of(view)
    assert after.startswith("3/3 completed") and len(after.splitlines()) == 1
    drawn = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", terminal.getvalue())
    assert "retrying flaky (attempt 1 failed: RuntimeError: model said no" in drawn
    assert "3/3 completed" in drawn


def run_demo(*flags: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "phasefarm", "demo", "birds", "--store", "memory:"]
    return subprocess.run(
        [*command, "--time-scale", "0", "--sections", "3", *flags],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_plain_lines_when_not_a_terminal():
    done = run_demo()
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[-1] == "7/7 completed"
    counted = [line for line in lines if line.endswith(" completed")]
    # one line per phase done; N grows when the map learns its items
    assert [int(line.split("/")[0]) for line in counted] == list(range(1, 8))
    assert "\x1b[" not in done.stderr  # no terminal control codes in a pipe
    assert done.stdout.startswith("succeeded: 7 succeeded")


def test_only_the_json_with_json():
    done = run_demo("--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    summary = json.loads(done.stdout)
    assert summary["status"] == "succeeded" and len(summary["phases"]) == 7
