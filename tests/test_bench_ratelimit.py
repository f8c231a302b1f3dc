"""The independent rate-limited server and the ratelimit benchmark's machinery, at small sizes."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import BaseModel, Field

from phasefarm.benchmarks.limit_server import LimitServer, count_tokens, least_span, sample
from phasefarm.benchmarks.ratelimit import run_scenario, section


class Card(BaseModel):
    title: str
    summary: str
    tags: list[str] = Field(min_length=1, max_length=4)
    kind: str | None = None


def _ask(client: httpx.Client, server: LimitServer, key: str, text: str = "hi") -> httpx.Response:
    return client.post(
        server.url + "/chat/completions",
        headers={"authorization": f"Bearer {key}"},
        json={"model": "m", "messages": [{"role": "user", "content": text}]},
    )


def test_sliding_window_refuses_the_request_beyond_the_window_and_says_when() -> None:
    # 120 rpm over a 10 s window: 20 requests in any 10 seconds, the 21st refused
    server = LimitServer(keys=["k1", "k2"], rpm=120, tpm=10**6, window_s=10.0, latency=0)
    with server, httpx.Client(timeout=10) as client:
        codes = [_ask(client, server, "k1").status_code for _ in range(21)]
        refused = _ask(client, server, "k1")
        other = _ask(client, server, "k2")
    assert codes[:20] == [200] * 20 and codes[20] == 429
    assert refused.status_code == 429 and 0 < float(refused.headers["retry-after-ms"]) <= 10_000
    assert other.status_code == 200  # limits are per key
    assert [a.status for a in server.arrivals].count(429) == 2


def test_tokens_are_characters_over_3_5_and_bind_as_a_window_total() -> None:
    assert count_tokens("x" * 35) == 10 and count_tokens("x" * 36) == 11
    server = LimitServer(keys=["k"], rpm=6000, tpm=600, window_s=10.0, latency=0)
    with server, httpx.Client(timeout=10) as client:
        first = _ask(client, server, "k", "x" * 280)  # 80 tokens + the answer's
        second = _ask(client, server, "k", "x" * 280)
    assert first.status_code == 200
    usage = first.json()["usage"]
    assert usage["prompt_tokens"] == 80
    assert second.status_code == 429  # 100 tokens per 10 s window: the second does not fit


def test_least_span_is_the_schedule_of_a_client_that_knows_the_windows() -> None:
    # 10 requests per 1-s window and key: 400 calls on 3 keys are 13 full windows of 30 and a
    # partial one, sent at 0, 1, ..., 13 s; the partial window costs nothing more.
    def span(calls: int, tokens: int = 1, window_tokens: int = 10**6) -> float:
        return least_span(
            [tokens] * calls, keys=3, requests=10, window_tokens=window_tokens, window_s=1.0
        )

    assert span(400) == 13.0
    assert span(390) == 12.0 and span(391) == 13.0
    assert span(30) == 0.0  # all in the first window
    # Tokens bind: 200 a window admit two calls of 73 (not 200 / 73 = 2.7), 6 a window on 3 keys.
    assert span(60, tokens=73, window_tokens=200) == 9.0
    # Mixed sizes: each call waits until enough of the oldest ones have left its key's window.
    mixed = least_span([150, 60, 100, 100], keys=1, requests=10, window_tokens=200, window_s=1.0)
    assert mixed == 2.0  # 150 at 0; 60 at 1 (150 has left); 100 at 1; 100 at 2


def test_unknown_key_is_refused() -> None:
    server = LimitServer(keys=["k"], rpm=60, tpm=1000, latency=0)
    with server, httpx.Client(timeout=10) as client:
        assert _ask(client, server, "nope").status_code == 401


def test_sample_answers_what_the_schema_accepts() -> None:
    value = sample(Card.model_json_schema())
    Card.model_validate(value)
    assert json.dumps(value)


@pytest.mark.parametrize("scenario", ["known", "headers", "unknown", "tokens"])
def test_every_scenario_completes_every_call(scenario) -> None:
    result = run_scenario(scenario, calls=30, keys=2, rpm=600, tpm=200_000, latency=0.001)
    assert result.succeeded == 30 and result.failed == 0
    assert result.http_requests == 30 + result.http_429
    assert 0 < result.least_span_s <= result.span_s
    assert result.utilization == pytest.approx(result.least_span_s / result.span_s, abs=1e-3)


def test_scenario_name_is_checked() -> None:
    with pytest.raises(ValueError, match="scenario"):
        run_scenario("sometimes")


def test_section_marks_a_missed_row() -> None:
    row = {
        "scenario": "unknown",
        "succeeded": 10,
        "failed": 1,
        "http_requests": 12,
        "http_429": 1,
        "accepted_rpm": 100.0,
        "accepted_tpm": 1000.0,
        "span_s": 2.0,
        "least_span_s": 1.0,
        "utilization": 0.5,
        "utilization_range": [0.5, 0.6],
        "passed": False,
        "trials": 3,
    }
    out = section([row], keys=1, rpm=60, tpm=1000, command="x")
    assert out["missed"] == ["ratelimit unknown"] and out["rows"][0][-1] == "MISSED"


def test_cli_refuses_too_few_calls_in_one_line(capsys) -> None:
    from phasefarm.cli import main

    with pytest.raises(SystemExit) as info:
        main(["bench", "ratelimit", "--calls", "10"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "at least 100" in err and "Traceback" not in err


def test_cli_refuses_calls_that_fit_in_one_window(capsys) -> None:
    from phasefarm.cli import main

    with pytest.raises(SystemExit) as info:
        main(["bench", "ratelimit", "--calls", "300", "--rpm", "6000"])  # 3 x 100 a second
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "one 1-s window" in err and "Traceback" not in err


def test_runs_without_the_web_extra() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['starlette'] = None; sys.modules['uvicorn'] = None\n"
        "from phasefarm.benchmarks.ratelimit import run_scenario\n"
        "r = run_scenario('known', calls=10, keys=1, rpm=300, tpm=10**6, latency=0)\n"
        "print(r.succeeded, r.failed)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["10", "0"]
