"""`phasefarm bench ...`: the benchmark commands, thin wrappers over `phasefarm.benchmarks`.

Each workload compares side by side in one run and prints a table; `phasefarm bench` alone runs
every workload, one process each, and exits 1 while any target is missed.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from phasefarm.cli_run import fail
from phasefarm.options import check_non_negative

__all__ = ["bench_app"]

bench_app = typer.Typer(
    help="Benchmarks: side-by-side comparisons in one run, printed as a table. "
    "Without a subcommand: every workload, one process each (see --help).",
    invoke_without_command=True,
)


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


@bench_app.command("peers")
def bench_peers(
    sizes: str = typer.Option("1000,10000", "--sizes", help="Phase counts, comma-separated."),
    repeats: int = typer.Option(5, "--repeats", help="Runs per row at most; the best counts."),
) -> None:
    """Overhead per no-op phase beside raw asyncio, LangGraph, Dask and Ray."""
    from phasefarm.benchmarks import peers

    raise typer.Exit(peers.main(["--sizes", sizes, "--repeats", str(repeats)]))


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
    """The website job in each mode: library, CLI without and with the store, per-call model."""
    from phasefarm.benchmarks import website as bench
    from phasefarm.pipelines.website.profile import WebsiteSettings

    if not 0 < time_scale <= 1:
        raise fail(f"--time-scale must be in (0, 1], got {time_scale}")
    WebsiteSettings(pages=pages, images=images)  # refuses bad counts with a one-line error
    argv = ["--time-scale", str(time_scale), "--pages", str(pages), "--images", str(images)]
    raise typer.Exit(bench.main(argv + (["--json"] if as_json else [])))


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


@bench_app.command("scale")
def bench_scale(
    jobs: int = typer.Option(8, "--jobs", help="Website jobs at once."),
    backends: str = typer.Option("local,ray", "--backends", help="local,ray"),
    ray_address: str | None = typer.Option(None, "--ray-address", help="Join this cluster."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
) -> None:
    """Many website jobs under one shared rate limit: local asyncio vs Ray."""
    from phasefarm.benchmarks import scale

    names = tuple(b for b in backends.split(",") if b)
    code = scale.report(jobs=jobs, backends=names, ray_address=ray_address, as_json=as_json)
    raise typer.Exit(code)


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
