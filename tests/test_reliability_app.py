"""Faults and hostile output in whole app runs over the OpenAI API (issue 16, items 2 and 3).

The fake server's answers are a function of each request, so a run that meets faults must end
exactly as the same run without them. Its code is schema-valid text, never working HTML, so
every phase fails validation after its bounded fix rounds (tests/test_app_openai.py); the
comparisons below hold whatever the phases' outcome.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from phasefarm import RunResult
from phasefarm.pipelines.app.job import build_flow, build_services
from phasefarm.testing.fake_openai import FakeOpenAI, Faults

KEY = "sk-app-reliability-01"
BRIEF = "A to-do app"
HUGE = 300_000
ESCAPES = [
    "../escape.html",
    "/etc/passwd.json",
    "a/../../b.js",
    "..\\..\\win.css",
    "~/home.html",
    "%2e%2e/enc.html",
    "C:/drive.js",
    "a//double.css",
    "./dot.html",
    "preview/../../up.js",
    "a/\x00nul.html",
    "\uff0e\uff0e/wide.html",
]


def run_app(
    server: FakeOpenAI, out: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[RunResult, dict[str, str]]:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    meta = {"out": str(out), "provider": "openai", "model": "fake-model", "phases": 2}
    services = build_services(meta)
    result = build_flow(services["settings"]).run_sync(inputs={"brief": BRIEF}, services=services)
    return result, {k: p.status for k, p in result.phases.items()}


def tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    }


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Any]]:
    root = tmp_path_factory.mktemp("app-baseline")
    with pytest.MonkeyPatch.context() as monkeypatch, FakeOpenAI() as server:
        _, statuses = run_app(server, root / "app", monkeypatch)
    yield statuses, tree(root / "app")


@pytest.mark.parametrize(
    "faults",
    [
        Faults(transient_rate=0.2, reset_rate=0.1, max_in_a_row=2, seed=4),
        Faults(rate_limited_rate=0.15, retry_after=0.05, max_in_a_row=2, seed=4),
    ],
    ids=["30-percent-5xx-and-resets", "429-with-retry-after"],
)
def test_faults_change_nothing_in_the_app(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    baseline: tuple[dict[str, str], Any],
    faults: Faults,
) -> None:
    with FakeOpenAI(faults=faults) as server:
        _, statuses = run_app(server, tmp_path / "app", monkeypatch)
        counts = server.fault_counts
    assert sum(counts.values()) > 0
    assert counts.get("transient", 0) > 0 or counts.get("rate_limited", 0) > 0
    assert statuses == baseline[0]
    assert tree(tmp_path / "app") == baseline[1]


def test_the_review_failing_for_good_leaves_every_other_phase_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, baseline: tuple[dict[str, str], Any]
) -> None:
    with FakeOpenAI() as server:
        server.rule("CheckReport", status=400)
        result, statuses = run_app(server, tmp_path / "app", monkeypatch)
        refused = [r.call for r in server.requests if r.reason == "rule_status"]
    assert statuses["review"] == "failed" and "400" in (result.phases["review"].error or "")
    assert {k: v for k, v in statuses.items() if k != "review"} == {
        k: v for k, v in baseline[0].items() if k != "review"
    }
    assert refused and len(set(refused)) == len(refused)  # a client error is never re-sent


def escaping(schema: dict[str, Any], value: Any) -> Any:
    """Every file path in a blueprint replaced by a path escaping the workspace."""
    paths = iter(ESCAPES * 10)

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            return {
                k: [next(paths) for _ in v] if k == "files" else walk(v) for k, v in item.items()
            }
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value) if "roadmap" in schema.get("properties", {}) else value


def test_paths_escaping_the_workspace_in_every_form_fail_the_blueprint_and_write_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "work" / "app"
    with FakeOpenAI(rewrite=escaping) as server:
        result, statuses = run_app(server, out, monkeypatch)
        blueprint_answers = [r for r in server.requests if r.path == "chat"]
    assert statuses["blueprint"] == "failed"
    assert all(s in ("skipped", "failed") for s in statuses.values())
    assert "files" in (result.phases["blueprint"].error or "")
    assert 1 <= len(blueprint_answers) <= 3 * 3  # bounded: attempts × answers per attempt
    outside = [p for p in tmp_path.rglob("*") if not p.is_relative_to(out) and p not in out.parents]
    assert outside == []
    assert not any(
        p.name.startswith(("escape", "passwd", "b.js", "up.js")) for p in tmp_path.rglob("*")
    )


def test_huge_file_contents_fail_each_file_after_bounded_tries_and_reach_no_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "app"
    with FakeOpenAI() as server:
        server.rule("FileContent", content='{"content": "' + "A" * HUGE + '"}')
        _, statuses = run_app(server, out, monkeypatch)
        hits = server.fault_counts.get("rule_content", 0)
    implement = [k for k in statuses if k.startswith(("implement", "file"))]
    assert implement and all(statuses[k] != "succeeded" for k in implement), statuses
    assert hits > 0
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"A" * 1000 not in path.read_bytes(), path
