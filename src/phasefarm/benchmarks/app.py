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

__all__ = ["BRIEF", "ModeRun", "bench_section", "main", "missed", "run_benchmark", "section"]

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


def missed(runs: list[ModeRun]) -> list[str]:
    """The targets not met, one line each (empty when all are met)."""
    out = [f"app {r.mode}: {r.status}" for r in runs if r.status != "succeeded"]
    parallel = next(r for r in runs if r.mode == "parallel")
    if parallel.vs_sequential < TARGET_VS_SEQUENTIAL:
        out.append(
            f"app parallel {parallel.vs_sequential:.2f}x sequential < {TARGET_VS_SEQUENTIAL:g}x"
        )
    if parallel.vs_waves < TARGET_VS_WAVES:
        out.append(f"app parallel {parallel.vs_waves:.2f}x waves < {TARGET_VS_WAVES:g}x")
    if len({r.head for r in runs}) != 1:
        out.append("app: the modes made different commits")
    return out


def section(runs: list[ModeRun], *, time_scale: float, phases: int, command: str) -> dict[str, Any]:
    """The report section (see `benchmarks.report`)."""
    same = len({r.head for r in runs}) == 1
    rows = [
        [
            r.mode,
            f"{r.measured_s:.1f}",
            f"{r.planned_s:.1f}",
            f"{r.vs_sequential:.2f}x",
            f"{r.vs_waves:.2f}x",
            "yes" if same else r.head,
            str(r.progress_events),
        ]
        for r in runs
    ]
    return {
        "name": "app",
        "title": f"App job, {phases} phases, seed profile, time scale {time_scale} (seed-seconds)",
        "command": command.strip(),
        "columns": [
            "mode",
            "measured, SQLite store + listener",
            "planned (`plan app`)",
            "vs sequential",
            "vs waves (note 000's plan)",
            "same commits",
            "progress events",
        ],
        "rows": rows,
        "notes": [
            "Each mode builds the same app from the same brief in-process (`flow.run_sync`) "
            "with the default SQLite store (one file in a temporary folder) and a progress "
            "listener on every event; measured from the first phase's start to the last "
            "phase's end, divided by the time scale.",
            "Seed profile (the offline provider's sleep, and the plan's): blueprint 30; "
            "a concept per phase 30, one after another; each file 60 (4 files a phase in "
            "the offline roadmap) and a check of 10 per phase; review 30; no fix calls "
            "(the offline files pass validation).",
            "Waves = note 000's plan: all concepts first, then the phases one after another "
            "as wholes. Parallel: phase i's files start when concept i is ready, files "
            "serialized per file, not per phase.",
            "Not in the profile, so measured > planned: the job's real work (node --check, "
            "git commits, the preview copy) costs the same real time at any scale, so it "
            "weighs more in seed-seconds the smaller the scale (--quick uses 0.02).",
            f"Targets: parallel >= {TARGET_VS_SEQUENTIAL:g}x sequential and >= "
            f"{TARGET_VS_WAVES:g}x waves, every run succeeded, the same commit ids in all "
            f"modes: {'yes' if same else 'NO'}.",
        ],
        "missed": missed(runs),
        "data": {"time_scale": time_scale, "phases": phases, "runs": [asdict(r) for r in runs]},
    }


def bench_section(command: str, quick: bool) -> dict[str, Any]:
    """The section `phasefarm bench` puts in its table, JSON file and README."""
    time_scale = 0.02 if quick else 0.1
    runs = run_benchmark(time_scale=time_scale)
    return section(
        runs,
        time_scale=time_scale,
        phases=DEFAULT_PHASES,
        command=f"{command} --time-scale {time_scale}",
    )


def main(*, time_scale: float = 0.1, as_json: bool = False) -> int:
    from phasefarm.benchmarks.report import print_section

    runs = run_benchmark(time_scale=time_scale)
    if as_json:
        for run in runs:
            print(json.dumps(asdict(run)))
    else:
        print_section(
            section(
                runs,
                time_scale=time_scale,
                phases=DEFAULT_PHASES,
                command=f"phasefarm bench app --time-scale {time_scale}",
            )
        )
    return 1 if missed(runs) else 0
