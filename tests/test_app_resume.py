"""kill -9 an app run (a real process), resume it, and compare with an uninterrupted run:
the same files, the same git history (commit ids), no phase committed twice, no file call
made twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from app_support import git
from phasefarm.store import SQLiteStore

pytestmark = pytest.mark.slow
BRIEF = "A habit tracker for a running club"


def _cli(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phasefarm", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _start(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "phasefarm", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _kill_when(process: subprocess.Popen[str], ready: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ready.exists():
        assert process.poll() is None, "the run ended before the kill"
        assert time.monotonic() < deadline, f"{ready} never appeared"
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_kill_9_and_resume_gives_the_same_tree_and_history(tmp_path: Path) -> None:
    reference = _cli(
        tmp_path, "app", BRIEF, "--out", "ref", "--time-scale", "0", "--store", "sqlite:///ref.db"
    )
    assert reference.returncode == 0, reference.stderr
    store = "sqlite:///killed.db"
    run = ["app", BRIEF, "--out", "app", "--time-scale", "0.01", "--store", store]
    process = _start(tmp_path, *run, "--run-id", "killed")
    records = tmp_path / "app" / ".git" / "phasefarm" / "records"
    _kill_when(process, records / "2.json")
    # a second kill, mid-way through the resumed run
    process = _start(tmp_path, "resume", "killed", "--store", store)
    _kill_when(process, records / "4.json")
    resumed = _cli(tmp_path, "resume", "killed", "--store", store, "--json")
    assert resumed.returncode == 0, resumed.stderr

    app, ref = tmp_path / "app", tmp_path / "ref"
    assert git(app, "log", "--format=%H %s", "main") == git(ref, "log", "--format=%H %s", "main")
    assert git(app, "ls-tree", "-r", "main") == git(ref, "ls-tree", "-r", "main")
    assert git(app, "status", "--porcelain") == ""
    trailers = git(app, "log", "--format=%(trailers:key=Phasefarm-Phase,valueonly)", "main").split()
    assert sorted(trailers) == sorted(set(trailers))  # no phase committed twice

    events = SQLiteStore(tmp_path / "killed.db").events("killed")
    calls = Counter(
        e["phase"] for e in events if e["kind"] == "usage" and e["phase"].startswith("implement[")
    )
    assert len(calls) == 20
    # A file call is made again only by a phase that was running when a kill came (its call
    # answered, its file not yet written): never by one that had ended.
    in_flight = _running_at_kills(events)
    again = {phase: n for phase, n in calls.items() if n > 1 + in_flight[phase]}
    assert again == {}, (calls, in_flight)
    for path in (app / "preview").rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (ref / path.relative_to(app / "preview")).read_bytes()


def _running_at_kills(events: list[dict[str, Any]]) -> Counter[str]:
    """Per phase, in how many killed executions of the run it had started and not ended."""
    ends = ("phase.succeeded", "phase.failed", "phase.skipped", "phase.cancelled")
    at_kills: Counter[str] = Counter()
    running: set[str] = set()
    for event in events:
        if event["kind"] == "run.started":  # the execution before it was killed
            at_kills.update(running)
            running = set()
        elif event["kind"] == "phase.started":
            running.add(event["phase"])
        elif event["kind"] in ends:
            running.discard(event["phase"])
    return at_kills


def test_a_file_phase_run_again_finds_its_file_written_and_calls_no_model(tmp_path: Path) -> None:
    """What a kill between writing a file and checkpointing its phase leaves: the phase runs
    again (no checkpoint says it finished) and must not pay for the file a second time."""
    from app_support import build_app
    from phasefarm.engine.events import Event

    first, _ = build_app(tmp_path / "app")
    assert first.status == "succeeded"
    before = git(tmp_path / "app", "log", "--format=%H", "main")
    events: list[Event] = []
    again, _ = build_app(tmp_path / "app", events=events)  # no store: every phase runs again
    assert again.status == "succeeded"
    file_calls = [
        e for e in events if e.kind == "usage" and (e.phase or "").startswith("implement[")
    ]
    assert file_calls == []
    assert git(tmp_path / "app", "log", "--format=%H", "main") == before  # nothing committed twice
