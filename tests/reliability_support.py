"""Shared by the reliability tests: the website job over the CLI against a fake server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from phasefarm.benchmarks.reliability import website_args
from phasefarm.testing.fake_openai import FakeOpenAI
from website_support import run_cli

BRIEF = "A bakery in Lisbon with weekend workshops"
KEY = "sk-reliability-0000000001"


def website_over(
    server: FakeOpenAI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *extra: str,
    pages: int = 2,
    images: int = 2,
) -> tuple[int, dict[str, Any], str]:
    """`phasefarm website` on `server`: (exit code, the JSON summary, stderr)."""
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    argv = [*website_args(tmp_path, pages, images, brief=BRIEF), *extra]
    code, stdout, stderr = run_cli(argv, capsys)
    lines = stdout.strip().splitlines()
    summary = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return code, summary, stderr


def statuses(summary: dict[str, Any]) -> dict[str, str]:
    return {name: p["status"] for name, p in summary.get("phases", {}).items()}
