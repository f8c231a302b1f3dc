"""Engine overhead: N no-op phases, wide and as a chain, beside raw asyncio on the same work,
without a store and with the default SQLite store, side by side in one process per shape.

Raw asyncio is the floor: `asyncio.gather` of N no-op coroutines (wide) and N tasks each
awaiting the previous one (chain). phasefarm adds the graph, the scheduler, one record and
three events per phase; with a store, each record and event is also committed to an SQLite file
in a temporary folder (`synchronous=FULL`, grouped commits from the writer thread).

Per repeat, alternated: the first run of a freshly defined flow (it compiles its graph), a
second run of it (the compiled graph reused), raw asyncio, and the second flow run again with
a fresh SQLite store. Each shape runs in its own subprocess, after one untimed warm-up run, so
RSS growth is its own. Best of the repeats is reported; on a loaded machine compare the ratios,
which are measured side by side.

Below the table: what holding each dependent until its dependency's record is committed would
add per phase in a chain (one commit round trip through the writer, per `synchronous` setting):
the alternative docs/checkpoints.md weighs against starting dependents while the commit is in
flight.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from phasefarm.engine.flow import Flow
from phasefarm.store.base import PhaseRow
from phasefarm.store.sqlite import SQLiteStore
from phasefarm.store.writer import Batch, CheckpointWriter

__all__ = [
    "COLUMNS",
    "TARGETS_TEXT",
    "commit_round_trip_us",
    "main",
    "measure",
    "passed",
    "table_row",
]

TARGET_US = 15.0  # no store, µs per phase
TARGET_RATIO = 2.5  # no store, vs raw asyncio (first run and reuse)
TARGET_STORE_RATIO = 3.0  # SQLite store vs no store
TARGET_STORE_WIDE_US = 60.0
TARGET_MB = 100.0
TARGETS_TEXT = (
    f"no store <= {TARGET_US:g} µs and <= {TARGET_RATIO:g}x raw asyncio (first run too); SQLite "
    f"store <= {TARGET_STORE_RATIO:g}x no store and <= {TARGET_STORE_WIDE_US:g} µs wide; RSS "
    f"growth <= {TARGET_MB:g} MB"
)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
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


def _timed_run(flow: Flow, n: int, **options: Any) -> float:
    gc.collect()
    start = time.perf_counter()
    result = flow.run_sync(**options)
    elapsed = time.perf_counter() - start
    assert result.status == "succeeded" and len(result.phases) == n
    return elapsed


def measure(shape: str, n: int, repeats: int = 3) -> dict[str, Any]:
    """Best-of-`repeats` seconds per phase of each variant, alternated, and RSS growth."""
    rss_before = _rss_mb()
    _build(shape, n).run_sync()  # warm-up: the process's first run grows its heap
    asyncio.run(_raw(shape, n))
    first: list[float] = []
    reuse: list[float] = []
    raw: list[float] = []
    stored: list[float] = []
    rss_peak = _rss_mb()
    with tempfile.TemporaryDirectory(prefix="phasefarm-overhead-") as tmp:
        for attempt in range(repeats):
            flow = _build(shape, n)
            first.append(_timed_run(flow, n))
            reuse.append(_timed_run(flow, n))
            gc.collect()
            start = time.perf_counter()
            asyncio.run(_raw(shape, n))
            raw.append(time.perf_counter() - start)
            with SQLiteStore(Path(tmp) / f"runs-{attempt}.sqlite3") as store:
                stored.append(_timed_run(flow, n, store=store))
            rss_peak = max(rss_peak, _rss_mb())
            del flow
    best, best_raw = min(reuse), min(raw)
    return {
        "shape": shape,
        "phases": n,
        "us_per_phase": best / n * 1e6,
        "first_us_per_phase": min(first) / n * 1e6,
        "raw_us_per_phase": best_raw / n * 1e6,
        "ratio": best / best_raw,
        "first_ratio": min(first) / best_raw,
        "store_us_per_phase": min(stored) / n * 1e6,
        "store_ratio": min(stored) / best,
        "rss_growth_mb": rss_peak - rss_before,
    }


def commit_round_trip_us(synchronous: str, commits: int = 100) -> float:
    """Median µs from handing one phase record to the writer to hearing it is committed: the
    latency a dependent would wait per phase if it were held until its dependency is durable."""
    done = threading.Event()

    def on_commit(count: int, error: BaseException | None) -> None:
        done.set()

    times: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="phasefarm-commit-") as tmp,
        SQLiteStore(Path(tmp) / "runs.sqlite3", synchronous=synchronous) as store,
    ):
        store.create_run("r", "f", {}, "parallel", {})
        writer = CheckpointWriter(store, "r", on_commit)
        try:
            for i in range(commits):
                row = PhaseRow(f"p{i}", "succeeded", 1, 0.0, 0.0, "null", None, None, "{}")
                done.clear()
                start = time.perf_counter()
                writer.submit(Batch(phases=[row]))
                if not done.wait(timeout=30):
                    raise TimeoutError("the checkpoint writer did not commit within 30 s")
                times.append(time.perf_counter() - start)
        finally:
            writer.close(timeout=30)
    times.sort()
    return times[len(times) // 2] * 1e6


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--phases", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--shape", choices=["wide", "chain"])
    parser.add_argument("--json", action="store_true", help="one JSON object per shape")
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
            timeout=1800,
        ).stdout
        rows.append(json.loads(out))
    hold = {sync: commit_round_trip_us(sync) for sync in ("full", "normal")}
    if args.json:
        for row in rows:
            print(json.dumps(row))
        print(json.dumps({"hold_dependents_us_per_phase": hold}))
        return 0 if all(passed(row) for row in rows) else 1
    return print_table(rows, hold)


def passed(row: dict[str, Any]) -> bool:
    """Whether one shape's row (from `measure`) meets every target."""
    return bool(
        row["us_per_phase"] <= TARGET_US
        and row["ratio"] <= TARGET_RATIO
        and row["first_ratio"] <= TARGET_RATIO
        and row["store_ratio"] <= TARGET_STORE_RATIO
        and (row["shape"] != "wide" or row["store_us_per_phase"] <= TARGET_STORE_WIDE_US)
        and row["rss_growth_mb"] <= TARGET_MB
    )


COLUMNS = (
    "shape",
    "no store µs/phase",
    "first run µs/phase",
    "raw asyncio µs/phase",
    "vs raw (first run)",
    "SQLite store µs/phase",
    "store vs no store",
    "RSS growth MB",
    "targets",
)


def table_row(row: dict[str, Any]) -> list[str]:
    """One shape's row (from `measure`) as the table's cells, `COLUMNS` in order."""
    return [
        row["shape"],
        f"{row['us_per_phase']:.1f}",
        f"{row['first_us_per_phase']:.1f}",
        f"{row['raw_us_per_phase']:.1f}",
        f"{row['ratio']:.2f}x ({row['first_ratio']:.2f}x)",
        f"{row['store_us_per_phase']:.1f}",
        f"{row['store_ratio']:.2f}x",
        f"{row['rss_growth_mb']:.1f}",
        "met" if passed(row) else "MISSED",
    ]


def print_table(rows: list[dict[str, Any]], hold: dict[str, float]) -> int:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"engine overhead, {rows[0]['phases']:,} no-op phases (best of runs)")
    for column in COLUMNS:
        table.add_column(column)
    for row in rows:
        table.add_row(*table_row(row))
    console = Console(width=max(120, Console().width))
    console.print(table)
    console.print(f"targets: {TARGETS_TEXT}", highlight=False)
    console.print(
        "holding dependents until their dependency's record is committed would add per phase "
        f"of a chain: {hold['full']:.0f} µs (synchronous=FULL), {hold['normal']:.0f} µs "
        "(NORMAL); dependents start while the commit is in flight instead",
        highlight=False,
    )
    return 0 if all(passed(row) for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
