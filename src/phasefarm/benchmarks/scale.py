"""`phasefarm bench scale`: many website jobs at once under one shared rate limit, local vs Ray.

`jobs` website jobs (the OpenAI-compatible provider, real HTTP) start together against one
package fake server that enforces `rpm` per key; every job's calls go through one limiter for
all of them: one `RateLimiter` in this process for the local asyncio backend, the cluster's
limiter actor for the Ray backend (each job its own run, all in this driver). Reported per
backend: jobs per minute, the server's own count of requests it accepted and refused (a 429 is
a request over the limit), the rate used (accepted requests / what the server would have
accepted over the same window, from its log), and failed phases, measured on a second batch
(the first one warms up: Ray starts worker processes, each imports the package once). Then
the per-phase overhead of each backend on no-op phases (wide and as a chain), the same flow.

The Ray backend starts a local cluster unless `--ray-address` names one (workers need the
package and the bench's keys in `OPENAI_API_KEY`; a local cluster inherits them from here).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from rich.console import Console
from rich.table import Table

from phasefarm.engine.flow import Flow
from phasefarm.errors import UsageError
from phasefarm.llm.limiter import RateLimiter
from phasefarm.testing.fake_openai import FakeOpenAI

__all__ = ["OverheadResult", "ScaleResult", "main", "measure_overhead", "report", "run_jobs"]

BACKENDS = ("local", "ray")
RATE_TARGET = 0.85  # share of the server's allowed rate the jobs together should use


@dataclass(frozen=True)
class ScaleResult:
    backend: str
    jobs: int
    phases: int
    failed_phases: int
    wall_s: float
    jobs_per_min: float
    http: int
    over_limit: int  # 429s the server answered
    accepted_rpm: float
    allowed_rpm: float
    rate_used: float

    @property
    def passed(self) -> bool:
        return self.failed_phases == 0 and self.over_limit == 0 and self.rate_used >= RATE_TARGET


@dataclass(frozen=True)
class OverheadResult:
    backend: str
    shape: str  # "wide" | "chain"
    phases: int
    us_per_phase: float


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _ray_backend(address: str | None, **options: Any) -> Any:
    try:
        from phasefarm.backends.ray import RayBackend
    except ImportError:
        raise UsageError(
            "the ray backend needs the ray extra: pip install 'phasefarm[ray]'"
        ) from None
    backend = RayBackend(address=address, **options)
    backend.start()
    return backend


def _keys(count: int) -> list[str]:
    return [f"sk-scale-{i:02d}-{'x' * 24}" for i in range(1, count + 1)]


def run_jobs(
    backend: str,
    *,
    jobs: int = 8,
    keys: int = 2,
    rpm: int = 600,
    latency: float = 0.05,
    pages: int = 2,
    images: int = 2,
    ray_address: str | None = None,
) -> ScaleResult:
    """`jobs` website jobs at once on `backend` ("local" | "ray") against a fresh server."""
    from phasefarm.pipelines.website.job import build_flow, build_services

    pool = _keys(keys)
    with (
        FakeOpenAI(keys=pool, rpm=rpm, latency=latency, image_latency=latency) as server,
        _environment(OPENAI_API_KEY=",".join(pool), OPENAI_BASE_URL=server.url),
        TemporaryDirectory(prefix="phasefarm-scale-") as tmp,
    ):
        limiter = RateLimiter([f"key#{i}" for i in range(1, keys + 1)], rpm=rpm)

        async def one(index: int) -> tuple[int, int]:
            meta = {
                "out": str(Path(tmp) / f"site-{index}"),
                "provider": "openai",
                "model": "fake-model",
                "pages": pages,
                "images": images,
            }
            services = build_services(meta)
            services["llm"].limiter = limiter  # one limit for every job
            options: dict[str, Any] = {}
            if backend == "ray":  # each job its own backend, all of them one limiter actor
                options["backend"] = _ray_backend(
                    ray_address,
                    worker_services=partial(build_services, meta),
                    limiter=f"bench-scale-{server.port}",
                )
            try:
                result = await build_flow(services["settings"]).run(
                    inputs={"brief": f"A small bakery number {index}"},
                    services=services,
                    **options,
                )
            finally:
                await services["llm"].aclose()
            failed = sum(p.status != "succeeded" for p in result.phases.values())
            return len(result.phases), failed

        async def all_jobs() -> list[tuple[int, int]]:
            return list(await asyncio.gather(*(one(i) for i in range(jobs))))

        started = time.perf_counter()
        counts = asyncio.run(all_jobs())
        wall = time.perf_counter() - started
        log = server.requests
    accepted = [r for r in log if r.status == 200]
    first = min((r.t for r in log), default=0.0)
    window = max(1e-9, max((r.t for r in accepted), default=first) - first)
    allowed = keys * (max(1.0, rpm / 60) + rpm / 60 * window)  # burst + refill, per key
    return ScaleResult(
        backend=backend,
        jobs=jobs,
        phases=sum(c[0] for c in counts),
        failed_phases=sum(c[1] for c in counts),
        wall_s=round(wall, 2),
        jobs_per_min=round(jobs / wall * 60, 1),
        http=len(log),
        over_limit=sum(r.status == 429 for r in log),
        accepted_rpm=round(len(accepted) / window * 60, 1),
        allowed_rpm=round(allowed / window * 60, 1),
        rate_used=round(len(accepted) / allowed, 4),
    )


def _noop_flow(shape: str, phases: int) -> Flow:
    flow = Flow(f"overhead-{shape}")

    async def noop() -> None:
        return None

    for i in range(phases):
        flow.phase(noop, name=f"p{i}", needs=[f"p{i - 1}"] if shape == "chain" and i else [])
    return flow


def measure_overhead(
    backend: str, *, shape: str, phases: int, ray_address: str | None = None
) -> OverheadResult:
    """Wall time per no-op phase of one run (after a warm-up run of the same flow)."""
    flow = _noop_flow(shape, phases)
    options: dict[str, Any] = {}
    if backend == "ray":
        options["backend"] = _ray_backend(ray_address)
    flow.run_sync(**options)  # warm-up: Ray starts its worker processes here
    started = time.perf_counter()
    result = flow.run_sync(**options)
    wall = time.perf_counter() - started
    if result.status != "succeeded":
        raise RuntimeError(f"the overhead flow failed on {backend}: {result.status}")
    return OverheadResult(backend, shape, phases, round(wall / phases * 1e6, 1))


def render(
    results: list[ScaleResult], overhead: list[OverheadResult], *, keys: int, rpm: int
) -> list[Table]:
    jobs = Table(
        title=f"bench scale: {results[0].jobs} website jobs at once, one limiter, "
        f"fake server {keys} keys x {rpm} rpm"
    )
    for column in (
        "backend",
        "jobs/min",
        "wall s",
        "phases",
        "failed",
        "HTTP",
        "over limit (429)",
        "rpm accepted",
        "rpm allowed",
        "rate used",
        "target",
    ):
        jobs.add_column(column, justify="left" if column == "backend" else "right", no_wrap=True)
    for r in results:
        jobs.add_row(
            r.backend,
            f"{r.jobs_per_min:.1f}",
            f"{r.wall_s:.1f}",
            str(r.phases),
            str(r.failed_phases),
            str(r.http),
            str(r.over_limit),
            f"{r.accepted_rpm:,.0f}",
            f"{r.allowed_rpm:,.0f}",
            f"{r.rate_used:.1%}",
            ("[green]pass[/]" if r.passed else "[red]FAIL[/]")
            + f" (0 failed, 0 over, >={RATE_TARGET:.0%})",
        )
    per_phase = Table(title="per-phase overhead: no-op phases, one run after a warm-up")
    for column in ("backend", "shape", "phases", "µs/phase"):
        per_phase.add_column(column, justify="left" if column in ("backend", "shape") else "right")
    for o in overhead:
        per_phase.add_row(o.backend, o.shape, str(o.phases), f"{o.us_per_phase:,.0f}")
    return [jobs, per_phase]


def report(
    *,
    jobs: int = 8,
    keys: int = 2,
    rpm: int = 600,
    latency: float = 0.05,
    pages: int = 2,
    images: int = 2,
    backends: tuple[str, ...] = BACKENDS,
    overhead_phases: int = 200,
    ray_address: str | None = None,
    as_json: bool = False,
    console: Console | None = None,
) -> int:
    """Run the jobs and the overhead on each backend, print tables (or JSON); 0 if all pass."""
    if jobs < 1 or keys < 1 or rpm < 1 or overhead_phases < 1:
        raise UsageError("--jobs, --keys, --rpm and --overhead-phases must be positive")
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        raise UsageError(f"unknown backend {unknown[0]!r}: choose from {', '.join(BACKENDS)}")
    # a local cluster's workers inherit this process's environment as it is when it starts
    with _environment(OPENAI_API_KEY=",".join(_keys(keys))):
        started_ray = False
        if "ray" in backends:
            from phasefarm.backends.ray import connect

            started_ray = connect(ray_address)
        try:
            settings: dict[str, Any] = {
                "jobs": jobs,
                "keys": keys,
                "rpm": rpm,
                "latency": latency,
                "pages": pages,
                "images": images,
                "ray_address": ray_address,
            }
            results = []
            for name in backends:
                run_jobs(name, **settings)  # warm-up: Ray starts its worker processes here
                results.append(run_jobs(name, **settings))
            overhead = [
                measure_overhead(name, shape=shape, phases=overhead_phases, ray_address=ray_address)
                for name in backends
                for shape in ("wide", "chain")
            ]
        finally:
            if started_ray:
                import ray

                ray.shutdown()
    console = console or Console(width=160)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "jobs": [{**asdict(r), "passed": r.passed} for r in results],
                    "overhead": [asdict(o) for o in overhead],
                }
            )
        )
    else:
        for table in render(results, overhead, keys=keys, rpm=rpm):
            console.print(table)
    return 0 if all(r.passed for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    """`python bench/scale.py [--jobs 8 --keys 2 --rpm 600 --backends local,ray --json]`."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="bench/scale.py", description=__doc__)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--keys", type=int, default=2)
    parser.add_argument("--rpm", type=int, default=600, help="per key")
    parser.add_argument("--latency", type=float, default=0.05, help="server seconds per answer")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--ray-address", default=None)
    parser.add_argument("--json", action="store_true", dest="as_json")
    args = parser.parse_args(argv)
    try:
        return report(
            jobs=args.jobs,
            keys=args.keys,
            rpm=args.rpm,
            latency=args.latency,
            backends=tuple(b for b in args.backends.split(",") if b),
            ray_address=args.ray_address,
            as_json=args.as_json,
        )
    except UsageError as exc:
        print(f"scale: error: {exc}", file=sys.stderr)
        return 2
