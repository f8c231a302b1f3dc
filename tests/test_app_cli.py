"""`phasefarm app`, `plan app`: options, bad input (one line, exit 2, nothing written)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from app_support import history
from website_support import run_cli


def _listing(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "the brief is empty"),
        (["A to-do app", "--phases", "0"], "--phases must be between 1 and 10, got 0"),
        (["A to-do app", "--phases", "11"], "--phases must be between 1 and 10, got 11"),
        (["A to-do app", "--mode", "fast"], "unknown --mode 'fast'"),
        (["A to-do app", "--time-scale", "-1"], "--time-scale must be between 0 and 100"),
        (["A to-do app", "--max-cost", "0"], "--max-cost must be positive"),
        (["A to-do app", "--call-timeout", "0"], "--call-timeout must be more than 0 seconds"),
    ],
)
def test_bad_options_are_one_line_exit_2_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "app"
    store = tmp_path / "runs.db"
    code, _, stderr = run_cli(
        ["app", *args, "--out", str(out), "--store", f"sqlite:///{store}"], capsys
    )
    assert code == 2
    assert stderr.startswith("phasefarm: error: ") and stderr.count("\n") == 1
    assert message in stderr
    assert _listing(tmp_path) == []


def test_a_folder_that_is_not_empty_needs_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "app"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _, stderr = run_cli(
        ["app", "A to-do app", "--out", str(out), "--time-scale", "0"], capsys
    )
    assert code == 2 and "is not empty" in stderr and stderr.count("\n") == 1
    assert _listing(tmp_path) == ["app", "app/notes.txt"]


def test_a_folder_inside_another_git_work_tree_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path / "repo")], check=True)
    before = _listing(tmp_path)
    out = tmp_path / "repo" / "sub" / "app"
    code, _, stderr = run_cli(
        ["app", "A to-do app", "--out", str(out), "--time-scale", "0"], capsys
    )
    assert code == 2 and "inside the git work tree" in stderr and stderr.count("\n") == 1
    assert _listing(tmp_path) == before


def test_app_runs_reports_k_of_n_phases_and_a_json_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "app"
    argv = ["app", "A notes app for my reading group", "--out", str(out), "--time-scale", "0"]
    code, stdout, stderr = run_cli(
        [
            *argv,
            "--phases",
            "3",
            "--json",
            "--preview",
            "--store",
            f"sqlite:///{tmp_path / 'r.db'}",
        ],
        capsys,
    )
    assert code == 0, stderr
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["status"] == "succeeded" and summary["out"] == str(out.resolve())
    assert "validate[3]" in summary["phases"]
    assert re.search(r"preview: http://127\.0\.0\.1:\d+/", stderr)
    assert history(out)[-1] == "Review: no problems left"
    assert len(history(out)) == 5
    # again into the same folder: refused, the app is kept
    code, _, stderr = run_cli([*argv, "--force"], capsys)
    assert code == 2 and "phasefarm resume" in stderr
    assert len(history(out)) == 5


def test_progress_lines_say_k_of_n_phases_completed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from phasefarm.pipelines.app.commands import progress_line

    assert progress_line({"done": 2, "failed": 0, "skipped": 0, "total": 5}) == (
        "2/5 phases completed"
    )
    assert progress_line({"done": 2, "failed": 1, "skipped": 2, "total": 5}) == (
        "2/5 phases completed (1 failed, 2 skipped)"
    )


def test_plan_app_shows_the_estimate_of_each_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, _ = run_cli(["plan", "app", "--json"], capsys)
    assert code == 0
    plan = json.loads(stdout)
    assert plan["estimates"] == {"sequential": 1460.0, "waves": 490.0, "parallel": 280.0}
    assert plan["critical_path"][0] == "blueprint" and plan["critical_path"][-1] == "review"
    code, stdout, _ = run_cli(["plan", "app"], capsys)
    assert code == 0 and "critical path" in stdout and "note 000" in stdout
