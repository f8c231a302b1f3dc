"""A damaged store is found, not extended (issue 16, item 6).

SQLite reads only the pages a query needs, so damage in a data page the run never reads used
to go unseen: `resume` and a new run exited 0 into a file failing `PRAGMA integrity_check`.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from phasefarm.errors import StoreRefused
from phasefarm.store import SQLiteStore
from website_support import run_cli


def damaged_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A store holding one finished demo run, with one leaf page of its events table broken
    (its first cell pointer aimed into the page header)."""
    path = tmp_path / "runs.sqlite3"
    store = ["--store", f"sqlite:///{path}", "--run-id", "r1"]
    code, _, err = run_cli(
        ["demo", "a bakery", "--out", str(tmp_path / "out"), "--time-scale", "0", *store],
        capsys,
    )
    assert code == 0, err
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        leaves = conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf'"
        ).fetchall()
    finally:
        conn.close()
    assert leaves, "the run wrote events"
    data = bytearray(path.read_bytes())
    pointer = (leaves[0][0] - 1) * size + 8  # the first cell pointer of a table leaf page
    data[pointer : pointer + 2] = (5).to_bytes(2, "big")
    path.write_bytes(bytes(data))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_damaged_store_is_refused_before_anything_is_written(tmp_path: Path, capsys) -> None:
    path = damaged_store(tmp_path, capsys)
    before = digest(path)
    with pytest.raises(StoreRefused, match="is damaged, not written to") as refused:
        SQLiteStore(path)
    assert str(path) in str(refused.value) and "\n" not in str(refused.value)
    store = ["--store", f"sqlite:///{path}"]
    code, _, err = run_cli(["resume", "r1", *store], capsys)
    assert code == 2 and err.startswith("phasefarm: error: store ") and "damaged" in err
    assert len(err.strip().splitlines()) == 1
    new_run = ["demo", "x", "--out", str(tmp_path / "o2"), "--time-scale", "0", *store]
    code, _, err = run_cli(new_run, capsys)
    assert code == 2 and "damaged" in err
    assert digest(path) == before, "the damaged file was written to"


def test_runs_check_says_which_file_is_damaged(tmp_path: Path, capsys) -> None:
    sound = tmp_path / "sound"
    sound.mkdir()
    damaged = damaged_store(tmp_path, capsys)
    code, out, err = run_cli(["runs", "--check", "--store", f"sqlite:///{damaged}"], capsys)
    assert code == 1 and str(damaged) in err and "integrity" not in out
    sound_store = ["--store", f"sqlite:///{sound / 'runs.sqlite3'}"]
    run_cli(["demo", "b", "--out", str(sound / "o"), "--time-scale", "0", *sound_store], capsys)
    code, out, err = run_cli(
        ["runs", "--check", "--store", f"sqlite:///{sound / 'runs.sqlite3'}"], capsys
    )
    assert code == 0 and out.strip().endswith("ok (PRAGMA integrity_check)"), err
