"""Engine overhead: N no-op phases, wide and as a chain, beside raw asyncio on the same work.

Raw asyncio is the floor: `asyncio.gather` of N no-op coroutines (wide) and N tasks each
awaiting the previous one (chain). phasefarm adds the graph, the scheduler, one record and
three events per phase. Each shape runs in a fresh subprocess so RSS growth is its own.

A flow compiles its graph on its first run and reuses it (`Flow.cached`), so the first run
costs more; it is reported on its own ("first run"), the targets apply to the best run.
"""

from __future__ import annotations

import asyncio
import gc
import json
import statistics
import subprocess
import sys
import time
from typing import Any

from phasefarm.engine.flow import Flow

__all__ = ["main", "measure"]

TARGET_US = 15.0
TARGET_RATIO = 2.5
TARGET_MB = 100.0


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _build(shape: str, n: int) -> Flow:
    flow = Flow(f"overhead-{shape}")

    async def noop() -> None:
        return None

    for i in range(n):
        needs = [f"p{i - 1}"] if shape == "chain" and i else []
        flow.phase(noop, name=f"p{i}", needs=needs)
    return flow


async def _raw(shape: str, n: int) -> None:
    async def noop() -> None:
        return None

    if shape == "wide":
        await asyncio.gather(*(noop() for _ in range(n)))
        return

    async def step(previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await previous

    tasks: list[asyncio.Task[None]] = []
    previous: asyncio.Task[None] | None = None
    for _ in range(n):
        previous = asyncio.ensure_future(step(previous))
        tasks.append(previous)
    await asyncio.gather(*tasks)


def measure(shape: str, n: int, repeats: int = 5) -> dict[str, Any]:
    """Best-of-`repeats` seconds for phasefarm and raw asyncio, alternated, and RSS growth."""
    rss_before = _rss_mb()
    flow = _build(shape, n)
    ours: list[float] = []
    raw: list[float] = []
    rss_peak = rss_before
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = flow.run_sync()
        ours.append(time.perf_counter() - start)
        assert result.status == "succeeded" and len(result.phases) == n
        rss_peak = max(rss_peak, _rss_mb())
        del result
        gc.collect()
        start = time.perf_counter()
        asyncio.run(_raw(shape, n))
        raw.append(time.perf_counter() - start)
    best, best_raw = min(ours), min(raw)
    return {
        "shape": shape,
        "phases": n,
        "us_per_phase": best / n * 1e6,
        "raw_us_per_phase": best_raw / n * 1e6,
        "ratio": best / best_raw,
        "median_us": statistics.median(ours) / n * 1e6,
        "first_us_per_phase": ours[0] / n * 1e6,  # includes compiling the graph
        "rss_growth_mb": rss_peak - rss_before,
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phases", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shape", choices=["wide", "chain"])
    args = parser.parse_args(argv)
    if args.shape:  # child process: one shape, JSON on stdout
        print(json.dumps(measure(args.shape, args.phases, args.repeats)))
        return 0
    rows = []
    for shape in ("wide", "chain"):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "phasefarm.benchmarks.overhead",
                "--shape",
                shape,
                "--phases",
                str(args.phases),
                "--repeats",
                str(args.repeats),
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        rows.append(json.loads(out))
    return print_table(rows)


def print_table(rows: list[dict[str, Any]]) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"engine overhead, {rows[0]['phases']:,} no-op phases (best of runs)")
    for column in (
        "shape",
        "phasefarm µs/phase",
        "first run µs/phase",
        "raw asyncio µs/phase",
        "ratio",
        "RSS growth MB",
        "targets",
    ):
        table.add_column(column)
    ok = True
    for row in rows:
        passed = (
            row["us_per_phase"] <= TARGET_US
            and row["ratio"] <= TARGET_RATIO
            and row["rss_growth_mb"] <= TARGET_MB
        )
        ok &= passed
        table.add_row(
            row["shape"],
            f"{row['us_per_phase']:.1f}",
            f"{row['first_us_per_phase']:.1f}",
            f"{row['raw_us_per_phase']:.1f}",
            f"{row['ratio']:.2f}x",
            f"{row['rss_growth_mb']:.1f}",
            ("met" if passed else "MISSED")
            + f" (<= {TARGET_US:g} µs, <= {TARGET_RATIO:g}x, <= {TARGET_MB:g} MB)",
        )
    Console().print(table)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
