"""Jobs shipped with phasefarm: ordinary Flows any user could write.

A job module exposes `prepare(meta) -> (flow, services)`; `meta` holds the CLI
options of a run (out dir, pages, provider, time scale...) and is stored with the run, so
`phasefarm resume RUN_ID` can rebuild the same flow and services. API keys are never in meta:
they come from the environment again on resume.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from phasefarm.errors import UsageError

__all__ = ["JOBS", "load_job"]

JOBS: dict[str, str] = {
    "app": "phasefarm.pipelines.app.job:prepare",
    "demo": "phasefarm.pipelines.demo:prepare",
    "website": "phasefarm.pipelines.website.job:prepare",
}

Prepare = Callable[[dict[str, Any]], tuple[Any, dict[str, Any]]]


def load_job(name: str) -> Prepare:
    """The `prepare` function of a job by flow name."""
    target = JOBS.get(name)
    if target is None:
        known = ", ".join(sorted(JOBS))
        raise UsageError(f"unknown job {name!r} (known: {known})")
    module_name, _, attr = target.partition(":")
    prepare: Prepare = getattr(importlib.import_module(module_name), attr)
    return prepare
