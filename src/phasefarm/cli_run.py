"""Running a job from the command line: one-line errors, live progress, the JSON summary.

`run_job` is what `phasefarm website|app|demo|resume` end in: it opens the store, runs (or
resumes) the flow with the terminal view attached, prints the summary and exits 0 / 1 / 130.
"""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:
    from phasefarm.engine.flow import Flow
    from phasefarm.engine.result import RunResult

__all__ = ["NO_STORE", "fail", "run_job", "summary"]

# `--store none`: run without a checkpoint store (nothing written, nothing to resume); a file
# named "none" is still reachable as ./none
NO_STORE = "none"


def fail(message: str) -> typer.Exit:
    """Print one line naming the problem and return the exit to raise (code 2)."""
    typer.echo(f"phasefarm: error: {message}", err=True)
    return typer.Exit(2)


def summary(result: RunResult, *, time_scale: float | None, out: Path | None) -> dict[str, Any]:
    """The one JSON object `--json` prints last (DESIGN.md's contract)."""
    seed = result.elapsed_s / time_scale if time_scale else None
    return {
        "run_id": result.run_id,
        "status": result.status,
        "elapsed_s": round(result.elapsed_s, 4),
        "seed_elapsed_s": None if seed is None else round(seed, 2),
        "phases": {
            key: {
                "status": r.status,
                "started": None if r.started is None else round(r.started, 4),
                "finished": None if r.finished is None else round(r.finished, 4),
                "attempts": r.attempts,
                **({"error": r.error} if r.status == "failed" else {}),
            }
            for key, r in result.phases.items()
        },
        "tokens": int(result.usage.get("tokens", 0)),
        "cost": round(result.usage.get("cost", 0.0), 6),
        "out": None if out is None else str(out),
        "stop_reason": result.stop_reason,
        # calls whose answer came without usage (their tokens are counted from the text)
        "usage_estimated_calls": int(result.usage.get("estimated", 0)),
    }


def run_job(
    flow: Flow,
    *,
    job: str,
    inputs: dict[str, Any],
    services: dict[str, Any],
    mode: str,
    store_url: str | None,
    run_id: str | None,
    meta: dict[str, Any],
    as_json: bool,
    out: Path | None,
    resume: bool = False,
    retry_failed: bool = False,
) -> NoReturn:
    """Run (or resume) a job with live progress and exit 0 / 1 like DESIGN.md says."""
    from functools import partial

    from phasefarm.backends import backend_for
    from phasefarm.engine.handle import resumed_run, run_blocking
    from phasefarm.engine.run import Run
    from phasefarm.pipelines import job_services
    from phasefarm.store.url import open_store

    meta = {**meta, "job": job}
    backend = backend_for(meta, partial(job_services, job, meta), flow.pools)
    without_store = store_url is not None and store_url.strip().lower() == NO_STORE
    store = None if without_store else open_store(store_url)
    from phasefarm.progress import LiveProgress

    reporter = LiveProgress(enabled=not as_json)

    async def close_services() -> None:
        for service in services.values():
            close = getattr(service, "aclose", None)
            if callable(close):
                await close()

    def make_run() -> Run:
        if resume:
            assert run_id is not None and store is not None
            return resumed_run(
                flow,
                run_id,
                store=store,
                services=services,
                retry_failed=retry_failed,
                on_event=reporter,
                backend=backend,
            )
        return Run(
            flow,
            inputs=inputs,
            mode=mode,
            services=services,
            store=store,
            run_id=run_id,
            on_event=reporter,
            meta=meta,
            backend=backend,
        )

    # Start-up objects (modules, flow, services) outlive the run: frozen, a full collection
    # during the run does not walk them (the website job: an 18-27 ms pause gone). Unfrozen
    # after it, so a process that runs several jobs (tests) can still collect them.
    gc.freeze()
    try:
        with reporter:
            result = run_blocking(make_run, close_services)
    finally:
        gc.unfreeze()
        if store is not None:
            store.close()
        if backend is not None:
            backend.close()
    # seed-seconds only mean something where phases sleep a seed profile: a real model's
    # wall time divided by the scale would be a made-up number
    offline = meta.get("provider", "offline") == "offline"
    time_scale = meta.get("time_scale") if offline else None
    report = summary(result, time_scale=float(time_scale) if time_scale else None, out=out)
    report["notes"] = list(getattr(services.get("llm"), "notes", []))
    counts = result.counts()
    if as_json:
        typer.echo(json.dumps(report))
    else:
        parts = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        line = f"{result.status}: {parts} in {result.elapsed_s:.2f} s"
        if report["seed_elapsed_s"] is not None:
            line += f" ({report['seed_elapsed_s']} seed-s)"
        if result.usage.get("tokens"):
            line += f", {report['tokens']} tokens, ${report['cost']:.4f}"
            if offline:
                line += " (what a real model would charge; the offline provider spent nothing)"
        typer.echo(line)
        for note in report["notes"]:
            typer.echo(f"note: {note}")
        if result.status == "succeeded":
            typer.echo(f"run: {result.run_id}")
            if out is not None:
                typer.echo(f"output: {out}")
    if result.status != "succeeded":
        for key in result.failed:
            typer.echo(f"  failed {key}: {result.phases[key].error}", err=True)
        if result.stop_reason:
            typer.echo(f"stopped: {result.stop_reason}", err=True)
        hint = f"resume with: phasefarm resume {result.run_id}"
        if result.failed:
            hint += " --retry-failed (runs the failed phases again, once their cause is fixed)"
        if store is None:
            hint = "nothing to resume: the run had no store (--store none)"
        typer.echo(hint, err=True)
    if result.stop_reason == "interrupted":
        raise typer.Exit(130)
    raise typer.Exit(0 if result.status == "succeeded" else 1)
