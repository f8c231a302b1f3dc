"""The ratelimit benchmark's machinery at a small size (the rates are the benchmark's business)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from phasefarm.benchmarks.ratelimit import render, run_scenario


def test_known_limits_scenario_sends_no_request_the_server_refuses() -> None:
    result = run_scenario("known", calls=40, keys=2, rpm=1200, tpm=200_000, latency=0.002)
    assert result.succeeded == 40 and result.failed == 0
    assert result.http_429 == 0 and result.http_requests == 40
    assert 0 < result.utilization <= 1.05
    assert result.allowed_rpm > result.accepted_rpm > 0


def test_unknown_limits_scenario_recovers_from_every_429() -> None:
    result = run_scenario("unknown", calls=40, keys=2, rpm=600, tpm=200_000, latency=0.002)
    assert result.succeeded == 40 and result.failed == 0
    assert result.http_429 > 0  # a burst of 40 over 2 keys with a burst size of 10 each
    assert result.http_requests == 40 + result.http_429
    table = render([result], keys=2, rpm=600, tpm=200_000)
    assert table.row_count == 1
    out = io.StringIO()
    Console(file=out, width=200).print(table)
    assert "429s <=10% of calls" in out.getvalue()


def test_unknown_limits_are_learned_without_a_429_per_call() -> None:
    # 2 keys x 20 requests/s with a burst of 20 each: the 60 calls beyond the bursts meet the
    # limit while the limiter learns it. A concurrency window alone sends one call too many
    # every time a 429's block lifts (45 to 55 429s here); a rate learned from the calls
    # accepted between 429s costs the first burst's few and an occasional probe (10 to 16).
    result = run_scenario("unknown", calls=100, keys=2, rpm=1200, tpm=1_000_000, latency=0.002)
    assert result.succeeded == 100 and result.failed == 0
    assert 0 < result.http_429 <= 25


def test_cli_refuses_fewer_than_200_calls(capsys) -> None:
    from phasefarm.cli import main

    with pytest.raises(SystemExit) as info:
        main(["bench", "ratelimit", "--calls", "10"])
    assert info.value.code == 2
    assert "at least 200" in capsys.readouterr().err


def test_unknown_scenario_name() -> None:
    with pytest.raises(ValueError, match="scenario"):
        run_scenario("sometimes")


def test_announced_limits_scenario_sends_no_request_the_server_refuses() -> None:
    result = run_scenario("announced", calls=40, keys=2, rpm=600, tpm=200_000, latency=0.002)
    assert result.succeeded == 40 and result.failed == 0
    assert result.http_429 == 0
