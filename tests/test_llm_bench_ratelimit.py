"""The ratelimit benchmark's machinery at a small size (the rates are the benchmark's business).

Nothing here depends on timing: how many 429s a scenario meets depends on how busy the machine
is, so the tests check what holds whatever the timing (every call succeeds, the server's and
the client's counts agree, the server never accepts more than it allows) and leave the rates
and the 429 counts to `phasefarm bench ratelimit`. A 429 that must happen is scripted
(tests/test_llm_openai.py, tests/test_llm_limits.py)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from phasefarm.benchmarks.ratelimit import render, run_scenario


def test_known_limits_scenario_completes_within_the_servers_allowance() -> None:
    result = run_scenario("known", calls=40, keys=2, rpm=1200, tpm=200_000, latency=0.002)
    assert result.succeeded == 40 and result.failed == 0
    assert result.http_requests == 40 + result.http_429
    assert 0 < result.utilization <= 1.05  # the server's bucket never admits more
    assert result.allowed_rpm > result.accepted_rpm > 0


def test_unknown_limits_scenario_recovers_from_every_429() -> None:
    result = run_scenario("unknown", calls=40, keys=2, rpm=600, tpm=200_000, latency=0.002)
    assert result.succeeded == 40 and result.failed == 0  # every 429 (if any) recovered
    assert result.http_requests == 40 + result.http_429
    table = render([result], keys=2, rpm=600, tpm=200_000)
    assert table.row_count == 1
    out = io.StringIO()
    Console(file=out, width=200).print(table)
    assert "429s <=10% of calls" in out.getvalue()


def test_unknown_limits_are_learned_without_a_429_per_call() -> None:
    # 2 keys x 20 requests/s with a burst of 20 each. How many 429s the learning costs is the
    # benchmark's figure (10 to 16 on an idle machine); whatever the timing, every call
    # succeeds and the 429s stay far from one per call.
    result = run_scenario("unknown", calls=100, keys=2, rpm=1200, tpm=1_000_000, latency=0.002)
    assert result.succeeded == 100 and result.failed == 0
    assert result.http_requests == 100 + result.http_429 and result.http_429 < 100


def test_cli_refuses_fewer_than_200_calls(capsys) -> None:
    from phasefarm.cli import main

    with pytest.raises(SystemExit) as info:
        main(["bench", "ratelimit", "--calls", "10"])
    assert info.value.code == 2
    assert "at least 200" in capsys.readouterr().err


def test_unknown_scenario_name() -> None:
    with pytest.raises(ValueError, match="scenario"):
        run_scenario("sometimes")


def test_announced_limits_scenario_completes() -> None:
    result = run_scenario("announced", calls=40, keys=2, rpm=600, tpm=200_000, latency=0.002)
    assert result.succeeded == 40 and result.failed == 0
    assert result.http_requests == 40 + result.http_429
