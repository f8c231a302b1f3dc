"""The reliability report: fault trials against a real OpenAI-compatible server, kill -9 trials.

Fault trials run `phasefarm website --provider openai` in a subprocess against the in-package
fake server (`phasefarm.testing.fake_openai`) injecting seeded faults (503s, connections
dropped mid-answer, 429s with Retry-After; at most `max_in_a_row` in a row per call, so a
client with enough retries always gets through). Counted by the server, not by the client.
Kill -9 trials are `phasefarm.benchmarks.crash`'s (SIGKILL at random moments, resume, compare
with an uninterrupted run). Targets: no phase lost to a fault, no call made again after a kill,
every kill trial byte-identical, no corrupt store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phasefarm.benchmarks import crash

__all__ = [
    "FaultTrial",
    "ReliabilityReport",
    "fault_trial",
    "main",
    "print_report",
    "run",
    "website_args",
]

KEY = "sk-reliability-bench-0001"
RATES = {"transient_rate": 0.15, "reset_rate": 0.10, "rate_limited_rate": 0.05}


@dataclass(frozen=True)
class FaultTrial:
    seed: int
    exit_code: int
    phases: int
    lost: list[str]  # phases that did not succeed
    faults: dict[str, int]
    requests: int


@dataclass
class ReliabilityReport:
    fault_trials: list[FaultTrial]
    kills: crash.CrashReport | None
    rates: dict[str, float] = field(default_factory=lambda: dict(RATES))

    @property
    def faults(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for trial in self.fault_trials:
            total.update(trial.faults)
        return dict(sorted(total.items()))

    @property
    def phases_lost(self) -> int:
        return sum(len(t.lost) for t in self.fault_trials)

    @property
    def ok(self) -> bool:
        faults_ok = self.phases_lost == 0 and all(t.exit_code == 0 for t in self.fault_trials)
        return faults_ok and (self.kills is None or self.kills.ok)

    def to_dict(self) -> dict[str, Any]:
        kills = self.kills
        return {
            "fault_trials": len(self.fault_trials),
            "fault_rates": self.rates,
            "faults_injected": self.faults,
            "requests": sum(t.requests for t in self.fault_trials),
            "phases": sum(t.phases for t in self.fault_trials),
            "phases_lost": self.phases_lost,
            "kill_trials": len(kills.trials) if kills else 0,
            "kills": kills.kills if kills else 0,
            "identical_after_kills": kills.identical if kills else 0,
            "phases_rerun_after_kill": kills.reruns if kills else 0,
            "calls_made_again_after_kill": kills.calls_remade if kills else 0,
            "corrupt_stores": kills.corrupt if kills else 0,
            "ok": self.ok,
        }


def website_args(folder: Path, pages: int, images: int, brief: str = crash.BRIEF) -> list[str]:
    """`phasefarm website` on the openai provider into `folder`/site, store `folder`/runs.sqlite3
    (the server comes from OPENAI_BASE_URL)."""
    return [
        "website",
        brief,
        "--out",
        str(folder / "site"),
        "--provider",
        "openai",
        "--model",
        "fake-model",
        "--pages",
        str(pages),
        "--images",
        str(images),
        "--store",
        f"sqlite:///{folder / 'runs.sqlite3'}",
        "--json",
    ]


def fault_trial(seed: int, workdir: Path, *, pages: int = 2, images: int = 2) -> FaultTrial:
    """One website run in a subprocess against a fake server injecting seeded faults."""
    from phasefarm.testing.fake_openai import FakeOpenAI, Faults

    faults = Faults(**RATES, retry_after=0.05, max_in_a_row=2, seed=seed)
    folder = workdir / f"faults-{seed}"
    with FakeOpenAI(faults=faults) as server:
        env = {**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": server.url}
        command = [sys.executable, "-m", "phasefarm", *website_args(folder, pages, images)]
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        counts, requests = server.fault_counts, len(server.requests)
    lines = done.stdout.strip().splitlines()
    summary = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    phases = {name: p["status"] for name, p in summary.get("phases", {}).items()}
    lost = sorted(n for n, s in phases.items() if s != "succeeded") or (
        [] if phases else ["(no summary: " + done.stderr.strip()[-200:] + ")"]
    )
    return FaultTrial(seed, done.returncode, len(phases), lost, counts, requests)


def run(
    *,
    trials: int = 5,
    kill_trials: int = 5,
    seed: int = 0,
    time_scale: float = 0.01,
    progress: Callable[[str], None] | None = None,
) -> ReliabilityReport:
    """`trials` fault trials, then `kill_trials` kill -9 trials of the website job."""
    results = []
    with tempfile.TemporaryDirectory(prefix="phasefarm-reliability-") as root:
        for number in range(trials):
            trial = fault_trial(seed + number, Path(root))
            results.append(trial)
            if progress is not None:
                progress(f"fault trial {number + 1}: {trial.faults}, lost {len(trial.lost)}")
    kills = None
    if kill_trials > 0:
        kills = crash.run_trials(trials=kill_trials, time_scale=time_scale, seed=seed)
    return ReliabilityReport(results, kills)


def print_report(report: ReliabilityReport) -> None:
    from rich.console import Console
    from rich.table import Table

    data = report.to_dict()
    table = Table(title="reliability: website job", title_justify="left")
    table.add_column("measure", justify="left")
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    faults = ", ".join(f"{k} {v}" for k, v in data["faults_injected"].items()) or "none"
    rates = ", ".join(f"{k.removesuffix('_rate')} {v:.0%}" for k, v in report.rates.items())
    rows = [
        ("fault trials run", str(data["fault_trials"]), ""),
        ("fault rates per attempt", rates, ""),
        ("faults injected (counted by the server)", faults, "> 0"),
        ("requests served", str(data["requests"]), ""),
        ("phases run", str(data["phases"]), ""),
        ("phases lost to faults", str(data["phases_lost"]), "0"),
        ("kill -9 trials", str(data["kill_trials"]), ""),
        ("kills", str(data["kills"]), ""),
        ("outputs identical after kills", f"{data['identical_after_kills']}", "all"),
        ("phases run again after a kill", str(data["phases_rerun_after_kill"]), "0"),
        ("calls made again after a kill", str(data["calls_made_again_after_kill"]), "0"),
        ("corrupt stores", str(data["corrupt_stores"]), "0"),
    ]
    for row in rows:
        table.add_row(*row)
    console = Console(width=max(100, Console().width))
    console.print(table)
    for trial in report.fault_trials:
        if trial.lost:
            console.print(f"seed {trial.seed}: lost {', '.join(trial.lost)}", highlight=False)
    kills = report.kills
    if kills is not None and kills.source_changed:
        console.print("phasefarm's source changed during the kill trials: run again", style="red")
    if kills is not None and not kills.baseline_deterministic:
        console.print("two uninterrupted runs differed: kill trials mean nothing", style="red")
    console.print("PASS" if report.ok else "FAIL", highlight=False)


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="bench/reliability.py", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--trials", type=int, default=5, help="fault trials")
    parser.add_argument("--kill-trials", type=int, default=5, help="kill -9 trials")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-scale", type=float, default=0.01)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = run(
        trials=args.trials,
        kill_trials=args.kill_trials,
        seed=args.seed,
        time_scale=args.time_scale,
        progress=None if args.json else lambda line: print(line, file=sys.stderr),
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(report)
    return 0 if report.ok else 1
