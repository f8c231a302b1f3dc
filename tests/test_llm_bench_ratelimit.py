"""The ratelimit benchmark's machinery at a small size (the rates are the benchmark's business)."""

from __future__ import annotations

import pytest

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
