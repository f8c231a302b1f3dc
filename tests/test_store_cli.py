"""`phasefarm runs` and the store's bad-input lines, through the CLI's own `main()`."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from phasefarm.cli import main
from phasefarm.store import SQLiteStore, StoredPhase
from phasefarm.store.sqlite import migrations


def cli(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return int(info.value.code or 0)


def files(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, but SQLite's -shm (a shared-memory index readers update)."""
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.endswith("-shm")
    }


def make_store(path: Path) -> None:
    with SQLiteStore(path) as s:
        s.create_run("done-1", "website", {"brief": "b"}, "parallel", {})
        s.save_phase("done-1", StoredPhase("a", "succeeded", 1, 0, 1, 1, None, "h", {"tokens": 5}))
        s.append_events("done-1", [{"seq": 0, "kind": "progress", "data": {"total": 3}}])
        s.finish_run("done-1", "failed", 2.5, 1234.0, 0.0421, None)
        s.release("done-1")


def test_runs_lists_runs(tmp_path: Path, capsys):
    store = tmp_path / "runs.db"
    make_store(store)
    assert cli("runs", "--store", str(store), "--json") == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (row["run_id"], row["status"], row["done"], row["total"]) == ("done-1", "failed", 1, 3)
    assert (row["tokens"], row["cost"], row["elapsed_s"]) == (1234.0, 0.0421, 2.5)
    assert cli("runs", "--store", f"sqlite:///{store}") == 0
    table = capsys.readouterr().out
    for cell in ("done-1", "website", "failed", "1/3", "2.5s", "1,234", "$0.0421"):
        assert cell in table


def test_runs_without_a_store_creates_nothing(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("runs") == 0
    assert capsys.readouterr().out.startswith("no runs (no store at ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [("runs",), ("resume", "done-1")])
def test_newer_schema_is_one_line_exit_2_untouched(tmp_path: Path, capsys, command):
    store = tmp_path / "runs.db"
    make_store(store)
    conn = sqlite3.connect(store)
    conn.execute("INSERT INTO schema_migrations VALUES (7, 'future', 0)")
    conn.commit()
    conn.close()
    before = files(tmp_path)
    assert cli(*command, "--store", str(store)) == 2
    err = capsys.readouterr().err
    assert err == (
        f"phasefarm: error: store schema 7 is newer than this phasefarm ({len(migrations())}): "
        f"upgrade phasefarm to use {store}\n"
    )
    assert files(tmp_path) == before


@pytest.mark.parametrize(
    ("store", "message"),
    [
        ("{tmp}", "is a folder, not a file"),
        (
            "postgres://me:secret@/runs?host=/nonexistent",
            r"cannot open store postgres://me:\*\*\*@|the postgres store needs psycopg",
        ),
        ("ftp://x/y", "unknown store URL scheme 'ftp'"),
        ("{tmp}/notes.txt", "not a phasefarm store"),
    ],
)
def test_bad_stores_are_one_line_exit_2(tmp_path: Path, capsys, store: str, message: str):
    (tmp_path / "notes.txt").write_text("not a database " * 100)
    before = files(tmp_path)
    for command in (("runs",), ("resume", "r1")):
        assert cli(*command, "--store", store.format(tmp=tmp_path)) == 2
        err = capsys.readouterr().err
        assert err.startswith("phasefarm: error: ") and re.search(message, err)
        assert "secret" not in err
        assert err.count("\n") == 1
    assert files(tmp_path) == before


def test_resume_refuses_bad_caps_before_touching_anything(tmp_path: Path, capsys):
    store = tmp_path / "runs.db"
    make_store(store)
    before = files(tmp_path)
    assert cli("resume", "done-1", "--store", str(store), "--max-tokens", "0") == 2
    assert capsys.readouterr().err == "phasefarm: error: --max-tokens must be positive, got 0\n"
    assert cli("resume", "done-1", "--store", str(store), "--max-cost", "-1") == 2
    assert "--max-cost must be positive" in capsys.readouterr().err
    assert files(tmp_path) == before
