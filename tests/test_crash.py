"""Crash trials in the test suite: real job processes, real SIGKILL, real resume.

The quick version of `bench/crash.py` (3 trials), plus controls showing that each of its
measures can fail: a re-run is seen, a corrupt file is seen, a changed output is seen.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from phasefarm.benchmarks import crash

pytestmark = pytest.mark.slow


def test_three_crash_trials_lose_nothing_and_rerun_nothing(tmp_path: Path):
    job = crash.available_jobs()[0]  # the website job when the CLI has it
    report = crash.run_trials(
        trials=3,
        job=job,
        time_scale=0.01,
        seed=0,
        max_kills=1,
        workdir=tmp_path,
        check_determinism=False,
    )
    details = report.to_dict()
    assert report.kills >= 3, details  # every trial was really killed at least once
    assert all(t.error is None for t in report.trials), details
    assert report.identical == 3, details
    assert report.reruns == 0, details
    assert report.calls_remade == 0, details
    assert report.corrupt == 0, details
    assert report.redone == sum(len(t.redone) for t in report.trials)  # reported, may be > 0
    # (not report.ok: that also requires phasefarm's source unchanged during the run, which a
    # benchmark needs, and which a shared working tree edited by others cannot promise)


def _demo(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phasefarm", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_rerun_of_a_finished_phase_is_detected(tmp_path: Path):
    """Control: make the engine run a finished phase again; the trial's counter must see it."""
    store = tmp_path / "runs.sqlite3"
    done = _demo(
        tmp_path, "demo", "owls", "--time-scale", "0", "--store", str(store), "--run-id", "r1"
    )
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(store)
    conn.execute("UPDATE phases SET input_hash = 'stale' WHERE run = 'r1' AND key = 'tone'")
    conn.commit()
    conn.close()
    snap = crash.snapshot_store(store, "r1")
    assert snap is not None and "tone" in snap.succeeded
    again = _demo(tmp_path, "resume", "r1", "--store", str(store))
    assert again.returncode == 0, again.stderr
    reruns, _, redone = crash.count_reruns(store, "r1", [snap])
    assert reruns == ["tone"]
    assert redone == []


def test_a_phase_in_flight_at_a_kill_is_counted_as_redone(tmp_path: Path):
    """Control: a phase that started but has no record (as if killed while it ran, or before
    its record was committed) runs again on resume, and is counted as re-done, not re-run."""
    store = tmp_path / "runs.sqlite3"
    done = _demo(
        tmp_path, "demo", "owls", "--time-scale", "0", "--store", str(store), "--run-id", "r1"
    )
    assert done.returncode == 0, done.stderr
    conn = sqlite3.connect(store)
    conn.execute("DELETE FROM phases WHERE run = 'r1' AND key IN ('page', 'section[1]')")
    conn.execute("UPDATE runs SET status = 'running' WHERE id = 'r1'")
    conn.commit()
    conn.close()
    snap = crash.snapshot_store(store, "r1")
    assert snap is not None and "page" not in snap.succeeded
    again = _demo(tmp_path, "resume", "r1", "--store", str(store))
    assert again.returncode == 0, again.stderr
    reruns, _, redone = crash.count_reruns(store, "r1", [snap])
    assert reruns == []
    assert redone == ["page", "section[1]"]


def test_corrupt_store_is_detected(tmp_path: Path):
    store = tmp_path / "runs.sqlite3"
    done = _demo(tmp_path, "demo", "owls", "--time-scale", "0", "--store", str(store))
    assert done.returncode == 0, done.stderr
    assert crash.integrity(store) == "ok"
    data = bytearray(store.read_bytes())
    page = 4096
    assert len(data) > 3 * page
    data[2 * page + 100 : 3 * page - 100] = b"\xa5" * (page - 200)  # scribble over a page
    store.write_bytes(bytes(data))
    assert crash.integrity(store) != "ok"


def test_changed_output_is_detected(tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text("<h1>hi</h1>")
    expected = crash.tree_hashes(tmp_path)
    (tmp_path / "a" / "index.html").write_text("<h1>hi!</h1>")
    (tmp_path / "extra.txt").write_text("x")
    got = crash.tree_hashes(tmp_path)
    assert crash.differences(expected, got) == ["extra extra.txt", "differs a/index.html"]
