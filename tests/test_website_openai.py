"""The website job through the OpenAI-compatible provider, against a real HTTP server.

The fake server answers structured-output requests with values synthesized from the JSON
schema we send (plausible words, random enums, slugs and references that do not match each
other), so this also shows the job turns any schema-valid answers into a sound site.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasefarm.pipelines.website.checks import check_site
from phasefarm.pipelines.website.steps import png_size
from phasefarm.testing.fake_openai import FakeOpenAI
from website_support import build_flow_and_services, failures, run_cli


def test_website_over_the_openai_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeOpenAI(keys=["sk-test"]) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        out = tmp_path / "site"
        meta = {"out": str(out), "provider": "openai", "model": "fake-model", "pages": 3}
        flow, services = build_flow_and_services({**meta, "images": 3})
        result = flow.run_sync(inputs={"brief": "A bakery in Lisbon"}, services=services)
        requests = server.requests
    assert result.status == "succeeded", failures(result)
    assert check_site(out) == []
    assert len(list(out.glob("*.html"))) == 3
    chats = [r for r in requests if r.path == "chat"]
    assert chats and all(r.response_format == "json_schema" for r in chats)
    assert all(r.status == 200 for r in requests)
    images = [r for r in requests if r.path == "images"]
    planned = result.outputs["image_plan"].images
    assert 1 <= len(planned) <= 3  # the plan asks for 3; a model may give fewer, never more
    assert len(images) == len(planned) == len(list((out / "images").glob("*.png")))
    real_sizes = {(1536, 1024), (1024, 1024), (1024, 1536)}  # what the image API accepts
    assert {png_size(p.read_bytes()) for p in (out / "images").glob("*.png")} <= real_sizes
    assert result.usage.get("tokens", 0) > 0


def test_cli_run_on_a_real_provider_reports_no_seed_seconds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI(keys=["sk-cli-0000000004"]) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-cli-0000000004")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        argv = ["website", "A bakery", "--out", str(tmp_path / "site"), "--provider", "openai"]
        code, stdout, stderr = run_cli(
            [
                *argv,
                "--model",
                "fake-model",
                "--pages",
                "1",
                "--images",
                "1",
                "--store",
                "memory:",
                "--json",
            ],
            capsys,
        )
    assert code == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and summary["tokens"] > 0
    assert summary["seed_elapsed_s"] is None  # wall time of a real model is not seed time
    assert "sk-cli" not in stdout + stderr
