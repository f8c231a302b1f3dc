"""Engine overhead beside its peers: N no-op phases in phasefarm, raw asyncio, LangGraph, Dask, Ray.

Every (system, shape, N) runs in its own fresh process (`--child`), so imports, caches and RSS
are its own. A row reports:

- "first": the first run, building the graph included (phasefarm: `Flow` declared and its graph
  compiled; LangGraph: `StateGraph` built and compiled; Dask: `delayed` objects built; Ray:
  tasks submitted; raw asyncio: coroutines created);
- "reuse": the best later run of the same graph object (a compiled LangGraph invoked again,
  the same `delayed` objects computed again, the same `Flow` run again; Ray and asyncio cannot
  reuse submitted work, so they submit again), at most `repeats` runs within a time budget;
- RSS growth: peak resident memory after the runs minus before the graph was built (Ray: the
  driver plus its worker processes, after `ray.init`).

Set-up a user pays once per process is not counted: imports, `ray.init` (local, 2 CPUs), the
SQLite file's creation. Shapes: "wide" (N independent phases) and "chain" (each phase needs the
previous one). The work is an empty function in every system: async where the system is
asyncio-based (phasefarm, LangGraph `ainvoke`, raw asyncio), plain in Dask's threaded scheduler
and Ray's local tasks, as each one's users write them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["SYSTEMS", "TARGET_FACTOR", "child", "evaluate", "main", "run_all"]

SYSTEMS = ("phasefarm", "phasefarm+sqlite", "asyncio", "langgraph", "dask", "ray")
SHAPES = ("wide", "chain")
TARGET_FACTOR = 25.0  # phasefarm at least this many times less per phase than LangGraph, Dask
PEERS_CHECKED = ("langgraph", "dask")
BUDGET_S = 30.0  # stop repeating a row once its runs took this long (first + one reuse at least)
CHILD_TIMEOUT_S = 900.0


def _rss_mb(with_children: bool = False) -> float:
    import psutil

    process = psutil.Process()
    total = process.memory_info().rss
    if with_children:
        for kid in process.children(recursive=True):
            try:
                total += kid.memory_info().rss
            except psutil.Error:
                continue
    return float(total) / 2**20


# --- one runner per system: build(shape, n) -> run() ----------------------------------------


def _phasefarm(shape: str, n: int, store_dir: str | None) -> Callable[[], None]:
    from phasefarm.engine.flow import Flow

    store = None
    if store_dir is not None:
        from phasefarm.store.url import open_store

        store = open_store(str(Path(store_dir) / "runs.sqlite3"))
    flow = Flow(f"peers-{shape}")

    async def noop() -> None:
        return None

    for i in range(n):
        flow.phase(noop, name=f"p{i}", needs=[f"p{i - 1}"] if shape == "chain" and i else [])

    def run() -> None:
        result = flow.run_sync(store=store)
        if result.status != "succeeded" or len(result.phases) != n:
            raise RuntimeError(f"phasefarm run ended {result.status}")

    return run


def _asyncio(shape: str, n: int) -> Callable[[], None]:
    async def noop() -> None:
        return None

    async def step(previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await previous

    async def chain() -> None:
        previous: asyncio.Task[None] | None = None
        tasks = []
        for _ in range(n):
            previous = asyncio.ensure_future(step(previous))
            tasks.append(previous)
        await asyncio.gather(*tasks)

    async def wide() -> None:
        await asyncio.gather(*(noop() for _ in range(n)))

    return lambda: asyncio.run(wide() if shape == "wide" else chain())


def _langgraph(shape: str, n: int) -> Callable[[], None]:
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict, total=False):
        done: int

    async def noop(state: State) -> dict[str, Any]:
        return {}

    graph = StateGraph(State)
    for i in range(n):
        graph.add_node(f"n{i}", noop)
        if shape == "wide":
            graph.add_edge(START, f"n{i}")
            graph.add_edge(f"n{i}", END)
        else:
            graph.add_edge(START if i == 0 else f"n{i - 1}", f"n{i}")
    if shape == "chain":
        graph.add_edge(f"n{n - 1}", END)
    compiled = graph.compile()
    config: Any = {"recursion_limit": n + 10}  # a chain takes one superstep per node

    def run() -> None:
        asyncio.run(compiled.ainvoke({}, config))

    return run


def _dask(shape: str, n: int) -> Callable[[], None]:
    from dask.base import compute
    from dask.delayed import delayed

    def noop(*_: object) -> None:
        return None

    task: Any = delayed(noop)
    if shape == "wide":
        work: list[Any] = [task() for _ in range(n)]
    else:
        last = task()
        for _ in range(n - 1):
            last = task(last)
        work = [last]
    run_compute: Any = compute

    def run() -> None:
        run_compute(*work, scheduler="threads")

    return run


def _ray(shape: str, n: int) -> Callable[[], None]:
    import ray

    def empty(*_: object) -> None:
        return None

    noop: Any = ray.remote(empty)

    def run() -> None:
        if shape == "wide":
            ray.get([noop.remote() for _ in range(n)])
            return
        ref = noop.remote()
        for _ in range(n - 1):
            ref = noop.remote(ref)
        ray.get(ref)

    return run


def _build(system: str, shape: str, n: int, folder: str) -> Callable[[], None]:
    if system.startswith("phasefarm"):
        store_dir = None
        if system.endswith("sqlite"):
            Path(folder).mkdir()
            store_dir = folder
        return _phasefarm(shape, n, store_dir)
    builders = {"asyncio": _asyncio, "langgraph": _langgraph, "dask": _dask, "ray": _ray}
    return builders[system](shape, n)


def child(
    system: str, shape: str, n: int, repeats: int, budget_s: float = BUDGET_S
) -> dict[str, Any]:
    """Measure one row in this process (see the module docstring)."""
    if system == "ray":
        import ray

        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    with tempfile.TemporaryDirectory(prefix="phasefarm-peers-") as tmp:
        rss_before = _rss_mb(system == "ray")
        peak = rss_before
        firsts: list[float] = []  # a fresh graph each: built and run once, best of a few
        spent = 0.0
        while len(firsts) < min(3, max(1, repeats)) and (not firsts or spent < budget_s):
            gc.collect()
            start = time.perf_counter()
            run = _build(system, shape, n, f"{tmp}/{len(firsts)}")
            run()
            firsts.append(time.perf_counter() - start)
            spent += firsts[-1]
            peak = max(peak, _rss_mb(system == "ray"))
        times: list[float] = []  # the last graph run again
        while len(times) < max(1, repeats - 1) and (not times or spent < 2 * budget_s):
            gc.collect()
            start = time.perf_counter()
            run()
            times.append(time.perf_counter() - start)
            spent += times[-1]
            peak = max(peak, _rss_mb(system == "ray"))
    if system == "ray":
        import ray

        ray.shutdown()
    return {
        "system": system,
        "shape": shape,
        "phases": n,
        "runs": f"{len(firsts)}+{len(times)}",
        "first_us": min(firsts) / n * 1e6,
        "reuse_us": min(times) / n * 1e6,
        "rss_growth_mb": round(peak - rss_before, 1),
    }


def _spawn(system: str, shape: str, n: int, repeats: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "phasefarm.benchmarks.peers", "--child", system, shape]
    argv += [str(n), "--repeats", str(repeats)]
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"system": system, "shape": shape, "phases": n, "error": "timed out"}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"system": system, "shape": shape, "phases": n, "error": tail[:200]}
    row: dict[str, Any] = json.loads(lines[-1])
    return row


def _installed(system: str) -> bool:
    import importlib.util

    module = {"langgraph": "langgraph", "dask": "dask", "ray": "ray"}.get(system)
    return module is None or importlib.util.find_spec(module) is not None


def run_all(
    sizes: tuple[int, ...] = (1_000, 10_000),
    systems: tuple[str, ...] = SYSTEMS,
    repeats: int = 5,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every row, one process each; peers not installed get a row saying so."""
    rows: list[dict[str, Any]] = []
    for n in sizes:
        for shape in SHAPES:
            for system in systems:
                if progress is not None:
                    progress(f"peers: {system} {shape} {n:,}")
                if not _installed(system):
                    rows.append(
                        {"system": system, "shape": shape, "phases": n, "error": "not installed"}
                    )
                    continue
                rows.append(_spawn(system, shape, n, repeats))
    return evaluate(rows)


def evaluate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add each row's ratio to raw asyncio and, at the largest N, the target verdicts."""
    floor = {
        (r["shape"], r["phases"]): r["reuse_us"]
        for r in rows
        if r["system"] == "asyncio" and "reuse_us" in r
    }
    ours = {
        (r["shape"], r["phases"]): r for r in rows if r["system"] == "phasefarm" and "reuse_us" in r
    }
    largest = max((r["phases"] for r in rows), default=0)
    for row in rows:
        key = (row["shape"], row["phases"])
        if "reuse_us" not in row:
            continue
        if key in floor:
            row["vs_asyncio"] = round(row["reuse_us"] / floor[key], 2)
        if key in ours and row["system"] in PEERS_CHECKED:
            # the target compares first runs (build the graph, run it once: what one job
            # costs in every system); a Dask graph computed again skips most of its work
            row["phasefarm_less"] = round(row["first_us"] / ours[key]["first_us"], 1)
            row["reuse_less"] = round(row["reuse_us"] / ours[key]["reuse_us"], 1)
            if row["phases"] == largest:
                row["target_met"] = row["phasefarm_less"] >= TARGET_FACTOR
    return rows


def missed(rows: list[dict[str, Any]]) -> list[str]:
    """Targets missed: a checked peer slower by less than TARGET_FACTOR, or a failed row."""
    out = [
        f"{r['system']} {r['shape']} {r['phases']:,}: phasefarm only {r['phasefarm_less']}x less "
        "(first run)"
        for r in rows
        if r.get("target_met") is False
    ]
    out += [
        f"{r['system']} {r['shape']} {r['phases']:,}: {r['error']}"
        for r in rows
        if "error" in r and r["error"] != "not installed"
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", nargs=3, metavar=("SYSTEM", "SHAPE", "N"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="1000,10000")
    args = parser.parse_args(argv)
    if args.child:
        system, shape, n = args.child
        print(json.dumps(child(system, shape, int(n), args.repeats)))
        return 0
    from phasefarm.benchmarks.report import print_section

    sizes = tuple(int(s) for s in args.sizes.split(","))
    rows = run_all(sizes, repeats=args.repeats, progress=lambda s: print(s, file=sys.stderr))
    result = section(rows, command="phasefarm bench peers " + " ".join(argv or []))
    print_section(result)
    return 1 if result["missed"] else 0


def section(rows: list[dict[str, Any]], *, command: str) -> dict[str, Any]:
    """The report section (see `benchmarks.report`)."""
    table = []
    for r in rows:
        head = [r["shape"], f"{r['phases']:,}", r["system"]]
        if "error" in r:
            table.append([*head, r["error"], "", "", "", "", ""])
            continue
        verdict = ""
        if "phasefarm_less" in r:
            verdict = f"{r['phasefarm_less']:g}x first, {r['reuse_less']:g}x reuse"
            if "target_met" in r:
                verdict += " met" if r["target_met"] else " MISSED"
        table.append(
            [
                *head,
                f"{r['first_us']:,.1f}",
                f"{r['reuse_us']:,.1f}",
                f"{r.get('vs_asyncio', 0):,.2f}x",
                f"{r['rss_growth_mb']:,.1f}",
                str(r["runs"]),
                verdict,
            ]
        )
    return {
        "name": "peers",
        "title": "Engine overhead beside LangGraph, Dask, Ray and raw asyncio (no-op phases)",
        "command": command.strip(),
        "columns": [
            "shape",
            "phases",
            "system",
            "first run µs/phase",
            "reuse µs/phase",
            "vs asyncio (reuse)",
            "RSS growth MB",
            "runs",
            f"peer / phasefarm (target: first run >= {TARGET_FACTOR:g}x at the largest N)",
        ],
        "rows": table,
        "notes": [
            "Each row in a fresh process. First run: a fresh graph built and run once, best of "
            "up to 3; reuse: the last graph run again, best of the rest (Ray and asyncio "
            "submit again). Runs column: first runs + reuse runs (fewer when slow).",
            "phasefarm+sqlite: the default SQLite store on a temp file, every phase checkpointed.",
            "LangGraph: StateGraph, async nodes, ainvoke; Dask: delayed, threaded scheduler; "
            "Ray: local tasks, ray.init(num_cpus=2) not counted, RSS includes its workers.",
            "Set-up paid once per process (imports, ray.init) is not counted.",
        ],
        "missed": missed(rows),
        "data": rows,
    }


if __name__ == "__main__":
    sys.exit(main())
