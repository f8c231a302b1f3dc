"""`phasefarm website`, `plan website` and resume through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from website_support import BRIEF, run_cli, tree


def website(out: Path, store: Path, *extra: str) -> list[str]:
    return ["website", BRIEF, "--out", str(out), "--store", f"sqlite:///{store}", *extra]


def test_website_builds_the_site_and_prints_a_json_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site"
    argv = website(out, tmp_path / "runs.sqlite3", "--time-scale", "0.001", "--json")
    code, stdout, _ = run_cli([*argv, "--run-id", "w1", "--pages", "3", "--images", "4"], capsys)
    assert code == 0
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["run_id"] == "w1" and summary["status"] == "succeeded"
    assert summary["out"] == str(out.resolve())
    assert summary["seed_elapsed_s"] > 0
    assert summary["phases"]["check"]["status"] == "succeeded"
    assert len([k for k in summary["phases"] if k.startswith("images[")]) == 4
    assert {"index.html", "sitemap.xml", "robots.txt", "assets/style.css"} <= set(tree(out))
    assert len(list(out.glob("*.html"))) == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "the brief is empty"),
        (["x", "--pages", "0"], "--pages must be between 1 and 20"),
        (["x", "--pages", "500"], "--pages must be between 1 and 20"),
        (["x", "--images", "41"], "--images must be between 0 and 40"),
        (["x", "--image-pool", "0"], "image pool must be between 1 and 20"),
        (["x", "--mode", "fast"], "unknown --mode 'fast'"),
        (["x", "--provider", "magic"], "unknown --provider 'magic'"),
        (["x", "--time-scale", "-1"], "--time-scale must be between 0 and 100"),
        (["x", "--max-tokens", "0"], "--max-tokens must be positive"),
        (["x", "--max-cost", "-2"], "--max-cost must be positive"),
        (["x", "--max-tokens", "1000"], "is less than one image_plan call can use"),
        (["x", "--site-url", "/page-2.html"], "--site-url must be an http(s) URL"),
        (["x", "--call-timeout", "0"], "--call-timeout must be more than 0"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "out"
    argv = ["website", *args, "--out", str(out), "--store", f"sqlite:///{tmp_path / 's.db'}"]
    code, _, stderr = run_cli(argv, capsys)
    assert code == 2
    assert stderr.strip().count("\n") == 0 and message in stderr, stderr
    assert stderr.startswith("phasefarm: error: ")
    assert not (tmp_path / "s.db").exists()
    assert not out.exists()


def test_a_refused_run_leaves_no_folder_behind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "new" / "site"
    code, _, stderr = run_cli([*website(out, tmp_path / "s.db"), "--provider", "openai"], capsys)
    assert code == 2 and "OPENAI_API_KEY" in stderr
    assert list(tmp_path.iterdir()) == []


def test_a_non_empty_out_is_refused_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("the user's")
    argv = website(out, tmp_path / "s.sqlite3", "--time-scale", "0", "--pages", "1")
    code, _, stderr = run_cli(argv, capsys)
    assert code == 2 and "exists and is not empty" in stderr and "--force" in stderr
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    code, _, _ = run_cli([*argv, "--force"], capsys)
    assert code == 0
    assert (out / "mine.txt").read_text() == "the user's" and (out / "index.html").exists()


def test_an_unwritable_out_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, stderr = run_cli(website(blocker / "site", tmp_path / "s.db"), capsys)
    assert code == 2 and "is not writable" in stderr
    code, _, stderr = run_cli(website(blocker, tmp_path / "s.db"), capsys)
    assert code == 2 and "is not a folder" in stderr


def test_plan_website_comes_from_the_simulation(capsys: pytest.CaptureFixture[str]) -> None:
    code, stdout, _ = run_cli(["plan", "website", "--json"], capsys)
    assert code == 0
    plan = json.loads(stdout)
    assert plan["estimates"]["sequential"] == pytest.approx(185.0)
    assert plan["estimates"]["parallel"] <= 45.0
    assert plan["estimates"]["parallel"] < plan["estimates"]["waves"] < 185.0
    assert plan["waves"][0] == ["design_strategy", "design_context", "section_plan"]
    code, stdout, _ = run_cli(["plan", "website", "--images", "20"], capsys)
    assert code == 0
    assert "critical path" in stdout and "sequential" in stdout and "images ×20" in stdout
    code, _, stderr = run_cli(["plan", "website", "--pages", "0"], capsys)
    assert code == 2 and "--pages" in stderr


def test_a_stopped_run_resumes_to_the_same_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "runs.sqlite3"
    fresh = tmp_path / "fresh"
    code, _, _ = run_cli(website(fresh, store, "--time-scale", "0", "--run-id", "a"), capsys)
    assert code == 0
    out = tmp_path / "out"
    argv = website(out, store, "--time-scale", "0", "--run-id", "b", "--max-tokens", "9000")
    code, _, stderr = run_cli(argv, capsys)
    assert code == 1 and "phasefarm resume b" in stderr
    assert not (out / "index.html").exists()
    resume = ["resume", "b", "--store", f"sqlite:///{store}", "--max-tokens", "10000000"]
    code, _, _ = run_cli(resume, capsys)
    assert code == 0
    assert tree(out) == tree(fresh)


def test_cache_answers_a_second_run_without_model_calls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    def build(out: str) -> dict[str, Any]:
        argv = ["website", "A tea shop in Porto", "--out", out, "--time-scale", "0"]
        code, stdout, stderr = run_cli(
            [*argv, "--cache", "cache", "--json", "--store", "memory:"], capsys
        )
        assert code == 0, stderr
        summary: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
        return summary

    first, second = build("a"), build("b")
    assert first["tokens"] > 0
    assert second["tokens"] == 0  # every call answered from the cache: nothing spent
    assert tree(tmp_path / "a") == tree(tmp_path / "b")  # the cached answers give the same site


def test_force_refuses_symlinks_and_clashes_before_any_model_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for name, make in (
        (".phasefarm-site.json.tmp", lambda p: p.symlink_to(outside / "pwned")),
        ("images", lambda p: p.symlink_to(outside)),
        ("index.html", lambda p: p.mkdir()),
    ):
        out = tmp_path / f"out-{name.strip('.')}"
        out.mkdir()
        make(out / name)
        argv = ["website", "A bakery", "--out", str(out), "--force", "--time-scale", "0"]
        code, _, stderr = run_cli([*argv, "--store", "memory:"], capsys)
        assert code == 2, (name, stderr)
        assert len(stderr.strip().splitlines()) == 1
        assert list(outside.iterdir()) == []


def test_manifest_replaces_a_planted_link_instead_of_writing_through_it(tmp_path: Path) -> None:
    from phasefarm.files import atomic_write

    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    link = tmp_path / "out" / "manifest.json"
    link.parent.mkdir()
    link.symlink_to(outside)
    atomic_write(link, b"new")
    assert outside.read_text() == "keep"
    assert not link.is_symlink() and link.read_bytes() == b"new"


def test_unusable_cache_folder_and_nan_caps_are_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("x")
    cases = [
        ["--cache", str(tmp_path / "afile" / "sub")],
        ["--max-cost", "nan"],
        ["--max-tokens", "-5"],
        ["--time-scale", "inf"],
    ]
    for extra in cases:
        argv = ["website", "A bakery", "--out", str(tmp_path / "out"), "--store", "memory:"]
        code, _, stderr = run_cli([*argv, *extra], capsys)
        assert code == 2, (extra, stderr)
        assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr


def test_a_run_prints_its_id_and_runs_shows_brief_and_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = str(tmp_path / "runs.sqlite3")
    out = tmp_path / "site"
    argv = ["website", BRIEF, "--out", str(out), "--time-scale", "0", "--store", store]
    code, stdout, stderr = run_cli([*argv, "--run-id", "bakery-1", "--pages", "1"], capsys)
    assert code == 0, stderr
    assert "run: bakery-1" in stdout.splitlines()
    code, stdout, _ = run_cli(["runs", "--store", store, "--json"], capsys)
    [listed] = [json.loads(line) for line in stdout.splitlines()]
    assert listed["brief"] == BRIEF and listed["out"] == str(out.resolve())
    code, stdout, _ = run_cli(["runs", "--store", store], capsys)
    assert code == 0 and "sourdough" in stdout and "bakery-1" in stdout


def test_resume_of_a_run_whose_output_was_deleted_rebuilds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    store = str(tmp_path / "runs.sqlite3")
    out = tmp_path / "site"
    argv = ["website", BRIEF, "--out", str(out), "--time-scale", "0", "--store", store]
    assert run_cli([*argv, "--run-id", "r1", "--pages", "2"], capsys)[0] == 0
    before = tree(out)
    shutil.rmtree(out)
    code, stdout, stderr = run_cli(["resume", "r1", "--store", store], capsys)
    assert code == 0, stderr
    assert stdout.startswith(f"rebuilt {out.resolve()} from run r1's stored outputs")
    assert tree(out) == before  # the same site, byte for byte, without a model call


@pytest.mark.parametrize(
    "argv",
    [
        ["website", "x", "--out", "o", "--pages", "many"],
        ["website", "x", "--out", "o", "--no-such-option"],
        ["website"],
        ["no-such-command"],
    ],
)
def test_option_errors_of_the_framework_are_one_line_too(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, stdout, stderr = run_cli(argv, capsys)
    assert code == 2 and stdout == ""
    assert stderr.startswith("phasefarm: error: ") and stderr.count("\n") == 1, stderr


def test_store_none_runs_without_a_store_and_builds_the_same_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from phasefarm.benchmarks.website import site_digest

    monkeypatch.chdir(tmp_path)
    fast = ["--time-scale", "0", "--pages", "2", "--images", "2", "--json"]
    code, stdout, _ = run_cli(["website", BRIEF, "--out", "bare", "--store", "none", *fast], capsys)
    assert code == 0, stdout
    assert json.loads(stdout.strip().splitlines()[-1])["status"] == "succeeded"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare"]  # no store file anywhere
    code, _, _ = run_cli(website(tmp_path / "kept", tmp_path / "runs.sqlite3", *fast), capsys)
    assert code == 0 and (tmp_path / "runs.sqlite3").is_file()
    assert site_digest(tmp_path / "bare") == site_digest(tmp_path / "kept")
    code, _, stderr = run_cli(["resume", "any-run", "--store", "none"], capsys)
    assert code == 2 and stderr.count("\n") == 1
    assert "resume needs the store the run was checkpointed in, not --store none" in stderr
