"""What the `app`, `plan app` commands do, kept out of cli.py.

Option checks raise `UsageError` with one line (the CLI turns it into exit code 2) before a
store is opened, a folder made or a token spent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from phasefarm.errors import UsageError
from phasefarm.pipelines.app.gitrepo import enclosing_work_tree, git_available
from phasefarm.pipelines.app.profile import AppSettings
from phasefarm.pipelines.common import check_run_options
from phasefarm.pipelines.website.commands import check_out

__all__ = ["app_meta", "offline_plan", "preview_server", "print_plan", "progress_line"]


def progress_line(data: dict[str, Any]) -> str:
    """ "3/5 phases completed (1 failed, 1 skipped)" from an `app.progress` event."""
    line = f"{data.get('done', 0)}/{data.get('total', 0)} phases completed"
    apart = [f"{data[k]} {k}" for k in ("failed", "skipped") if data.get(k)]
    return line + (f" ({', '.join(apart)})" if apart else "")


@contextmanager
def preview_server(out: Path) -> Iterator[str]:
    """Serve DIR/preview on 127.0.0.1 on a free port while the job runs; prints the URL."""
    import sys

    from phasefarm.pipelines.app.deploy import PreviewServer

    with PreviewServer(out / "preview") as server:
        print(f"preview: {server.url}", file=sys.stderr, flush=True)
        yield server.url


def _check_git(out: Path) -> None:
    """Refuse a folder inside a git work tree: the app's history would mix with another's
    (or, for an app phasefarm built, with the run that built it: resume that one)."""
    if not git_available():
        raise UsageError("the app job needs git on the PATH: install git")
    top = enclosing_work_tree(out.absolute())
    if top is None:
        return
    if top.resolve() == out.absolute().resolve() and (out / ".git" / "phasefarm").is_dir():
        raise UsageError(
            f"--out {out} holds an app phasefarm built: continue it with `phasefarm resume "
            "RUN_ID` (see `phasefarm runs`) or choose another folder"
        )
    raise UsageError(
        f"--out {out} is inside the git work tree {top}, which is not an app of ours: "
        "choose a folder outside any git repository"
    )


def app_meta(
    *,
    brief: str,
    out: Path,
    force: bool,
    mode: str,
    provider: str,
    model: str | None,
    time_scale: float,
    phases: int,
    review_cycles: int,
    fixes: int,
    seed: int,
    max_tokens: int | None,
    max_cost: float | None,
    call_timeout: float = 300.0,
) -> dict[str, Any]:
    """Check the options of `phasefarm app` and return the run's meta (no secrets)."""
    check_run_options(
        what="app",
        brief=brief,
        provider=provider,
        time_scale=time_scale,
        max_tokens=max_tokens,
        max_cost=max_cost,
        call_timeout=call_timeout,
    )
    AppSettings(phases=phases, review_cycles=review_cycles, fixes=fixes, mode=mode)
    _check_git(out)
    folder = check_out(out, force=force)
    return {
        "out": str(folder),
        "phases": phases,
        "review_cycles": review_cycles,
        "fixes": fixes,
        "mode": mode,
        "provider": provider,
        "model": model,
        "time_scale": time_scale,
        "seed": seed,
        "max_tokens": max_tokens,
        "max_cost": max_cost,
        "call_timeout": call_timeout,
    }


def offline_plan(phases: int) -> dict[str, Any]:
    """Waves, critical path and seed-seconds per mode for the offline roadmap of `phases`."""
    from phasefarm.pipelines.app.job import plan_flow
    from phasefarm.pipelines.app.offline import offline_roadmap
    from phasefarm.pipelines.app.roadmap import Roadmap

    layout = offline_roadmap(phases)
    roadmap = Roadmap(tuple(n for n, _, _ in layout), tuple(tuple(f) for _, _, f in layout))
    plan = plan_flow(roadmap, "parallel").plan()
    estimates = {
        mode: plan_flow(roadmap, mode).plan().estimate(mode)
        for mode in ("sequential", "waves", "parallel")
    }
    return {
        "flow": "app",
        "phases": phases,
        "files": [list(f) for f in roadmap.files],
        "waves": plan.waves,
        "critical_path": plan.critical_path,
        "critical_path_s": round(plan.critical_path_s, 3),
        "estimates": {k: round(v, 3) for k, v in estimates.items()},
    }


def print_plan(settings: AppSettings, *, time_scale: float, as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    data = offline_plan(settings.phases)
    if as_json:
        print(json.dumps(data))
        return
    console = Console(width=max(100, Console().width))
    console.print(
        f"[bold]app[/bold]: {settings.phases} phases, "
        f"{sum(len(f) for f in data['files'])} file calls (the offline roadmap; a model's "
        "roadmap may differ)"
    )
    waves = Table(title="waves (levels of the parallel graph)", title_justify="left")
    waves.add_column("wave", justify="right")
    waves.add_column("phases")
    for n, names in enumerate(data["waves"], start=1):
        waves.add_row(str(n), ", ".join(names))
    console.print(waves)
    path = " → ".join(data["critical_path"])
    console.print(f"critical path: {path}  = {data['critical_path_s']:.1f} seed-s", highlight=False)
    modes = Table(title="estimated time per mode (scheduler simulated)", title_justify="left")
    for name in ("mode", "seed-s", "vs sequential", f"real s at --time-scale {time_scale}"):
        modes.add_column(name, justify="left" if name == "mode" else "right")
    sequential = data["estimates"]["sequential"]
    labels = {
        "sequential": "sequential (note 000's fallback)",
        "waves": "waves (note 000's plan)",
        "parallel": "parallel (pipelined, per file)",
    }
    for mode in ("sequential", "waves", "parallel"):
        seconds = data["estimates"][mode]
        modes.add_row(
            labels[mode],
            f"{seconds:.1f}",
            f"{sequential / seconds:.2f}x" if seconds else "-",
            f"{seconds * time_scale:.2f}",
        )
    console.print(modes)
