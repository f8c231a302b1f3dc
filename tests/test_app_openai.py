"""The app job through the OpenAI-compatible provider, against a real HTTP server.

The fake server answers with values generated from the JSON schema we send alone (random
words, paths that match our pattern, repeated paths, text where code should be): the job must
take any schema-valid answers through every step and end each phase cleanly. Its sentences
are no HTML, so every phase fails validation after its fix rounds, with the tools' own error
text sent back to the model, and nothing is committed but the repository's start.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app_support import failures, history
from phasefarm.pipelines.app.job import build_flow, build_services
from phasefarm.testing.fake_openai import FakeOpenAI


def test_the_app_job_over_the_openai_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI(keys=["sk-app-test"]) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-app-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        out = tmp_path / "app"
        meta = {"out": str(out), "provider": "openai", "model": "fake-model", "phases": 3}
        services = build_services(meta)
        result = build_flow(services["settings"]).run_sync(
            inputs={"brief": "A to-do app"}, services=services
        )
        requests = server.requests
    chats = [r for r in requests if r.path == "chat"]
    assert chats and all(r.response_format == "json_schema" for r in chats)
    assert all(r.status == 200 for r in requests)
    statuses = {k: p.status for k, p in result.phases.items()}
    assert all(statuses[f"concept[{n}]"] == "succeeded" for n in (1, 2, 3)), failures(result)
    assert statuses["review"] == "succeeded"  # allSettled: the review runs after failures too
    for n in (1, 2, 3):
        assert statuses[f"validate[{n}]"] in ("failed", "skipped"), failures(result)
    assert "after 2 fix round(s)" in (result.phases["validate[1]"].error or "")
    fixes = [r for r in chats if "Return its whole corrected content" in r.last_message]
    # each fix request quotes the tool that rejected the file, with its own error text
    tool_error = re.compile(r"has problems:\n- (html5lib|node --check|tinycss2|json|links): \S")
    assert fixes and all(tool_error.search(r.last_message) for r in fixes)
    assert any("expected-doctype-but-got-chars" in r.last_message for r in fixes)
    commits = history(out)  # no phase commit: the start and the review only
    assert len(commits) == 2 and commits[0].startswith("Start ") and commits[1].startswith("Review")
    escaped = [p for p in tmp_path.rglob("*") if not p.is_relative_to(out)]
    assert escaped == []
