"""Faults injected by the fake OpenAI server into whole website runs (issue 16, item 2).

Every fault is scripted from a seed and decided per call (`fake_faults`), so the same calls
fail the same number of times whatever order concurrent calls arrive in; nothing here asserts
on how long anything took.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from phasefarm.pipelines.website.checks import check_site
from phasefarm.testing.fake_openai import FakeOpenAI, Faults
from reliability_support import KEY, statuses, website_over
from website_support import run_cli

# the phases that need seo_strategy, directly or not (the website flow's graph)
SEO_DEPENDENTS = {"page_seo", "assemble", "check"}


def test_30_percent_transient_errors_and_resets_all_phases_succeed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = Faults(transient_rate=0.2, reset_rate=0.1, max_in_a_row=2, seed=11)
    with FakeOpenAI(faults=faults) as server:
        code, summary, stderr = website_over(server, tmp_path, capsys, monkeypatch)
        counts = server.fault_counts
        requests = server.requests
    assert code == 0, stderr
    assert set(statuses(summary).values()) == {"succeeded"}
    assert counts.get("transient", 0) > 0 and counts.get("reset", 0) > 0
    # every call that met a fault was answered in the end
    answered = {r.call for r in requests if r.status == 200}
    assert {r.call for r in requests if r.reason in ("transient", "reset")} <= answered
    assert check_site(tmp_path / "site") == []


def test_one_step_failing_for_good_skips_only_its_dependents(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI() as server:
        server.rule("SeoStrategy", status=400)
        code, summary, stderr = website_over(server, tmp_path, capsys, monkeypatch)
        counts = server.fault_counts
    assert code == 1
    phases = statuses(summary)
    failed = {n for n, s in phases.items() if s == "failed"}
    skipped = {n for n, s in phases.items() if s == "skipped"}
    assert failed == {"seo_strategy"}
    assert {n.split("[")[0] for n in skipped} == SEO_DEPENDENTS
    others = set(phases) - failed - skipped
    assert others and all(phases[n] == "succeeded" for n in others)
    assert {"images", "page_code", "stylesheet", "copywriting"} <= others
    # the summary names what failed and why, in one line
    line = next(ln for ln in stderr.splitlines() if "seo_strategy" in ln and "400" in ln)
    assert "Traceback" not in stderr and len(line) < 400
    # a client error is not retried by the transport; the phase tries its attempts once each
    assert counts["rule_status"] == summary["phases"]["seo_strategy"]["attempts"]


def test_429_storm_with_retry_after_no_phase_fails_and_no_call_comes_early(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = Faults(rate_limited_rate=0.15, retry_after=0.2, max_in_a_row=1, seed=5)
    with FakeOpenAI(faults=faults) as server:
        server.fail_next(429, count=6, retry_after=0.2)  # the first calls all meet a 429
        code, summary, stderr = website_over(server, tmp_path, capsys, monkeypatch)
        counts = server.fault_counts
        requests = server.requests
    assert code == 0, stderr
    assert set(statuses(summary).values()) == {"succeeded"}
    assert counts["scripted"] == 6 and counts.get("rate_limited", 0) > 0
    # the same call is sent again only once its Retry-After has passed (both times are read
    # on this process's monotonic clock: the 429's arrival precedes its sending and receipt)
    by_call: dict[str, list[float]] = defaultdict(list)
    refused: list[tuple[str, float, float]] = []
    for r in requests:
        by_call[r.call].append(r.t)
        if r.status == 429:
            assert r.retry_after is not None
            refused.append((r.call, r.t, r.retry_after))
    assert len(refused) == 6 + counts["rate_limited"]
    for call, at, wait in refused:
        later = [t for t in by_call[call] if t > at]
        assert later, "a refused call was never sent again"
        assert min(later) >= at + wait


def test_a_step_that_never_answers_fails_on_its_time_limit_and_the_rest_finish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeOpenAI() as server:
        server.rule("Stylesheet", stall=True)
        code, summary, stderr = website_over(
            server, tmp_path, capsys, monkeypatch, "--call-timeout", "0.5"
        )
        counts = server.fault_counts
    assert code == 1
    phases = statuses(summary)
    assert phases["stylesheet"] == "failed"
    assert {n for n, s in phases.items() if s == "skipped"} == {"assemble", "check"}
    assert {n for n, s in phases.items() if s == "succeeded"} == set(phases) - {
        "stylesheet",
        "assemble",
        "check",
    }
    assert counts["stall"] >= 1
    line = next(ln for ln in stderr.splitlines() if "stylesheet" in ln)
    assert "time" in line.lower()


def test_faults_follow_the_call_not_the_arrival_order() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    other = {"model": "m", "messages": [{"role": "user", "content": "bye"}]}
    faults = Faults(transient_rate=0.5, reset_rate=0.5, max_in_a_row=2, seed=1)
    with FakeOpenAI(faults=faults) as server, httpx.Client(base_url=server.url) as client:
        outcomes = []
        for request in (body, other, body, other, body, other):
            try:
                outcomes.append(client.post("/chat/completions", json=request).status_code)
            except httpx.RemoteProtocolError:
                outcomes.append(0)  # the connection broke mid-answer
        counts = server.fault_counts
    # every attempt of a call faults until max_in_a_row, then it is answered
    assert outcomes[4:] == [200, 200] and all(o in (0, 503) for o in outcomes[:4])
    assert sum(counts.values()) == 4 and counts == {
        "transient": outcomes.count(503),
        "reset": outcomes.count(0),
    }


def test_the_app_job_gives_up_a_call_that_never_answers_at_its_time_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`phasefarm app --call-timeout`: file calls that never answer fail their phases at the
    limit, retries included, instead of holding the run; the rest of the job ends cleanly."""
    with FakeOpenAI(keys=[KEY]) as server:
        server.rule("FileContent", stall=True)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.url)
        argv = ["app", "A to-do app", "--out", str(tmp_path / "app"), "--phases", "2"]
        argv += ["--provider", "openai", "--model", "fake-model", "--call-timeout", "0.5"]
        argv += ["--store", f"sqlite:///{tmp_path / 'runs.db'}", "--json"]
        code, stdout, stderr = run_cli(argv, capsys)
        stalled = server.fault_counts["stall"]
    assert code == 1
    summary = json.loads(stdout.strip().splitlines()[-1])
    phases = statuses(summary)
    assert phases["blueprint"] == phases["concept[1]"] == "succeeded"
    timed_out = [n for n, s in phases.items() if n.startswith("implement[") and s == "failed"]
    assert timed_out and stalled >= 1  # some never reached the server: the limit covers waits
    for name in timed_out:
        assert "time" in summary["phases"][name]["error"].lower(), summary["phases"][name]
    assert "time" in next(ln for ln in stderr.splitlines() if "implement[" in ln).lower()
