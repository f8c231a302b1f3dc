"""The website job against OpenAI-compatible servers as they really are: a revoked key beside
a good one, token caps, no images endpoint, a server that only says 429; and slugs that share
their first 40 characters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from phasefarm.pipelines.website.checks import check_site
from phasefarm.pipelines.website.offline import responders
from phasefarm.pipelines.website.profile import WebsiteSettings
from phasefarm.testing.fake_openai import FakeOpenAI
from website_support import build_flow_and_services, build_site, failures, run_cli

GOOD = "sk-good-0000000001"
REVOKED = "sk-revoked-000000002"


def run_openai(out: Path, server: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, **meta: object):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    options = {"out": str(out), "provider": "openai", "model": "gpt-4o-mini", **meta}
    flow, services = build_flow_and_services(options)
    result = flow.run_sync(inputs={"brief": "A bakery in Lisbon"}, services=services)
    return result, services["llm"]


def test_one_revoked_key_all_phases_succeed_on_the_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", f"{REVOKED},{GOOD}")
    with FakeOpenAI(keys=[GOOD]) as server:
        result, _ = run_openai(tmp_path / "site", server, monkeypatch, pages=2, images=3)
        requests = server.requests
    assert result.status == "succeeded", failures(result)
    refused = [r.status for r in requests if r.key_id == "?"]
    # Only the calls already sent on it before the first 401 came back (the limiter's starting
    # window lets 2 go on a key whose limits are unknown); never again after it.
    assert refused in ([401], [401, 401])
    assert check_site(tmp_path / "site") == []


@pytest.mark.parametrize("cap", [2_000, 6_000, 12_000, 25_000, 400_000])
def test_max_tokens_is_never_crossed(
    cap: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", GOOD)
    with FakeOpenAI(keys=[GOOD], fuzz=True, seed=cap) as server:
        result, llm = run_openai(tmp_path / "site", server, monkeypatch, max_tokens=cap)
        answered = [r for r in server.requests if r.status == 200]
    billed = sum(r.prompt_tokens + r.completion_tokens for r in answered)  # the server's count
    assert billed <= cap and llm.usage.tokens <= cap
    assert all(r.max_tokens for r in answered if r.path == "chat")
    if cap >= 400_000:
        assert result.status == "succeeded", failures(result)
    else:
        assert result.status == "cancelled" and "budget reached" in str(result.stop_reason)


def test_without_an_images_endpoint_the_site_gets_drawn_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", GOOD)
    with FakeOpenAI(keys=[GOOD], images_endpoint=False) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        argv = ["website", "A bakery", "--out", str(tmp_path / "site"), "--provider", "openai"]
        code, stdout, stderr = run_cli(
            [*argv, "--images", "3", "--pages", "2", "--store", "memory:", "--json"], capsys
        )
        chats = [r for r in server.requests if r.path == "chat"]
    assert code == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert any("images drawn offline" in n for n in summary["notes"])
    assert len(list((tmp_path / "site" / "images").glob("*.png"))) == 3
    assert chats and all(r.status == 200 for r in chats)  # text steps still use the model


def test_a_server_that_only_says_429_ends_the_run(tmp_path: Path) -> None:
    with FakeOpenAI(keys=[GOOD]) as server:
        server.fail_next(429, count=1_000_000, retry_after=0.05)
        env = {**os.environ, "OPENAI_API_KEY": GOOD, "OPENAI_BASE_URL": server.url}
        argv = ["website", "A bakery", "--out", str(tmp_path / "site"), "--provider", "openai"]
        done = subprocess.run(
            [sys.executable, "-m", "phasefarm", *argv, "--call-timeout", "1", "--json",
             "--store", str(tmp_path / "runs.sqlite3")],
            env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    failed = {k: p for k, p in summary["phases"].items() if p["status"] == "failed"}
    assert failed and all("gave up after" in p["error"] for p in failed.values())
    assert "Traceback" not in done.stderr
    assert "resume with: phasefarm resume " in done.stderr and "--retry-failed" in done.stderr


def test_slugs_sharing_their_first_40_characters_give_distinct_pages(tmp_path: Path) -> None:
    base = responders(WebsiteSettings())
    long = "our-wonderful-seasonal-sourdough-bakery-menu"  # 44 characters

    def plan(req):  # type: ignore[no-untyped-def]
        data = base["page_plan"](req)
        for n, page in enumerate(data["pages"]):
            page["slug"] = f"{long}-{n}"
        return data

    result = build_site(tmp_path, responders={**base, "page_plan": plan})
    assert result.status == "succeeded", failures(result)
    pages = sorted(p.name for p in tmp_path.glob("*.html"))
    assert len(pages) == 4 and all(len(p) <= 40 + len(".html") for p in pages)
    assert check_site(tmp_path) == []
