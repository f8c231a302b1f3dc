"""The CLI around the engine, as real processes: JSON summary, exit codes, Ctrl-C, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from phasefarm.pipelines.demo import SEED_SECONDS, build_flow
from phasefarm.store.url import open_store

CLI = [sys.executable, "-m", "phasefarm"]


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_demo_json_summary_has_the_contract_fields(tmp_path: Path) -> None:
    done = run_cli(
        "demo",
        "owls",
        "--json",
        "--time-scale",
        "0.01",
        "--out",
        "out",
        "--run-id",
        "d1",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    for field in (
        "run_id",
        "status",
        "elapsed_s",
        "seed_elapsed_s",
        "phases",
        "tokens",
        "cost",
        "out",
    ):
        assert field in summary
    assert summary["run_id"] == "d1" and summary["status"] == "succeeded"
    assert set(summary["phases"]["section[0]"]) >= {"status", "started", "finished", "attempts"}
    assert (tmp_path / "out" / "page.md").read_text().startswith("## Owls: part 1")
    # six sections in a pool of three: never more than three at once (the records' own
    # start and end times, one clock), and the plan on its virtual clock is two rounds
    sections = [p for key, p in summary["phases"].items() if key.startswith("section[")]
    assert len(sections) == 6
    ends = sorted((p["started"], p["finished"]) for p in sections)
    overlapping = max(sum(1 for s, f in ends if s <= start < f) for start, _ in ends)
    assert 1 <= overlapping <= 3
    plan = build_flow(sections=6).plan()
    sequential = plan.estimate("sequential")
    assert plan.estimate("parallel") <= sequential - 3 * SEED_SECONDS["section"]


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (
        ["demo", "   "],
        ["demo", "--mode", "turbo"],
        ["demo", "--sections", "0"],
        ["resume", "no-such-run"],
    ):
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_cancels_cleanly_and_resume_finishes_without_rerunning(tmp_path: Path) -> None:
    store_url = f"sqlite:///{tmp_path / 'runs.sqlite3'}"
    process = subprocess.Popen(
        [*CLI, "demo", "--time-scale", "0.2", "--store", store_url, "--run-id", "ctrlc"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # a suite started in the background by a script ignores SIGINT, and so would the job
        # (Python turns SIGINT into KeyboardInterrupt only if it is not ignored at start)
        preexec_fn=default_sigint,
    )
    assert process.stderr is not None
    # outline and tone finish first, then sections run three at a time
    for line in process.stderr:
        if line.startswith("2/"):
            break
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=20)
    assert code == 130

    store = open_store(store_url)
    stored = store.load_run("ctrlc")
    assert stored.status == "cancelled"
    statuses = {k: p.status for k, p in stored.phases.items()}
    assert statuses["outline"] == statuses["tone"] == "succeeded"
    assert stored.phases["outline"].output[0].startswith("A field guide")
    assert "cancelled" in statuses.values()
    assert all(p.output is None for p in stored.phases.values() if p.status != "succeeded")
    # nothing left half-done: every phase that started has an outcome, nothing is pending
    started = {e["phase"] for e in store.events("ctrlc") if e["kind"] == "phase.started"}
    assert started <= {k for k, p in stored.phases.items() if p.status != "pending"}
    store.close()

    resumed = run_cli("resume", "ctrlc", "--store", store_url, "--json", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["status"] == "succeeded"
    store = open_store(store_url)
    events = store.events("ctrlc")
    store.close()
    started = [e["phase"] for e in events if e["kind"] == "phase.started"]
    assert started.count("outline") == 1 and started.count("tone") == 1
