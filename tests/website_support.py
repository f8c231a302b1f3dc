"""Shared helpers of the website tests: build a real site with the offline provider."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from phasefarm import RunResult
from phasefarm.cli import main
from phasefarm.llm import Responder
from phasefarm.pipelines.website.job import build_flow, build_services

BRIEF = "A sourdough bakery in Lisbon called Massa Mãe, with a small cafe and weekend workshops"


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`phasefarm ARGV` in this process: (exit code, stdout, stderr)."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def build_site(
    out: Path,
    *,
    brief: str = BRIEF,
    mode: str = "parallel",
    pages: int = 4,
    images: int = 10,
    responders: dict[str, Responder] | None = None,
    **run: Any,
) -> RunResult:
    """Run the website flow at time scale 0 into `out` and return the result."""
    meta = {"out": str(out), "pages": pages, "images": images, "time_scale": 0.0}
    services = build_services(meta, responders)
    flow = build_flow(services["settings"])
    return flow.run_sync(inputs={"brief": brief}, services=services, mode=mode, **run)


def tree(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` by relative path."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def failures(result: RunResult) -> dict[str, str | None]:
    return {k: p.error for k, p in result.phases.items() if p.status != "succeeded"}


def build_flow_and_services(meta: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    services = build_services(meta)
    return build_flow(services["settings"]), services
