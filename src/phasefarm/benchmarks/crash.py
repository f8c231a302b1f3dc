"""Crash trials: SIGKILL a real job process at random moments, resume it, compare with a clean run.

Each trial starts `python -m phasefarm JOB BRIEF --out DIR --store sqlite:///... --run-id ID` in
a subprocess, kills it with SIGKILL at a random moment, then runs `phasefarm resume ID`, which
may itself be killed again, until a resume runs to its end. Most kills land while the run
executes (uniform over an uninterrupted run's length, counted from the moment the process holds
the run in the store); some (`sX.XX` in the table) land during start-up. It reports:

- identical: every file of the output folder is byte-identical to an uninterrupted run's
  (same relative paths, same sha256), and the final status is the same;
- re-runs: phases recorded `succeeded` before a resume that ran again during it. Seen in two
  ways: a `phase.started` event for such a key after the resume began, or its stored record
  rewritten (caught even when the killed process's last events were lost). Map collectors,
  which only gather their items' outputs, are not counted. Must be 0;
- calls re-made: provider calls (`usage` events, `calls` field) made by such phases. Must be 0;
- re-done in flight: phases that had started before a kill (their `phase.started` event is in
  the store) without a `succeeded` record, and ran again in the resume: the work a crash
  costs (running phases, and finished ones whose record was still in the writer's group);
  reported, not a failure;
- corrupt stores: `PRAGMA integrity_check` after every kill and at the end. Must be 0.

A kill that lands before the run is recorded at all leaves nothing to resume: the trial then
starts the job again with the same command, as a user would (counted as a restart).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "CrashReport",
    "Trial",
    "available_jobs",
    "count_reruns",
    "differences",
    "main",
    "print_report",
    "run_trials",
    "snapshot_store",
]

BRIEF = "a family bakery in Lyon with a weekly bread subscription"


@dataclass
class Trial:
    number: int
    kills: list[_Kill] = field(default_factory=list)
    done_at_kill: list[int] = field(default_factory=list)  # phases recorded succeeded then
    restarts: int = 0
    missed: int = 0  # first kills that came after the run had already finished (started over)
    executions: int = 0
    status: str = "?"
    identical: bool = False
    differences: list[str] = field(default_factory=list)
    reruns: list[str] = field(default_factory=list)
    redone: list[str] = field(default_factory=list)  # in flight at a kill, run again
    calls_remade: int = 0
    integrity: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    error: str | None = None

    @property
    def corrupt(self) -> bool:
        return any(verdict != "ok" for verdict in self.integrity)


@dataclass
class CrashReport:
    job: str
    time_scale: float
    seed: int
    baseline_files: int
    baseline_wall_s: float
    baseline_deterministic: bool
    trials: list[Trial]
    source_changed: bool = False

    @property
    def kills(self) -> int:
        return sum(len(t.kills) for t in self.trials)

    @property
    def identical(self) -> int:
        return sum(t.identical for t in self.trials)

    @property
    def reruns(self) -> int:
        return sum(len(t.reruns) for t in self.trials)

    @property
    def calls_remade(self) -> int:
        return sum(t.calls_remade for t in self.trials)

    @property
    def redone(self) -> int:
        return sum(len(t.redone) for t in self.trials)

    @property
    def corrupt(self) -> int:
        return sum(t.corrupt for t in self.trials)

    @property
    def ok(self) -> bool:
        return (
            self.baseline_deterministic
            and not self.source_changed
            and all(t.kills for t in self.trials)
            and self.identical == len(self.trials)
            and self.reruns == 0
            and self.calls_remade == 0
            and self.corrupt == 0
            and all(t.error is None for t in self.trials)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "time_scale": self.time_scale,
            "seed": self.seed,
            "trials": len(self.trials),
            "kills": self.kills,
            "identical": self.identical,
            "reruns": self.reruns,
            "calls_remade": self.calls_remade,
            "redone_in_flight": self.redone,
            "corrupt_stores": self.corrupt,
            "baseline_files": self.baseline_files,
            "baseline_deterministic": self.baseline_deterministic,
            "source_changed": self.source_changed,
            "ok": self.ok,
            "per_trial": [
                {
                    "trial": t.number,
                    "kills": [k.label() for k in t.kills],
                    "done_at_kill": t.done_at_kill,
                    "restarts": t.restarts,
                    "missed": t.missed,
                    "executions": t.executions,
                    "status": t.status,
                    "identical": t.identical,
                    "differences": t.differences[:5],
                    "reruns": t.reruns,
                    "redone_in_flight": t.redone,
                    "calls_remade": t.calls_remade,
                    "integrity": t.integrity,
                    "error": t.error,
                }
                for t in self.trials
            ],
        }


def available_jobs() -> list[str]:
    """Job commands the CLI has now (the crash trials drive the CLI, like a user)."""
    import typer.main

    from phasefarm.cli import app

    group: Any = typer.main.get_command(app)
    return [name for name in ("website", "demo") if name in group.commands]


def source_fingerprint() -> str:
    """sha256 over phasefarm's own files: a bench whose code changes half-way means nothing."""
    import phasefarm

    root = Path(phasefarm.__file__).parent
    digest = hashlib.sha256()
    for path, sha in sorted(tree_hashes(root).items()):
        if "__pycache__" not in path:
            digest.update(f"{path}\0{sha}\n".encode())
    return digest.hexdigest()


def tree_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def differences(expected: dict[str, str], got: dict[str, str]) -> list[str]:
    out = [f"missing {p}" for p in sorted(expected.keys() - got.keys())]
    out += [f"extra {p}" for p in sorted(got.keys() - expected.keys())]
    out += [f"differs {p}" for p in sorted(expected.keys() & got.keys()) if expected[p] != got[p]]
    return out


def integrity(store: Path) -> str:
    if not store.exists():
        return "ok"  # killed before the store was created: nothing to corrupt
    conn = sqlite3.connect(store, timeout=30)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)
    except sqlite3.DatabaseError as exc:
        return f"error: {exc}"
    finally:
        conn.close()


@dataclass(frozen=True)
class _Snapshot:
    """What the store says is finished, taken right before a resume."""

    last_seq: int
    succeeded: dict[str, tuple[Any, ...]]  # key -> (started, finished, attempts, input_hash)


def snapshot_store(store: Path, run_id: str) -> _Snapshot | None:
    if not store.exists():
        return None
    conn = sqlite3.connect(store, timeout=30)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "runs" not in tables:
            return None
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            return None
        row = conn.execute("SELECT max(seq) FROM events WHERE run = ?", (run_id,)).fetchone()
        rows = conn.execute(
            "SELECT key, started, finished, attempts, input_hash FROM phases"
            " WHERE run = ? AND status = 'succeeded' AND input_hash IS NOT NULL",
            (run_id,),
        ).fetchall()
    finally:
        conn.close()
    return _Snapshot(
        last_seq=-1 if row[0] is None else int(row[0]),
        succeeded={key: tuple(rest) for key, *rest in rows},
    )


def count_reruns(
    store: Path, run_id: str, snapshots: list[_Snapshot]
) -> tuple[list[str], int, list[str]]:
    """Keys re-run after being recorded succeeded, provider calls they made again, and keys
    that were in flight at a kill (started, no succeeded record) and ran again."""
    conn = sqlite3.connect(store, timeout=30)
    try:
        events = [
            json.loads(text)
            for (text,) in conn.execute(
                "SELECT json FROM events WHERE run = ? ORDER BY seq", (run_id,)
            )
        ]
        final = {
            key: tuple(rest)
            for key, *rest in conn.execute(
                "SELECT key, started, finished, attempts, input_hash FROM phases WHERE run = ?",
                (run_id,),
            )
        }
    finally:
        conn.close()
    reruns: list[str] = []
    redone: list[str] = []
    calls = 0
    for index, snap in enumerate(snapshots):
        before = {
            e.get("phase")
            for e in events
            if e["seq"] <= snap.last_seq
            and e["kind"] == "phase.started"
            and "items" not in (e.get("data") or {})
        }
        until = snapshots[index + 1].last_seq if index + 1 < len(snapshots) else None
        window = [
            e for e in events if e["seq"] > snap.last_seq and (until is None or e["seq"] <= until)
        ]
        seen: set[str] = set()
        again: set[str] = set()
        for event in window:
            key = event.get("phase")
            if key not in snap.succeeded:
                if event["kind"] == "phase.started" and key in before:
                    again.add(key)
                continue
            data = event.get("data") or {}
            if event["kind"] == "phase.started" and "items" not in data:
                seen.add(key)
            elif event["kind"] == "usage":
                calls += int(data.get("calls", 1))
                seen.add(key)
        # A rewritten record is a re-run even if the killed process lost its events.
        later = snapshots[index + 1].succeeded if index + 1 < len(snapshots) else final
        for key, record in snap.succeeded.items():
            if key in later and later[key] != record:
                seen.add(key)
        reruns += sorted(seen)
        redone += sorted(again)
    return reruns, calls, redone


def _command(job: str, brief: str, out: Path, store: Path, run_id: str, scale: float) -> list[str]:
    return [
        sys.executable,
        "-m",
        "phasefarm",
        job,
        brief,
        "--out",
        str(out),
        "--store",
        f"sqlite:///{store}",
        "--run-id",
        run_id,
        "--time-scale",
        str(scale),
        "--json",
    ]


def _resume_command(store: Path, run_id: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "phasefarm",
        "resume",
        run_id,
        "--store",
        f"sqlite:///{store}",
        "--json",
    ]


def _run_to_end(cmd: list[str], cwd: Path) -> tuple[int, str, float]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - started


def _executing(store: Path, run_id: str, pid: int) -> bool:
    """True once process `pid` holds the run: it has opened the store and started executing."""
    if not store.exists():
        return False
    try:
        conn = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True, timeout=1)
    except sqlite3.Error:
        return False
    try:
        row = conn.execute("SELECT lock FROM runs WHERE id = ?", (run_id,)).fetchone()
    except sqlite3.Error:
        return False  # not created yet, or mid-migration
    finally:
        conn.close()
    if row is None or not row[0]:
        return False
    try:
        return bool(json.loads(row[0]).get("pid") == pid)
    except (ValueError, AttributeError):
        return False


@dataclass(frozen=True)
class _Kill:
    """When to kill: `delay` s after the process starts executing the run (`during_run`), or
    after it was spawned (start-up: interpreter, imports, opening the store)."""

    during_run: bool
    delay: float

    def label(self) -> str:
        return f"{self.delay:.2f}" if self.during_run else f"s{self.delay:.2f}"


def _run_until(
    cmd: list[str], cwd: Path, kill: _Kill | None, store: Path, run_id: str
) -> tuple[int | None, str]:
    """Run `cmd`; SIGKILL it as `kill` says if it is still running. (exit code or None)"""
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            if kill is None:
                proc.wait(timeout=600)
            else:
                if kill.during_run:
                    deadline = time.monotonic() + 600  # a process that never starts the run
                    while proc.poll() is None and not _executing(store, run_id, proc.pid):
                        if time.monotonic() > deadline:
                            raise subprocess.TimeoutExpired(cmd, 600)
                        time.sleep(0.005)
                proc.wait(timeout=kill.delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return None, ""
        proc.wait()
        log.seek(0)
        return proc.returncode, log.read()


def _baseline(
    job: str, brief: str, scale: float, root: Path, name: str
) -> tuple[dict[str, str], float, float, str]:
    out, store = root / f"{name}-out", root / f"{name}.sqlite3"
    code, text, wall = _run_to_end(_command(job, brief, out, store, name, scale), root)
    if code != 0:
        raise RuntimeError(f"the uninterrupted {job} run failed (exit {code}): {text[-2000:]}")
    summary = _last_json(text)
    return tree_hashes(out), wall, float(summary.get("elapsed_s", 0.0)), summary.get("status", "")


def _trial(
    number: int,
    *,
    job: str,
    brief: str,
    scale: float,
    root: Path,
    rng: random.Random,
    expected: dict[str, str],
    expected_status: str,
    startup: float,
    run_time: float,
    max_kills: int,
    startup_share: float,
) -> Trial:
    trial = Trial(number)
    run_id = f"crash-{number}"
    out, store = root / f"{run_id}-out", root / f"{run_id}.sqlite3"
    started = time.perf_counter()
    snapshots: list[_Snapshot] = []
    resuming = False
    latest = run_time
    code: int | None = None
    text = ""
    while trial.executions < max_kills + 5:
        cmd = (
            _resume_command(store, run_id)
            if resuming
            else _command(job, brief, out, store, run_id, scale)
        )
        # The first execution is always killed; later ones half the time, up to max_kills.
        # Most kills land while the run executes, some during start-up.
        plan: _Kill | None = None
        if len(trial.kills) < max_kills and (not trial.kills or rng.random() < 0.5):
            if rng.random() < startup_share:
                plan = _Kill(False, rng.uniform(0.0, startup))
            else:
                plan = _Kill(True, rng.uniform(0.0, latest))
        trial.executions += 1
        code, text = _run_until(cmd, root, plan, store, run_id)
        if code is not None and plan is not None and not trial.kills and trial.missed < 10:
            # It finished before the first kill: not a crash trial yet. Start over, clean.
            trial.missed += 1
            trial.executions = trial.restarts = 0
            latest = max(0.01, plan.delay * 0.8)  # it was too late: aim earlier
            _remove_run(out, store)
            continue
        if code is not None:
            if code == 2 and "unknown run id" in text and snapshot_store(store, run_id) is None:
                trial.restarts += 1  # killed before the run was recorded: start it again
                resuming = False
                continue
            break
        assert plan is not None
        trial.kills.append(plan)
        trial.integrity.append(integrity(store))
        snap = snapshot_store(store, run_id)
        trial.done_at_kill.append(0 if snap is None else len(snap.succeeded))
        if snap is None:  # killed before the run was recorded: start it again
            trial.restarts += 1
            resuming = False
            continue
        snapshots.append(snap)
        resuming = True
    trial.wall_s = time.perf_counter() - started
    if code not in (0, 1):
        trial.error = f"exit {code}: {text.strip()[-300:]}"
    summary = _last_json(text)
    trial.status = str(summary.get("status", "?"))
    trial.integrity.append(integrity(store))
    got = tree_hashes(out)
    trial.differences = differences(expected, got)
    trial.identical = not trial.differences and trial.status == expected_status
    if snapshots and store.exists():
        trial.reruns, trial.calls_remade, trial.redone = count_reruns(store, run_id, snapshots)
    return trial


def _remove_run(out: Path, store: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)


def _last_json(text: str) -> dict[str, Any]:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                return data
    return {}


def run_trials(
    *,
    trials: int = 20,
    job: str | None = None,
    time_scale: float = 0.01,
    seed: int = 0,
    max_kills: int = 3,
    brief: str = BRIEF,
    workdir: Path | None = None,
    progress: Any = None,
    check_determinism: bool = True,
    startup_share: float = 0.15,
) -> CrashReport:
    """Run `trials` crash trials of `job` (default: website if the CLI has it, else demo)."""
    jobs = available_jobs()
    if job is None:
        job = jobs[0]
    elif job not in jobs:
        raise ValueError(f"job {job!r} is not a command of this phasefarm (have {jobs})")
    own = workdir is None
    root = Path(tempfile.mkdtemp(prefix="phasefarm-crash-")) if workdir is None else workdir
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    fingerprint = source_fingerprint()
    try:
        expected, wall, elapsed, status = _baseline(job, brief, time_scale, root, "baseline")
        again = expected
        if check_determinism:  # two clean runs must agree, or "identical" would mean nothing
            again, _, _, _ = _baseline(job, brief, time_scale, root, "baseline2")
        startup = max(0.05, wall - elapsed)
        results = []
        for number in range(1, trials + 1):
            result = _trial(
                number,
                job=job,
                brief=brief,
                scale=time_scale,
                root=root,
                rng=rng,
                expected=expected,
                expected_status=status,
                startup=startup,
                run_time=max(0.05, elapsed * 1.1),
                max_kills=max_kills,
                startup_share=startup_share,
            )
            results.append(result)
            if progress is not None:
                progress(result)
        return CrashReport(
            job=job,
            time_scale=time_scale,
            seed=seed,
            baseline_files=len(expected),
            baseline_wall_s=wall,
            baseline_deterministic=again == expected,
            trials=results,
            source_changed=source_fingerprint() != fingerprint,
        )
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)


def print_report(report: CrashReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(110, Console().width))
    table = Table(
        title=(
            f"crash trials: {report.job}, time scale {report.time_scale}, seed {report.seed}, "
            f"{report.baseline_files} output files"
        ),
        title_justify="left",
    )
    for name in (
        "trial",
        "kills at (s)",
        "done at kill",
        "runs",
        "status",
        "identical",
        "re-runs",
        "re-done in flight",
        "calls re-made",
        "integrity",
    ):
        table.add_column(
            name, justify="left" if name in ("kills at (s)", "done at kill", "status") else "right"
        )
    for t in report.trials:
        table.add_row(
            str(t.number),
            " ".join(k.label() for k in t.kills),
            " ".join(str(d) for d in t.done_at_kill),
            str(t.executions) + (f" ({t.restarts} restart)" if t.restarts else ""),
            t.status if t.error is None else f"{t.status} [{t.error[:40]}]",
            "yes" if t.identical else f"NO ({len(t.differences)} files)",
            str(len(t.reruns)) + (f" {','.join(t.reruns[:3])}" if t.reruns else ""),
            str(len(t.redone)),
            str(t.calls_remade),
            "ok" if not t.corrupt else "CORRUPT",
        )
    console.print(table)
    for t in report.trials:
        if t.differences:
            console.print(f"trial {t.number}: " + ", ".join(t.differences[:6]), highlight=False)
        if t.error:
            console.print(f"trial {t.number}: {t.error}", highlight=False)
    if report.source_changed:
        console.print("phasefarm's source changed during the bench: run it again", style="red")
    done = [d for t in report.trials for d in t.done_at_kill]
    console.print(
        f"trials {len(report.trials)}, kills {report.kills} "
        f"(phases already done at a kill: median {statistics.median(done) if done else 0:g}, "
        f"max {max(done, default=0)}), baseline deterministic: "
        f"{'yes' if report.baseline_deterministic else 'NO'}\n"
        f"outputs byte-identical to an uninterrupted run: {report.identical}/{len(report.trials)}\n"
        f"completed phases re-run: {report.reruns}; provider calls re-made: "
        f"{report.calls_remade}\nphases re-done because they were in flight at a kill: "
        f"{report.redone} (max {max((len(t.redone) for t in report.trials), default=0)} "
        f"in a trial)\ncorrupt stores: {report.corrupt}\n" + ("PASS" if report.ok else "FAIL"),
        highlight=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="bench/crash.py", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--job", choices=["website", "demo"], default=None)
    parser.add_argument("--time-scale", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CRASH_SEED", "0")))
    parser.add_argument("--max-kills", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)

    def progress(t: Trial) -> None:
        if not args.json:
            print(
                f"trial {t.number}: kills {len(t.kills)}, {t.status}, "
                f"identical {t.identical}, re-runs {len(t.reruns)}",
                file=sys.stderr,
            )

    report = run_trials(
        trials=args.trials,
        job=args.job,
        time_scale=args.time_scale,
        seed=args.seed,
        max_kills=args.max_kills,
        progress=progress,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(report)
    return 0 if report.ok else 1
