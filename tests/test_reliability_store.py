"""A damaged store is found, not extended (issue 16, item 6); a full disk mid-run stops the
run cleanly (item 2).

SQLite reads only the pages a query needs, so damage in a data page the run never reads used
to go unseen: `resume` and a new run exited 0 into a file failing `PRAGMA integrity_check`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from phasefarm.errors import StoreRefused
from phasefarm.pipelines.website.checks import check_site
from phasefarm.store import SQLiteStore
from phasefarm.store.sqlite import check_file
from website_support import run_cli


def damaged_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A store holding one finished demo run, with one leaf page of its event_batches table broken
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
            "SELECT pageno FROM dbstat WHERE name = 'event_batches' AND pagetype = 'leaf'"
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


LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, as on a full disk
resource.setrlimit(resource.RLIMIT_FSIZE, (160_000, 160_000))
from phasefarm.cli import main
main(sys.argv[1:])
"""


def test_a_full_disk_mid_run_stops_cleanly_and_what_was_committed_resumes(
    tmp_path: Path, capsys
) -> None:
    """No file of the job's process may grow past 160 kB (RLIMIT_FSIZE): the store's WAL
    reaches that mid-run, and its next write fails as on a full disk."""
    path = tmp_path / "runs.sqlite3"
    store = ["--store", f"sqlite:///{path}"]
    job = ["website", "A bakery", "--out", str(tmp_path / "site"), "--time-scale", "0"]
    done = subprocess.run(
        [sys.executable, "-c", LIMITED, *job, "--images", "0", *store, "--run-id", "r1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("phasefarm: error: ") and "runs.sqlite3" in last, done.stderr
    assert "Traceback" not in done.stderr
    assert check_file(path) == "ok"  # stopped, not damaged
    code, out, err = run_cli(["resume", "r1", *store, "--json"], capsys)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["status"] == "succeeded"
    assert check_site(tmp_path / "site") == []
