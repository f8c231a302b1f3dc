"""The `phasefarm` command line: typer app, rich progress, one-line errors.

Every command lets `UsageError` (and its subclasses GraphError, StoreRefused) rise; `main()` turns
it into one line on stderr and exit code 2, with no traceback; a `StoreError` (the store failed
during a run) is one line and exit code 1. Exit codes: 0 all phases succeeded, 1 the run
finished with failures or its store failed, 2 bad usage or bad input, 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from phasefarm.errors import PhasefarmError, StoreError, UsageError
from phasefarm.options import check_cap, check_non_negative

if TYPE_CHECKING:
    from phasefarm.engine.flow import Flow
    from phasefarm.engine.result import RunResult

app = typer.Typer(
    name="phasefarm",
    help="Run multi-phase AI generation jobs as a dependency graph.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
plan_app = typer.Typer(help="Show waves, critical path and estimated time before spending a token.")
bench_app = typer.Typer(
    help="Benchmarks: side-by-side comparisons in one run, printed as a table. "
    "Without a subcommand: every workload, one process each (see --help).",
    invoke_without_command=True,
)
app.add_typer(plan_app, name="plan")
app.add_typer(bench_app, name="bench")


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
    from phasefarm.engine.handle import resumed_run, run_blocking
    from phasefarm.engine.run import Run
    from phasefarm.store.url import open_store

    store = open_store(store_url)
    meta = {**meta, "job": job}
    from phasefarm.progress import LiveProgress

    reporter = LiveProgress(enabled=not as_json)

    async def close_services() -> None:
        for service in services.values():
            close = getattr(service, "aclose", None)
            if callable(close):
                await close()

    def make_run() -> Run:
        if resume:
            assert run_id is not None
            return resumed_run(
                flow,
                run_id,
                store=store,
                services=services,
                retry_failed=retry_failed,
                on_event=reporter,
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
        )

    try:
        with reporter:
            result = run_blocking(make_run, close_services)
    finally:
        store.close()
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
        typer.echo(hint, err=True)
    if result.stop_reason == "interrupted":
        raise typer.Exit(130)
    raise typer.Exit(0 if result.status == "succeeded" else 1)


@app.command()
def demo(
    brief: str = typer.Argument("a field guide to city birds", help="What to write about."),
    out: Path | None = typer.Option(None, "--out", help="Folder for page.md."),
    mode: str = typer.Option("parallel", help="parallel | waves | sequential"),
    time_scale: float = typer.Option(0.05, "--time-scale", help="Real seconds per seed-second."),
    sections: int = typer.Option(6, help="Sections written in parallel."),
    store: str | None = typer.Option(None, "--store", help="Checkpoint store URL."),
    run_id: str | None = typer.Option(None, "--run-id"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary last."),
) -> None:
    """A model-free flow that shows parallel phases, pools and live progress."""
    from phasefarm.pipelines.demo import prepare

    if not brief.strip():
        raise fail("the brief is empty: say what to write about")
    if not 1 <= sections <= 100:
        raise fail(f"--sections must be between 1 and 100, got {sections}")
    check_non_negative("--time-scale", time_scale)
    if out is not None and out.exists() and not out.is_dir():
        raise fail(f"--out {out} exists and is not a folder")
    meta: dict[str, Any] = {
        "time_scale": time_scale,
        "sections": sections,
        "out": str(out.resolve()) if out else None,  # absolute: resume may run elsewhere
    }
    flow, services = prepare(meta)
    run_job(
        flow,
        job="demo",
        inputs={"brief": brief},
        services=services,
        mode=mode,
        store_url=store,
        run_id=run_id,
        meta=meta,
        as_json=as_json,
        out=out,
    )


@app.command("runs")
def runs_command(
    store: str | None = typer.Option(
        None, "--store", help="Store URL (default .phasefarm/runs.sqlite3)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per run instead."),
    check: bool = typer.Option(False, "--check", help="Check a SQLite store's file for damage."),
) -> None:
    """List the runs of a store, newest first: status, k/N phases done, elapsed, tokens, cost."""
    import json
    from dataclasses import asdict

    from rich.console import Console
    from rich.table import Table

    from phasefarm.store.url import open_store, store_path

    path = store_path(store)
    if path is not None and not path.exists():
        typer.echo(f"no runs (no store at {path})")
        return
    if check:
        from phasefarm.store.sqlite import check_file

        if path is None:
            raise fail("--check is for SQLite stores (Postgres: use its own tools)")
        verdict = check_file(path)
        if verdict != "ok":
            typer.echo(f"phasefarm: error: store {path} is damaged: {verdict[:500]}", err=True)
            raise typer.Exit(1)
        typer.echo(f"store {path}: ok (PRAGMA integrity_check)")
        return
    run_store = open_store(store, create=False)
    try:
        summaries = run_store.list_runs()
        # what each run was for and where it wrote, from its inputs and options
        described = {s.run_id: run_store.load_run(s.run_id) for s in summaries}
    finally:
        run_store.close()
    briefs = {k: str(r.inputs.get("brief", "")) for k, r in described.items()}
    outs = {k: str(r.meta.get("out") or "") for k, r in described.items()}
    if as_json:
        for summary in summaries:
            extra = {"brief": briefs[summary.run_id], "out": outs[summary.run_id] or None}
            typer.echo(json.dumps({**asdict(summary), **extra}))
        return
    if not summaries:
        typer.echo("no runs")
        return
    table = Table(title="runs", title_justify="left")
    for name in ("id", "flow", "status", "k/N", "elapsed", "tokens", "cost"):
        table.add_column(name, justify="right" if name not in ("id", "flow", "status") else "left")
    colors = {
        "succeeded": "green",
        "failed": "red",
        "cancelled": "yellow",
        "interrupted": "magenta",
    }
    for s in summaries:
        status = s.status + (f" ({s.stop_reason})" if s.stop_reason else "")
        color = colors.get(s.status)
        table.add_row(
            s.run_id,
            s.flow,
            f"[{color}]{status}[/{color}]" if color else status,
            f"{s.done}/{s.total}",
            "-" if s.elapsed_s is None else f"{s.elapsed_s:.1f}s",
            f"{s.tokens:,.0f}",
            f"${s.cost:.4f}",
        )
    console = Console(width=max(100, Console().width))
    console.print(table)
    for s in summaries:  # what each run was for, and where its output is
        what = _cut(briefs[s.run_id], 60) or "-"
        console.print(f"{s.run_id}: {what} → {outs[s.run_id] or '-'}", highlight=False)


def _rebuild_output(prepare: Any, stored: Any, meta: dict[str, Any], run_id: str) -> NoReturn:
    """A finished run whose output folder is gone: its job writes it again from the stored
    outputs (no model call), or we say it cannot (exit 1)."""
    rebuild = getattr(sys.modules[prepare.__module__], "rebuild_output", None)
    outputs = {k: p.output for k, p in stored.phases.items() if p.status == "succeeded"}
    try:
        if rebuild is None:
            raise KeyError("this job cannot rebuild its output")
        rebuild(outputs, meta)
    except (KeyError, PhasefarmError) as exc:
        typer.echo(
            f"phasefarm: error: run {run_id} succeeded, but its output folder {meta['out']} no "
            f"longer exists and cannot be written again ({exc}): start a new run",
            err=True,
        )
        raise typer.Exit(1) from None
    typer.echo(f"rebuilt {meta['out']} from run {run_id}'s stored outputs (no model call)")
    raise typer.Exit(0)


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@app.command("resume")
def resume_command(
    run_id: str = typer.Argument(..., help="The run to continue (see `phasefarm runs`)."),
    store: str | None = typer.Option(
        None, "--store", help="Store URL (default .phasefarm/runs.sqlite3)."
    ),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="Run failed phases again (their cause is fixed)."
    ),
    max_tokens: int | None = typer.Option(
        None, "--max-tokens", help="New token cap for the whole run, earlier executions included."
    ),
    max_cost: float | None = typer.Option(
        None, "--max-cost", help="New cost cap (USD) for the whole run, earlier runs included."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary last."),
) -> None:
    """Continue a run: phases that succeeded (inputs unchanged) are reused, the rest run."""
    from phasefarm.pipelines import load_job
    from phasefarm.store.url import open_store

    check_cap("--max-tokens", max_tokens)
    check_cap("--max-cost", max_cost)
    from phasefarm.store.base import usage_so_far

    run_store = open_store(store, create=False)
    try:
        stored = run_store.load_run(run_id)
        earlier = list(usage_so_far(stored, run_store.events(run_id)).values())
    finally:
        run_store.close()
    meta = dict(stored.meta)
    # The caps are for the whole run: the job's budget counts only this execution's calls, so it
    # gets what is left after what earlier executions spent (abandoned attempts included).
    spent_tokens = sum(totals.get("tokens", 0.0) for totals in earlier)
    spent_cost = sum(totals.get("cost", 0.0) for totals in earlier)
    for name, cap, spent in (
        ("max_tokens", max_tokens, spent_tokens),
        ("max_cost", max_cost, spent_cost),
    ):
        if cap is not None:
            meta[name] = cap
        if meta.get(name) is not None:
            left = float(meta[name]) - spent
            if left <= 0:
                flag = "--" + name.replace("_", "-")
                raise fail(
                    f"run {run_id} already spent {spent:,.4g} of its {name} {meta[name]:,.4g}: "
                    f"resume with a larger {flag}"
                )
            meta[name] = int(left) if name == "max_tokens" else left
    out = meta.get("out")
    prepare = load_job(str(meta.get("job") or stored.flow))
    if out and stored.status == "succeeded" and not Path(str(out)).is_dir():
        _rebuild_output(prepare, stored, meta, run_id)
    flow, services = prepare(meta)
    run_job(
        flow,
        job=stored.flow,
        inputs=dict(stored.inputs),
        services=services,
        mode=stored.mode,
        store_url=store,
        run_id=run_id,
        meta=meta,
        as_json=as_json,
        out=Path(out) if out else None,
        resume=True,
        retry_failed=retry_failed,
    )


@app.command("serve")
def serve_command(
    store: str | None = typer.Option(
        None, "--store", help="Store URL (default .phasefarm/runs.sqlite3)."
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (keep it local)."),
    port: int = typer.Option(0, "--port", help="Port (0: any free port)."),
    out: Path = typer.Option(
        Path("phasefarm-runs"),
        "--out",
        help="Folder for the output of runs started in the browser.",
    ),
) -> None:
    """The browser dashboard: runs, a start form, a live Gantt per run (needs phasefarm[web])."""
    try:
        from phasefarm.web.server import serve
    except ImportError as exc:
        raise fail(
            f"serve needs the web extra: pip install 'phasefarm[web]' ({exc.name} missing)"
        ) from None
    serve(store_url=store, host=host, port=port, out_root=out)


@bench_app.callback()
def bench_all(
    ctx: typer.Context,
    json_out: Path = typer.Option(Path("bench-results.json"), "--json-out", help="JSON file."),
    readme: Path | None = typer.Option(None, "--readme", help="Rewrite its bench section."),
    only: str = typer.Option("", "--only", help="Comma-separated workloads (default: all)."),
    quick: bool = typer.Option(False, "--quick", help="Small sizes: a smoke run."),
) -> None:
    """Every workload, one process each; exits 1 while any target is missed."""
    if ctx.invoked_subcommand is not None:
        return
    from phasefarm.benchmarks import suite

    argv = ["--json-out", str(json_out), "--only", only] + (["--quick"] if quick else [])
    raise typer.Exit(suite.main(argv + (["--readme", str(readme)] if readme else [])))


@bench_app.command("peers")
def bench_peers(
    sizes: str = typer.Option("1000,10000", "--sizes", help="Phase counts, comma-separated."),
    repeats: int = typer.Option(5, "--repeats", help="Runs per row at most; the best counts."),
) -> None:
    """Overhead per no-op phase beside raw asyncio, LangGraph, Dask and Ray."""
    from phasefarm.benchmarks import peers

    raise typer.Exit(peers.main(["--sizes", sizes, "--repeats", str(repeats)]))


@bench_app.command("overhead")
def bench_overhead(
    phases: int = typer.Option(10_000, "--phases", help="No-op phases per shape."),
    repeats: int = typer.Option(5, "--repeats", help="Runs per shape; the best counts."),
) -> None:
    """Engine overhead per phase, wide and chain, beside raw asyncio in the same run."""
    from phasefarm.benchmarks import overhead

    if phases < 1 or repeats < 1:
        raise fail("--phases and --repeats must be at least 1")
    raise typer.Exit(overhead.main(["--phases", str(phases), "--repeats", str(repeats)]))


@bench_app.command("crash")
def bench_crash(
    trials: int = typer.Option(20, help="Number of crash trials."),
    job: str | None = typer.Option(None, help="website | demo (default: website if available)."),
    time_scale: float = typer.Option(0.01, "--time-scale", help="Real seconds per seed-second."),
    seed: int = typer.Option(0, help="Seed of the random kill moments."),
    max_kills: int = typer.Option(3, "--max-kills", help="Kills per trial at most."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """SIGKILL a real job at random moments, resume it, compare with an uninterrupted run."""
    from phasefarm.benchmarks import crash

    if trials < 1:
        raise fail(f"--trials must be at least 1, got {trials}")
    if max_kills < 1:
        raise fail(f"--max-kills must be at least 1, got {max_kills}")
    check_non_negative("--time-scale", time_scale, most=1)
    if job is not None and job not in crash.available_jobs():
        raise fail(f"--job {job!r} is not available (have {', '.join(crash.available_jobs())})")
    report = crash.run_trials(
        trials=trials, job=job, time_scale=time_scale, seed=seed, max_kills=max_kills
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        crash.print_report(report)
    raise typer.Exit(0 if report.ok else 1)


@bench_app.command("reliability")
def bench_reliability(
    trials: int = typer.Option(5, help="Fault trials (website job on a faulty server)."),
    kill_trials: int = typer.Option(5, "--kill-trials", help="kill -9 trials (0: none)."),
    seed: int = typer.Option(0, help="Seed of the faults and kill moments."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Faults injected by the server, kill -9 trials: phases lost and calls made again."""
    from phasefarm.benchmarks import reliability

    argv = ["--trials", str(trials), "--kill-trials", str(kill_trials), "--seed", str(seed)]
    raise typer.Exit(reliability.main([*argv, *(["--json"] if as_json else [])]))


@app.command()
def website(
    brief: str = typer.Argument(..., help="What the website is for, in a sentence or two."),
    out: Path = typer.Option(..., "--out", help="Folder for the site (created; must be empty)."),
    mode: str = typer.Option("parallel", help="parallel | waves | sequential"),
    provider: str = typer.Option("offline", help="offline | openai"),
    model: str | None = typer.Option(None, "--model", help="Model name (openai provider)."),
    time_scale: float = typer.Option(
        0.05, "--time-scale", help="Offline provider: real seconds per seed-second (0: no sleep)."
    ),
    pages: int = typer.Option(4, "--pages", help="Pages to plan (1..20)."),
    images: int = typer.Option(10, "--images", help="Images to generate (0..40)."),
    image_pool: int = typer.Option(5, "--image-pool", help="Images generated at once (1..20)."),
    seed: int = typer.Option(0, "--seed", help="Offline provider seed."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Stop at this many tokens."),
    max_cost: float | None = typer.Option(None, "--max-cost", help="Stop at this cost (USD)."),
    cache: Path | None = typer.Option(
        None, "--cache", help="Folder of a response cache: identical calls are answered from it."
    ),
    site_url: str = typer.Option(
        "https://www.example.com", "--site-url", help="The site's origin (canonical URLs)."
    ),
    image_model: str | None = typer.Option(
        None, "--image-model", help="Image model (openai provider); none: draw offline."
    ),
    call_timeout: float = typer.Option(
        300.0, "--call-timeout", help="Seconds a model call may take, retries and waits included."
    ),
    store: str | None = typer.Option(None, "--store", help="Checkpoint store URL."),
    run_id: str | None = typer.Option(None, "--run-id"),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty --out."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary last."),
) -> None:
    """Build a multi-page static website from a brief (note 002) into --out."""
    from phasefarm.pipelines.website.commands import website_meta
    from phasefarm.pipelines.website.job import prepare

    meta = website_meta(
        brief=brief,
        out=out,
        force=force,
        mode=mode,
        provider=provider,
        model=model,
        time_scale=time_scale,
        pages=pages,
        images=images,
        image_pool=image_pool,
        seed=seed,
        max_tokens=max_tokens,
        max_cost=max_cost,
        cache=cache,
        site_url=site_url,
        image_model=image_model,
        call_timeout=call_timeout,
    )
    flow, services = prepare(meta)
    run_job(
        flow,
        job="website",
        inputs={"brief": brief.strip()},
        services=services,
        mode=mode,
        store_url=store,
        run_id=run_id,
        meta=meta,
        as_json=as_json,
        out=Path(meta["out"]),
    )


@app.command("app")
def app_command(
    brief: str = typer.Argument(..., help="What the app is for, in a sentence or two."),
    out: Path = typer.Option(..., "--out", help="Folder for the app, a git repository."),
    mode: str = typer.Option("parallel", help="parallel | waves | sequential"),
    provider: str = typer.Option("offline", help="offline | openai"),
    model: str | None = typer.Option(None, "--model", help="Model name (openai provider)."),
    time_scale: float = typer.Option(
        0.05, "--time-scale", help="Offline provider: real seconds per seed-second (0: no sleep)."
    ),
    phases: int = typer.Option(5, "--phases", help="Roadmap phases (1..10)."),
    review_cycles: int = typer.Option(1, "--review-cycles", help="Review cycles (0..5)."),
    fixes: int = typer.Option(2, "--fixes", help="Fix rounds per phase (0..5)."),
    seed: int = typer.Option(0, "--seed", help="Offline provider seed."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", help="Stop at this many tokens."),
    max_cost: float | None = typer.Option(None, "--max-cost", help="Stop at this cost (USD)."),
    store: str | None = typer.Option(None, "--store", help="Checkpoint store URL."),
    run_id: str | None = typer.Option(None, "--run-id"),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty --out."),
    preview: bool = typer.Option(False, "--preview", help="Serve DIR/preview on 127.0.0.1."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary last."),
) -> None:
    """Build a static web app from a brief, phase by phase (note 000), into --out."""
    from contextlib import ExitStack

    from phasefarm.pipelines.app.commands import app_meta, preview_server
    from phasefarm.pipelines.app.job import prepare

    meta = app_meta(
        brief=brief,
        out=out,
        force=force,
        mode=mode,
        provider=provider,
        model=model,
        time_scale=time_scale,
        phases=phases,
        review_cycles=review_cycles,
        fixes=fixes,
        seed=seed,
        max_tokens=max_tokens,
        max_cost=max_cost,
    )
    flow, services = prepare(meta)
    with ExitStack() as stack:
        if preview:
            stack.enter_context(preview_server(Path(meta["out"])))
        run_job(
            flow,
            job="app",
            inputs={"brief": brief.strip()},
            services=services,
            mode=mode,
            store_url=store,
            run_id=run_id,
            meta=meta,
            as_json=as_json,
            out=Path(meta["out"]),
        )


@plan_app.command("app")
def plan_app_command(
    phases: int = typer.Option(5, "--phases", help="Roadmap phases (1..10)."),
    time_scale: float = typer.Option(0.05, "--time-scale", help="Real seconds per seed-second."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as one JSON object."),
) -> None:
    """Waves, critical path and estimated seed-seconds per mode of the app job."""
    from phasefarm.pipelines.app.commands import print_plan
    from phasefarm.pipelines.app.profile import AppSettings

    check_non_negative("--time-scale", time_scale)
    print_plan(AppSettings(phases=phases), time_scale=time_scale, as_json=as_json)


@bench_app.command("app")
def bench_app_command(
    time_scale: float = typer.Option(0.1, "--time-scale", help="Real seconds per seed-second."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per mode."),
) -> None:
    """The app job in sequential, waves and parallel modes, measured in seed-seconds."""
    from phasefarm.benchmarks import app as bench

    if not 0 < time_scale <= 1:
        raise fail(f"--time-scale must be in (0, 1], got {time_scale}")
    raise typer.Exit(bench.main(time_scale=time_scale, as_json=as_json))


@plan_app.command("website")
def plan_website(
    pages: int = typer.Option(4, "--pages", help="Pages to plan (1..20)."),
    images: int = typer.Option(10, "--images", help="Images to generate (0..40)."),
    image_pool: int = typer.Option(5, "--image-pool", help="Images generated at once (1..20)."),
    time_scale: float = typer.Option(0.05, "--time-scale", help="Real seconds per seed-second."),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as one JSON object."),
) -> None:
    """Waves, critical path and estimated seed-seconds per mode of the website job."""
    from phasefarm.pipelines.website.commands import print_plan
    from phasefarm.pipelines.website.profile import WebsiteSettings

    settings = WebsiteSettings(pages=pages, images=images, image_pool=image_pool)
    check_non_negative("--time-scale", time_scale)
    print_plan(settings, time_scale=time_scale, as_json=as_json)


@bench_app.command("ratelimit")
def bench_ratelimit(
    calls: int = typer.Option(400, "--calls", help="Calls per trial (at least 100)."),
    keys: int = typer.Option(3, "--keys", help="API keys in the pool."),
    rpm: int = typer.Option(600, "--rpm", help="Requests per minute per key (server limit)."),
    tpm: int = typer.Option(120_000, "--tpm", help="Tokens per minute per key (server limit)."),
    latency: float = typer.Option(0.03, "--latency", help="Server seconds per answer."),
    trials: int = typer.Option(3, "--trials", help="Trials per row; the worst is shown."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """The shared limiter against an independent rate-limited server, four rows."""
    from phasefarm.benchmarks import ratelimit

    argv = ["--calls", str(calls), "--keys", str(keys), "--rpm", str(rpm), "--tpm", str(tpm)]
    argv += ["--latency", str(latency), "--trials", str(trials)]
    raise typer.Exit(ratelimit.main(argv + (["--json"] if as_json else [])))


@bench_app.command("barrier")
def bench_barrier(
    time_scale: float = typer.Option(0.05, "--time-scale", help="Real seconds per seed-second."),
) -> None:
    """The website graph in phasefarm's modes and as a LangGraph StateGraph, real sleeps."""
    from phasefarm.benchmarks import barrier
    from phasefarm.benchmarks.report import print_section

    if not 0 < time_scale <= 1:
        raise fail(f"--time-scale must be in (0, 1], got {time_scale}")
    result = barrier.section(time_scale=time_scale)
    print_section(result)
    raise typer.Exit(1 if result["missed"] else 0)


@bench_app.command("jitter")
def bench_jitter(
    seeds: int = typer.Option(40, "--seeds", help="Seeds per sigma (at least 20)."),
) -> None:
    """Log-normal latencies: dependency-driven vs waves vs supersteps, virtual clock."""
    from phasefarm.benchmarks import jitter
    from phasefarm.benchmarks.barrier import website_skeleton
    from phasefarm.benchmarks.report import print_section

    if seeds < 20:
        raise fail(f"--seeds must be at least 20, got {seeds}")
    result = jitter.section(website_skeleton(), seeds=seeds)
    print_section(result)
    raise typer.Exit(1 if result["missed"] else 0)


@bench_app.command("website")
def bench_website(
    time_scale: float = typer.Option(0.05, "--time-scale", help="Real seconds per seed-second."),
    pages: int = typer.Option(4, "--pages", help="Pages (1..20)."),
    images: int = typer.Option(10, "--images", help="Images (0..40)."),
    as_json: bool = typer.Option(False, "--json", help="The results as one JSON object."),
) -> None:
    """The website job in each mode: no store, CLI with the SQLite store, per-call latency."""
    from phasefarm.benchmarks import website as bench
    from phasefarm.pipelines.website.profile import WebsiteSettings

    if not 0 < time_scale <= 1:
        raise fail(f"--time-scale must be in (0, 1], got {time_scale}")
    WebsiteSettings(pages=pages, images=images)  # refuses bad counts with a one-line error
    argv = ["--time-scale", str(time_scale), "--pages", str(pages), "--images", str(images)]
    raise typer.Exit(bench.main(argv + (["--json"] if as_json else [])))


def main(argv: list[str] | None = None) -> None:
    try:
        # without standalone mode click returns the code of a typer.Exit instead of exiting
        code = app(args=argv, prog_name="phasefarm", standalone_mode=False)
    except UsageError as exc:
        typer.echo(f"phasefarm: error: {exc}", err=True)
        sys.exit(2)
    except StoreError as exc:  # not the user's input: the store failed during the run
        typer.echo(f"phasefarm: error: {exc}", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("phasefarm: interrupted", err=True)
        sys.exit(130)
    except typer.Abort:
        typer.echo("phasefarm: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        # click's usage errors (unknown command, bad option value); typer vendors click, so
        # they are recognised by shape rather than by class
        message = getattr(exc, "format_message", None)
        if callable(message) and isinstance(getattr(exc, "exit_code", None), int):
            typer.echo(f"phasefarm: error: {' '.join(str(message()).split())}", err=True)
            sys.exit(2)
        raise
    sys.exit(code if isinstance(code, int) else 0)
