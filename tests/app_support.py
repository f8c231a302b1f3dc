"""Shared helpers of the app tests: build a real app with the offline provider."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from phasefarm import RunResult
from phasefarm.engine.events import Event
from phasefarm.llm import Responder
from phasefarm.pipelines.app.job import build_flow, build_services

BRIEF = "A booking app for a small barber shop in Porto"


def build_app(
    out: Path,
    *,
    brief: str = BRIEF,
    mode: str = "parallel",
    phases: int = 5,
    responders: dict[str, Responder] | None = None,
    events: list[Event] | None = None,
    llm: Any = None,
    **meta: Any,
) -> tuple[RunResult, dict[str, Any]]:
    """Run the app flow at time scale 0 into `out`: (result, services)."""
    run_meta = {"out": str(out), "phases": phases, "time_scale": 0.0, "mode": mode, **meta}
    services = build_services(run_meta, responders)
    if llm is not None:
        services["llm"] = llm(services["llm"])
    flow = build_flow(services["settings"])
    result = flow.run_sync(
        inputs={"brief": brief},
        services=services,
        mode=mode,
        on_event=events.append if events is not None else None,
    )
    return result, services


def git(out: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=out, capture_output=True, text=True, check=True)
    return done.stdout


def history(out: Path) -> list[str]:
    """Subjects of the commits on main, oldest first."""
    return git(out, "log", "--reverse", "--format=%s", "main").splitlines()


def failures(result: RunResult) -> dict[str, str | None]:
    return {k: p.error for k, p in result.phases.items() if p.status != "succeeded"}
