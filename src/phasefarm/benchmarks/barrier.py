"""Barrier cost: the website graph with the seed latencies, run for real in phasefarm and LangGraph.

Both run the same skeleton (`Skeleton.from_flow` of the website flow): every call is an
`asyncio.sleep(seconds x time_scale)`, nothing else, so what differs is only when each system
starts a call. phasefarm runs it as a `Flow` (maps as `flow.map`, the image pool of 5) in its
three modes; LangGraph runs it as a `StateGraph` with one node per call, a waiting edge
(`add_edge([deps...], node)`) into every node with several dependencies, and the image pool
as an `asyncio.Semaphore(5)` inside the image nodes, as a LangGraph user would write it. The
figure is wall time around the whole run divided by the time scale (seed-seconds), beside the
virtual-clock figure of the same policy (`skeleton.simulate`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from phasefarm.benchmarks.skeleton import Skeleton, simulate

__all__ = ["as_flow", "as_langgraph", "run_barrier", "website_skeleton"]

SYSTEMS = (
    ("phasefarm parallel", "dependency"),
    ("phasefarm waves", "waves"),
    ("phasefarm sequential", "sequential"),
    ("LangGraph StateGraph", "supersteps"),
)


def website_skeleton(pages: int = 4, images: int = 10) -> Skeleton:
    from phasefarm.pipelines.website.job import build_flow
    from phasefarm.pipelines.website.profile import WebsiteSettings

    return Skeleton.from_flow(build_flow(WebsiteSettings(pages=pages, images=images)))


def _first(count: int) -> Callable[[Any], list[int]]:
    def items(_source_output: Any) -> list[int]:
        return list(range(count))

    return items


def as_flow(skeleton: Skeleton, durations: Mapping[str, Sequence[float]], time_scale: float) -> Any:
    """The skeleton as a phasefarm `Flow` of sleeps."""
    from phasefarm.engine.flow import Flow

    flow = Flow("skeleton", pools=dict(skeleton.pools))
    for step in skeleton.steps:
        calls = [s * time_scale for s in durations[step.name]]

        async def work(index: int = 0, calls: list[float] = calls) -> list[int]:
            await asyncio.sleep(calls[index])
            return list(range(64))  # a map's items come from its source's output

        if step.over is None:
            flow.phase(work, name=step.name, needs=step.deps, wave=step.wave)
        else:
            flow.map(
                step.over,
                items=_first(step.calls),
                name=step.name,
                needs=step.deps,
                pool=step.pool or "default",
                expect=step.calls,
                wave=step.wave,
            )(work)
    return flow


def as_langgraph(
    skeleton: Skeleton, durations: Mapping[str, Sequence[float]], time_scale: float
) -> Callable[[], Any]:
    """The skeleton as a compiled LangGraph `StateGraph`; returns a coroutine factory."""
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict, total=False):
        done: int

    semaphores: dict[str, asyncio.Semaphore] = {}
    graph = StateGraph(State)
    nodes: dict[str, list[str]] = {}
    has_dependents: set[str] = set()
    for step in skeleton.steps:
        names = [step.name] if step.calls == 1 else [f"{step.name}.{i}" for i in range(step.calls)]
        nodes[step.name] = names
        before = [node for dep in step.deps for node in nodes[dep]]
        has_dependents.update(before)
        for name, seconds in zip(names, durations[step.name], strict=True):

            async def call(
                state: State, seconds: float = seconds * time_scale, pool: str | None = step.pool
            ) -> dict[str, Any]:
                if pool is None:
                    await asyncio.sleep(seconds)
                else:
                    async with semaphores[pool]:
                        await asyncio.sleep(seconds)
                return {}

            graph.add_node(name, call)
            if not before:
                graph.add_edge(START, name)
            elif len(before) == 1:
                graph.add_edge(before[0], name)
            else:
                graph.add_edge(before, name)
    for names in nodes.values():
        for name in names:
            if name not in has_dependents:
                graph.add_edge(name, END)
    compiled = graph.compile()

    async def run() -> Any:
        semaphores.clear()
        semaphores.update({pool: asyncio.Semaphore(size) for pool, size in skeleton.pools.items()})
        return await compiled.ainvoke({}, {"recursion_limit": 1000})

    return run


def run_barrier(
    *, time_scale: float = 0.05, pages: int = 4, images: int = 10, langgraph: bool = True
) -> list[dict[str, Any]]:
    """One row per system: measured and simulated seed-seconds, ratio to the bound."""
    skeleton = website_skeleton(pages, images)
    durations = skeleton.durations()
    bound = skeleton.bound(durations)
    rows = []
    for system, policy in SYSTEMS:
        row: dict[str, Any] = {"system": system, "policy": policy}
        row["simulated_s"] = round(simulate(skeleton, durations, policy)[0], 2)
        if system.startswith("LangGraph"):
            if not langgraph:
                rows.append({**row, "error": "langgraph not installed"})
                continue
            run = as_langgraph(skeleton, durations, time_scale)
            start = time.perf_counter()
            asyncio.run(run())
        else:
            flow = as_flow(skeleton, durations, time_scale)
            mode = system.split()[-1]
            start = time.perf_counter()
            result = flow.run_sync(mode=mode)
            if result.status != "succeeded":
                raise RuntimeError(f"skeleton run in {mode} mode ended {result.status}")
        measured = (time.perf_counter() - start) / time_scale
        row["measured_s"] = round(measured, 2)
        row["vs_bound"] = round(measured / bound, 3)
        row["bound_s"] = round(bound, 2)
        rows.append(row)
    return rows


def section(*, time_scale: float = 0.05) -> dict[str, Any]:
    """The report section (see `benchmarks.report`)."""
    import importlib.util

    has_langgraph = importlib.util.find_spec("langgraph") is not None
    rows = run_barrier(time_scale=time_scale, langgraph=has_langgraph)
    table = []
    for r in rows:
        if "error" in r:
            table.append([r["system"], r["policy"], f"{r['simulated_s']:.1f}", r["error"], ""])
            continue
        table.append(
            [
                r["system"],
                r["policy"],
                f"{r['simulated_s']:.1f}",
                f"{r['measured_s']:.1f}",
                f"{r['vs_bound']:.3f}x",
            ]
        )
    bound = next((r["bound_s"] for r in rows if "bound_s" in r), 0.0)
    ours = next(r for r in rows if r["policy"] == "dependency")
    missed = [
        f"barrier: phasefarm parallel not ahead of {r['system']}"
        for r in rows
        if r is not ours and "measured_s" in r and r["measured_s"] <= ours["measured_s"]
    ]
    return {
        "name": "barrier",
        "title": f"Barrier cost: the website graph, seed latencies, time scale {time_scale}",
        "command": f"phasefarm bench barrier --time-scale {time_scale}",
        "columns": ["system", "schedule", "virtual clock", "measured", f"vs bound ({bound:.1f})"],
        "rows": table,
        "notes": [
            "Same skeleton in both systems: every call an asyncio.sleep of its seed seconds x "
            "the time scale (even-split profile); seed-seconds = wall time / time scale.",
            "LangGraph: one node per call, waiting edges for several dependencies, the image "
            "pool of 5 as a semaphore in the image nodes; a superstep ends when its slowest "
            "node does.",
            "Target: phasefarm parallel measured ahead of waves, sequential and LangGraph.",
        ],
        "missed": missed,
        "data": rows,
    }
