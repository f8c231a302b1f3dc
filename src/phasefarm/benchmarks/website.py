"""The website job in the three modes, on the seed latency profile, as a library call and as users
run it.

Per mode, two runs of the same site from the same brief with the offline provider sleeping
`seed-seconds x time_scale` per call:

- "no store": `flow.run_sync` in this process, no checkpoint store, no event listener;
- "CLI": `phasefarm website ... --json` in a fresh process and folder, so with the default
  SQLite store (`.phasefarm/runs.sqlite3`) checkpointing every phase and the CLI's progress
  listener receiving every event (its drawing is off, as output is captured).

Measured: wall time from the first phase's start to the last phase's end (`elapsed_s`, the
CLI's `seed_elapsed_s`) over the time scale, in seed-seconds. Beside it: the plan's estimate
under the even-split profile and under the per-call latency model (`benchmarks.latency`), the
critical-path bound, the speed-up over sequential, and whether all sites are byte-identical.
The CLI runs' phase spans are drawn as a Gantt chart (`gantt.py`).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from phasefarm.pipelines.website.job import build_flow, build_services
from phasefarm.pipelines.website.profile import DEFAULT_IMAGES, DEFAULT_PAGES, WebsiteSettings
from phasefarm.pipelines.website.publish import MANIFEST

__all__ = ["BRIEF", "main", "run_benchmark", "section", "site_digest"]

BRIEF = (
    "A neighbourhood sourdough bakery in Lisbon called Massa Mãe, with a small cafe, "
    "weekend baking workshops and custom cakes"
)
MODES = ("sequential", "waves", "parallel")
TARGET_PARALLEL_S = 45.0
TARGET_BOUND_RATIO = 1.05
TARGET_STORE_RATIO = 1.03  # the CLI run (store, listener) against the run without them
KINDS = ("library", "cli", "per_call")


def site_digest(out: Path) -> str:
    """One digest of every published file (paths and bytes), the manifest excluded."""
    digest = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        relative = path.relative_to(out).as_posix()
        if relative == MANIFEST or relative.startswith("."):
            continue
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _library_run(
    mode: str, out: Path, time_scale: float, pages: int, images: int, *, per_call: bool = False
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "out": str(out),
        "pages": pages,
        "images": images,
        "provider": "offline",
        "time_scale": time_scale,
        "seed": 0,
    }
    services = build_services(meta)
    if per_call:  # the same job, the offline provider sleeping the per-call model's seconds
        from phasefarm.benchmarks.latency import per_call_llm

        services["llm"] = per_call_llm(services["settings"], time_scale)
    result = build_flow(services["settings"]).run_sync(
        inputs={"brief": BRIEF}, services=services, mode=mode
    )
    ok = result.status == "succeeded"
    return {
        "status": result.status,
        "seed_s": result.elapsed_s / time_scale,
        "site": site_digest(out) if ok else "-",
    }


def _cli_run(mode: str, folder: Path, time_scale: float, pages: int, images: int) -> dict[str, Any]:
    out = folder / "site"
    argv = [sys.executable, "-m", "phasefarm", "website", BRIEF, "--out", str(out)]
    argv += ["--mode", mode, "--time-scale", str(time_scale), "--json"]
    argv += ["--pages", str(pages), "--images", str(images)]
    done = subprocess.run(
        argv,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"status": f"error: {tail[:160]}", "seed_s": 0.0, "site": "-", "phases": {}}
    summary = json.loads(lines[-1])
    ok = summary["status"] == "succeeded"
    return {
        "status": summary["status"],
        "seed_s": float(summary["seed_elapsed_s"]),
        "site": site_digest(out) if ok else "-",
        "phases": summary["phases"],
        "store": (folder / ".phasefarm" / "runs.sqlite3").is_file(),
    }


def run_benchmark(
    *, time_scale: float = 0.05, pages: int = DEFAULT_PAGES, images: int = DEFAULT_IMAGES
) -> dict[str, Any]:
    """Both runs per mode, the plans under both latency models; raw figures."""
    from phasefarm.benchmarks.latency import per_call_plan

    if time_scale <= 0:
        raise ValueError("the benchmark needs a time scale > 0 to measure seed-seconds")
    settings = WebsiteSettings(pages=pages, images=images)
    plan = build_flow(settings).plan()
    per_call = per_call_plan(settings)
    modes: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="phasefarm-bench-") as tmp:
        for mode in MODES:
            library = _library_run(mode, Path(tmp) / f"lib-{mode}", time_scale, pages, images)
            folder = Path(tmp) / f"cli-{mode}"
            folder.mkdir()
            cli = _cli_run(mode, folder, time_scale, pages, images)
            per_call_run = _library_run(
                mode, Path(tmp) / f"per-call-{mode}", time_scale, pages, images, per_call=True
            )
            modes[mode] = {
                "library": library,
                "per_call": per_call_run,
                "cli": cli,
                "planned_even_s": plan.estimate(mode),
                "planned_per_call_s": per_call.estimate(mode),
            }
    return {
        "time_scale": time_scale,
        "pages": pages,
        "images": images,
        "bound_s": plan.critical_path_s,
        "bound_per_call_s": per_call.critical_path_s,
        "modes": modes,
    }


def _missed(data: dict[str, Any]) -> list[str]:
    modes, bound = data["modes"], data["bound_s"]
    out = []
    for mode, runs in modes.items():
        for kind in ("library", "cli", "per_call"):
            if runs[kind]["status"] != "succeeded":
                out.append(f"website {mode} {kind}: {runs[kind]['status']}")
    parallel = modes["parallel"]
    for kind in ("library", "cli"):
        seconds = parallel[kind]["seed_s"]
        if seconds > TARGET_PARALLEL_S:
            out.append(f"website parallel ({kind}) {seconds:.1f} > {TARGET_PARALLEL_S:g} seed-s")
        if seconds > TARGET_BOUND_RATIO * bound:
            out.append(f"website parallel ({kind}) {seconds / bound:.3f}x the bound")
    store_ratio = parallel["cli"]["seed_s"] / parallel["library"]["seed_s"]
    if store_ratio > TARGET_STORE_RATIO:
        out.append(f"website parallel: the CLI run is {store_ratio:.3f}x the run without a store")
    sites = {runs[kind]["site"] for runs in modes.values() for kind in KINDS}
    if len(sites) != 1:
        out.append("website: the sites differ between modes or runs")
    return out


def section(data: dict[str, Any], *, command: str) -> dict[str, Any]:
    """The report section (see `benchmarks.report`)."""
    from phasefarm.benchmarks.latency import DEFAULT_MODEL

    modes, bound = data["modes"], data["bound_s"]
    sequential = modes["sequential"]["library"]["seed_s"]
    rows = []
    for mode, runs in modes.items():
        lib, cli = runs["library"]["seed_s"], runs["cli"]["seed_s"]
        rows.append(
            [
                mode,
                f"{lib:.1f}",
                f"{cli:.1f}",
                f"{(cli / lib - 1) * 100:+.1f} %" if lib else "-",
                f"{runs['planned_even_s']:.1f}",
                f"{runs['planned_per_call_s']:.1f}",
                f"{runs['per_call']['seed_s']:.1f}",
                f"{sequential / lib:.2f}x" if lib else "-",
                f"{lib / bound:.3f}x",
            ]
        )
    same = len({r[k]["site"] for r in modes.values() for k in KINDS}) == 1
    return {
        "name": "website",
        "title": f"Website job, seed profile, time scale {data['time_scale']} (seed-seconds)",
        "command": command.strip(),
        "columns": [
            "mode",
            "measured, no store",
            "measured, CLI + SQLite store",
            "store cost",
            "planned, even split",
            "planned, per-call model",
            "measured, per-call model",
            "vs sequential",
            f"vs bound ({bound:.1f})",
        ],
        "rows": rows,
        "notes": [
            "No store: flow.run_sync in-process, no listener. CLI: `phasefarm website --json` "
            "in a fresh process: default SQLite store, progress listener attached (not drawing).",
            "Even split (the calls' sleep here): a step of the note fanned out into k calls "
            "takes 1/k of its seconds per call, so the sequential total stays 185.",
            f"Per-call model: {DEFAULT_MODEL.describe()}; "
            f"critical path {data['bound_per_call_s']:.1f} seed-s.",
            f"Targets: parallel <= {TARGET_PARALLEL_S:g} seed-s and <= {TARGET_BOUND_RATIO}x "
            f"the bound in both runs, the CLI run <= {TARGET_STORE_RATIO}x the run without a "
            f"store; every site byte-identical: {'yes' if same else 'NO'}.",
        ],
        "missed": _missed(data),
        "data": data,
    }


def main(argv: list[str] | None = None) -> int:
    import argparse

    from phasefarm.benchmarks.report import print_section

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--pages", type=int, default=DEFAULT_PAGES)
    parser.add_argument("--images", type=int, default=DEFAULT_IMAGES)
    parser.add_argument("--json", action="store_true", help="the section as one JSON object")
    args = parser.parse_args(argv)
    data = run_benchmark(time_scale=args.time_scale, pages=args.pages, images=args.images)
    result = section(data, command="phasefarm bench website " + " ".join(argv or []))
    if args.json:
        print(json.dumps(result))
    else:
        print_section(result)
    return 1 if result["missed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
