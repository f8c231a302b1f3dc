"""`phasefarm bench reliability`: one fault trial end to end, and the exit code on a miss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phasefarm.benchmarks.reliability import FaultTrial, ReliabilityReport, fault_trial
from website_support import run_cli


def test_a_fault_trial_counts_server_faults_and_loses_no_phase(tmp_path: Path) -> None:
    trial = fault_trial(3, tmp_path)
    assert trial.exit_code == 0 and trial.lost == []
    assert trial.phases > 10 and sum(trial.faults.values()) > 0
    assert trial.requests > sum(trial.faults.values())


def test_a_lost_phase_fails_the_report() -> None:
    good = FaultTrial(1, 0, 20, [], {"transient": 3}, 30)
    lost = FaultTrial(2, 1, 20, ["seo_strategy"], {"transient": 9}, 40)
    assert ReliabilityReport([good], None).ok
    report = ReliabilityReport([good, lost], None)
    assert not report.ok and report.to_dict()["phases_lost"] == 1
    assert report.faults == {"transient": 12}


def test_cli_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        ["bench", "reliability", "--trials", "1", "--kill-trials", "0", "--json"], capsys
    )
    data = json.loads(out[out.index("{") :])
    assert code == 0, data
    assert data["fault_trials"] == 1 and data["phases_lost"] == 0
    assert sum(data["faults_injected"].values()) > 0
