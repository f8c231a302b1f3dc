"""The app job in the three modes, on the seed latency profile, in one run.

Each mode builds the same app from the same brief with the offline provider sleeping
`seed-seconds x time_scale` per call, run as a user runs it: the default SQLite store on (in a
temporary folder) and a progress listener on every event. Measured: the run's wall time from
the first phase's start to the last phase's end, divided by the time scale. Beside it: `plan
app`'s estimate for the mode, the speed-up over sequential and over waves (note 000's plan), and
whether the three apps have the same git history (same commit ids).
Targets: parallel >= 5x sequential and >= 1.5x waves.

The default time scale is 0.1 (the sequential run alone takes 146 s): the job's real work per
phase (node --check, git, copying the preview) costs the same real time at any scale, so at
0.05 it weighs twice as much in seed-seconds.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from phasefarm.engine.events import Event
from phasefarm.pipelines.app.commands import offline_plan
from phasefarm.pipelines.app.job import build_flow, build_services
from phasefarm.pipelines.app.profile import DEFAULT_PHASES
from phasefarm.store.sqlite import SQLiteStore

__all__ = ["BRIEF", "ModeRun", "main", "print_table", "run_benchmark"]

BRIEF = "A booking app for a small barber shop in Porto: clients pick a slot, staff see the day"
MODES = ("sequential", "waves", "parallel")
TARGET_VS_SEQUENTIAL = 5.0
TARGET_VS_WAVES = 1.5


@dataclass(frozen=True)
class ModeRun:
    mode: str
    status: str
    measured_s: float
    planned_s: float
    vs_sequential: float
    vs_waves: float
    head: str  # the last commit id
    progress_events: int


def run_benchmark(*, time_scale: float = 0.1, phases: int = DEFAULT_PHASES) -> list[ModeRun]:
    if time_scale <= 0:
        raise ValueError("the benchmark needs a time scale > 0 to measure seed-seconds")
    planned = offline_plan(phases)["estimates"]
    measured: dict[str, tuple[str, float, str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="phasefarm-bench-app-") as tmp:
        store = SQLiteStore(Path(tmp) / "runs.sqlite3")
        try:
            for mode in MODES:
                meta: dict[str, Any] = {
                    "out": str(Path(tmp) / mode),
                    "phases": phases,
                    "mode": mode,
                    "provider": "offline",
                    "time_scale": time_scale,
                    "job": "app",
                }
                services = build_services(meta)
                seen: list[Event] = []

                def listen(event: Event, seen: list[Event] = seen) -> None:
                    if event.kind == "app.progress":
                        seen.append(event)

                result = build_flow(services["settings"]).run_sync(
                    inputs={"brief": BRIEF},
                    services=services,
                    mode=mode,
                    store=store,
                    meta=meta,
                    on_event=listen,
                )
                head = services["app"].git.head() or ""
                measured[mode] = (result.status, result.elapsed_s / time_scale, head, len(seen))
        finally:
            store.close()
    runs = []
    for mode in MODES:
        status, seconds, head, events = measured[mode]
        runs.append(
            ModeRun(
                mode=mode,
                status=status,
                measured_s=round(seconds, 1),
                planned_s=round(planned[mode], 1),
                vs_sequential=round(measured["sequential"][1] / seconds, 2),
                vs_waves=round(measured["waves"][1] / seconds, 2),
                head=head[:12],
                progress_events=events,
            )
        )
    return runs


def targets_met(runs: list[ModeRun]) -> bool:
    parallel = next(r for r in runs if r.mode == "parallel")
    return (
        all(r.status == "succeeded" for r in runs)
        and parallel.vs_sequential >= TARGET_VS_SEQUENTIAL
        and parallel.vs_waves >= TARGET_VS_WAVES
        and len({r.head for r in runs}) == 1
    )


def print_table(runs: list[ModeRun], *, time_scale: float) -> None:
    print(f"app job, {DEFAULT_PHASES} phases, time scale {time_scale}, seed-seconds")
    print(
        "| mode | measured | planned | vs sequential | vs waves (note 000's plan) | same commits |"
    )
    print("|---|---|---|---|---|---|")
    heads = {r.head for r in runs}
    for r in runs:
        print(
            f"| {r.mode} | {r.measured_s:.1f} | {r.planned_s:.1f} | {r.vs_sequential:.2f}x | "
            f"{r.vs_waves:.2f}x | {'yes' if len(heads) == 1 else r.head} |"
        )
    met = "met" if targets_met(runs) else "MISSED"
    print(
        f"targets: parallel >= {TARGET_VS_SEQUENTIAL}x sequential and >= {TARGET_VS_WAVES}x "
        f"waves, every run succeeded with the same commits: {met}"
    )


def main(*, time_scale: float = 0.1, as_json: bool = False) -> int:
    runs = run_benchmark(time_scale=time_scale)
    if as_json:
        for run in runs:
            print(json.dumps(asdict(run)))
    else:
        print_table(runs, time_scale=time_scale)
    return 0 if targets_met(runs) else 1
