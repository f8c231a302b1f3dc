"""The `phasefarm` command line: the typer app, its job, run and serve commands, one-line errors.

Running a job is in `cli_run.py`, the benchmark commands in `cli_bench.py`.

Every command lets `UsageError` (and its subclasses GraphError, StoreRefused) rise; `main()` turns
it into one line on stderr and exit code 2, with no traceback; a `StoreError` (the store failed
during a run) is one line and exit code 1. Exit codes: 0 all phases succeeded, 1 the run
finished with failures or its store failed, 2 bad usage or bad input, 130 interrupted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import typer

from phasefarm.cli_bench import bench_app
from phasefarm.cli_run import NO_STORE, fail, run_job
from phasefarm.errors import PhasefarmError, StoreError, UsageError
from phasefarm.options import check_cap, check_non_negative

app = typer.Typer(
    name="phasefarm",
    help="Run multi-phase AI generation jobs as a dependency graph.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
plan_app = typer.Typer(help="Show waves, critical path and estimated time before spending a token.")
app.add_typer(plan_app, name="plan")
app.add_typer(bench_app, name="bench")


@app.command()
def demo(
    brief: str = typer.Argument("a field guide to city birds", help="What to write about."),
    out: Path | None = typer.Option(None, "--out", help="Folder for page.md."),
    mode: str = typer.Option("parallel", help="parallel | waves | sequential"),
    time_scale: float = typer.Option(0.05, "--time-scale", help="Real seconds per seed-second."),
    sections: int = typer.Option(6, help="Sections written in parallel."),
    store: str | None = typer.Option(
        None, "--store", help="Store URL (default .phasefarm/runs.sqlite3; none: no store)."
    ),
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
    store: str | None = typer.Option(
        None, "--store", help="Store URL (default .phasefarm/runs.sqlite3; none: no store)."
    ),
    run_id: str | None = typer.Option(None, "--run-id"),
    force: bool = typer.Option(False, "--force", help="Write into a non-empty --out."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON summary last."),
    backend: str = typer.Option("local", "--backend", help="local | ray (phases as Ray tasks)."),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Join this Ray cluster (default: start a local one)."
    ),
) -> None:
    """Build a multi-page static website from a brief (note 002) into --out."""
    from phasefarm.backends import backend_meta
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
    ) | backend_meta(backend, ray_address)
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
    call_timeout: float = typer.Option(
        300.0, "--call-timeout", help="Seconds a model call may take, retries and waits included."
    ),
    store: str | None = typer.Option(
        None, "--store", help="Store URL (default .phasefarm/runs.sqlite3; none: no store)."
    ),
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
        call_timeout=call_timeout,
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


@app.command("runs")
def runs_command(
    store: str | None = typer.Option(
        None, "--store", help="Store URL (default .phasefarm/runs.sqlite3)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per run instead."),
    check: bool = typer.Option(False, "--check", help="Check a SQLite store's file for damage."),
) -> None:
    """List the runs of a store, newest first: status, k/N phases done, elapsed, tokens, cost."""
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

    if store is not None and store.strip().lower() == NO_STORE:
        raise fail("resume needs the store the run was checkpointed in, not --store none")
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
    """The browser dashboard: runs, a start form, a live Gantt per run (needs the web extra)."""
    try:
        from phasefarm.web.server import serve
    except ImportError as exc:
        raise fail(
            f"serve needs the web extra: pip install 'phasefarm[web]' ({exc.name} missing)"
        ) from None
    serve(store_url=store, host=host, port=port, out_root=out)


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
