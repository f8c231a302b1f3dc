"""`phasefarm bench`: every workload, one process each; a table each, one JSON file, the README.

Workloads: overhead (the engine's own targets, `benchmarks.overhead`), peers (overhead beside
LangGraph, Dask, Ray, asyncio), barrier, jitter, website, ratelimit, and `app` when
`phasefarm.benchmarks.app` exists: its `bench_section(command: str, quick: bool) -> dict` (a
section, see `benchmarks.report`) if it has one, else its `main([])` and exit code.
Each runs as `python -m phasefarm.benchmarks.suite --workload NAME` and prints its section as
JSON; the parent prints the tables, writes them all to `--json-out`, draws the website Gantt
beside it, and with `--readme` rewrites the README between the bench markers (copying the
PNG to docs/img/). The exit code is 1 while any target is missed, 2 on bad options.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["WORKLOADS", "main", "run_workload"]

WORKLOADS = ("overhead", "peers", "barrier", "jitter", "website", "ratelimit", "app")


def _has_app() -> bool:
    return importlib.util.find_spec("phasefarm.benchmarks.app") is not None


def run_workload(name: str, quick: bool) -> dict[str, Any]:
    """One workload's section, in this process."""
    if name == "peers":
        from phasefarm.benchmarks import peers

        sizes = (1_000,) if quick else (1_000, 10_000)
        rows = peers.run_all(sizes, repeats=2 if quick else 5)
        return peers.section(rows, command="phasefarm bench peers")
    if name == "barrier":
        from phasefarm.benchmarks.barrier import section as barrier_section

        return barrier_section(time_scale=0.02 if quick else 0.05)
    if name == "jitter":
        from phasefarm.benchmarks.barrier import website_skeleton
        from phasefarm.benchmarks.jitter import section as jitter_section

        return jitter_section(website_skeleton(), seeds=20 if quick else 40)
    if name == "website":
        from phasefarm.benchmarks import website

        scale = 0.02 if quick else 0.05
        data = website.run_benchmark(time_scale=scale)
        return website.section(data, command=f"phasefarm bench website --time-scale {scale}")
    if name == "ratelimit":
        from phasefarm.benchmarks import ratelimit

        calls, trials = (100, 1) if quick else (400, 3)
        rows = ratelimit.run(trials=trials, calls=calls)
        command = f"phasefarm bench ratelimit --calls {calls} --trials {trials}"
        return ratelimit.section(rows, keys=3, rpm=600, tpm=120_000, command=command)
    if name == "overhead":
        return _overhead_section(quick)
    if name == "app":
        module: Any = importlib.import_module("phasefarm.benchmarks.app")
        if hasattr(module, "bench_section"):
            return dict(module.bench_section(command="phasefarm bench app", quick=quick))
        code = module.main([])  # no section offered: its own output, and its exit code
        return {
            "name": "app",
            "title": "App job (its own table printed above)",
            "command": "phasefarm bench app",
            "columns": ["exit code"],
            "rows": [[str(code)]],
            "missed": [f"app: exit code {code}"] if code else [],
        }
    raise ValueError(f"unknown workload {name!r}")


def _overhead_section(quick: bool) -> dict[str, Any]:
    """The engine's overhead benchmark, each shape in its own process, with its targets."""
    from phasefarm.benchmarks import overhead

    phases = 1_000 if quick else 10_000
    rows, table = [], []
    for shape in ("wide", "chain"):
        argv = [sys.executable, "-m", "phasefarm.benchmarks.overhead", "--shape", shape]
        argv += ["--phases", str(phases), "--repeats", "2" if quick else "5"]
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["met"] = overhead.passed(row)
        rows.append(row)
        table.append(overhead.table_row(row))
    return {
        "name": "overhead",
        "title": f"Engine overhead, {phases:,} no-op phases, beside raw asyncio (best of runs)",
        "command": f"phasefarm bench overhead --phases {phases}",
        "columns": list(overhead.COLUMNS),
        "rows": table,
        "notes": [
            "Each shape in its own process; per repeat, alternated: the first run of a freshly "
            "defined flow (it compiles its graph; defining it is not counted), a second run of "
            "it, raw asyncio (gather of no-op coroutines; a chain of tasks each awaiting the "
            "previous), and the second flow run again with a fresh default SQLite store on a "
            "temp file (synchronous=FULL). No listener. Best of the repeats.",
            f"Targets: {overhead.TARGETS_TEXT}.",
        ],
        "missed": [f"overhead {r['shape']}" for r in rows if not r["met"]],
        "data": rows,
    }


def _spawn(name: str, quick: bool) -> dict[str, Any]:
    argv = [sys.executable, "-m", "phasefarm.benchmarks.suite", "--workload", name]
    done = subprocess.run(argv + (["--quick"] if quick else []), capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {
            "name": name,
            "title": f"{name}: did not finish",
            "command": f"phasefarm bench {name}",
            "columns": ["error"],
            "rows": [[tail[:300]]],
            "missed": [f"{name}: {tail[:200]}"],
        }
    section: dict[str, Any] = json.loads(lines[-1])
    return section


def main(argv: list[str] | None = None) -> int:
    from phasefarm.benchmarks.report import markdown, print_section, update_readme

    parser = argparse.ArgumentParser(prog="phasefarm bench", description=__doc__)
    parser.add_argument("--workload", help=argparse.SUPPRESS)
    parser.add_argument("--only", default="", help="comma-separated workloads (default: all)")
    parser.add_argument("--json-out", default="bench-results.json", type=Path)
    parser.add_argument("--readme", type=Path, help="rewrite this README's bench section")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = parser.parse_args(argv)
    if args.workload:  # child: one workload, its section as JSON on stdout
        print(json.dumps(run_workload(args.workload, args.quick)))
        return 0
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(WORKLOADS)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        print(
            f"phasefarm: error: unknown workload {unknown[0]!r} (have {', '.join(WORKLOADS)})",
            file=sys.stderr,
        )
        return 2
    if "app" in names and not _has_app():
        names.remove("app")
    sections = []
    for name in names:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        section = _spawn(name, args.quick)
        if name == "website" and "data" in section:
            section["images"] = [str(_gantt(section, args.json_out.parent))]
        print_section(section)
        sections.append(section)
    command = "phasefarm bench" + (" --quick" if args.quick else "")
    command += f" --only {','.join(names)}" if args.only else ""
    missed = [line for s in sections for line in s.get("missed", [])]
    args.json_out.parent.mkdir(parents=True, exist_ok=True)
    args.json_out.write_text(
        json.dumps({"command": command, "missed": missed, "sections": sections}, indent=1)
    )
    print(f"results: {args.json_out}", file=sys.stderr)
    if args.readme is not None:
        images = args.readme.parent / "docs" / "img"
        for section in sections:
            for image in section.get("images", []):
                images.mkdir(parents=True, exist_ok=True)
                shutil.copy(image, images / Path(image).name)
        body = f"Produced by `{command}` ({len(missed)} targets missed).\n\n" + "\n".join(
            markdown(s, image_dir="docs/img") for s in sections
        )
        if not update_readme(args.readme, body):
            print(f"phasefarm: error: no bench markers in {args.readme}", file=sys.stderr)
            return 2
    for line in missed:
        print(f"MISSED {line}", file=sys.stderr)
    return 1 if missed else 0


def _gantt(section: dict[str, Any], folder: Path) -> Path:
    from phasefarm.benchmarks.gantt import draw_gantt

    data = section["data"]
    runs = {mode: r["cli"].get("phases", {}) for mode, r in data["modes"].items()}
    return draw_gantt(
        runs,
        time_scale=data["time_scale"],
        path=folder / "website-gantt.png",
        title="website job, CLI runs (SQLite store), seed profile",
    )


if __name__ == "__main__":
    sys.exit(main())
