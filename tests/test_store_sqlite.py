"""SQLiteStore on real files and real processes: migrations, refusals, locks, kill -9."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from phasefarm.errors import StoreError
from phasefarm.store import RunStore, SQLiteStore, StoredPhase
from phasefarm.store.sqlite import Migration, migrations, split_statements


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file in the folder with its bytes: 'untouched' means this does not change."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def make_store(path: Path) -> None:
    with SQLiteStore(path) as s:
        s.create_run("r1", "demo", {"brief": "x"}, "parallel", {})
        s.save_phase("r1", StoredPhase("a", "succeeded", 1, 0.0, 1.0, [1], None, "h"))
        s.release("r1")


def test_shipped_migrations_are_named_and_ordered():
    found = migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert found[0].name == "initial"
    import phasefarm.store

    folder = Path(phasefarm.store.__file__).parent / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.suffix == ".sql")
    # every migration in both dialects, nothing else
    assert names == sorted(
        [f"{m.version:04d}_{m.name}.sql" for m in found]
        + [f"{m.version:04d}_{m.name}.postgres.sql" for m in found]
    )


def test_fresh_store_schema_and_pragmas(tmp_path: Path):
    path = tmp_path / "deep" / "er" / "runs.db"
    with SQLiteStore(path) as s:
        assert s.schema_version() == len(migrations())
        assert s.integrity_check() == "ok"
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"schema_migrations", "runs", "phases", "added_phases", "event_batches"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    rows = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert rows == [(m.version, m.name) for m in migrations()]
    conn.close()


def test_reopen_keeps_data_and_does_not_migrate_twice(tmp_path: Path):
    path = tmp_path / "runs.db"
    make_store(path)
    with SQLiteStore(path) as s:
        assert s.load_run("r1").phases["a"].output == [1]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(migrations())
    conn.close()


def test_upgrade_applies_only_new_migrations_in_order(tmp_path: Path):
    path = tmp_path / "runs.db"
    make_store(path)
    extra = [
        *migrations(),
        Migration(
            len(migrations()) + 1,
            "run_labels",
            "-- a label per run\nCREATE TABLE run_labels (\n run TEXT NOT NULL,\n label TEXT\n);\n"
            "INSERT INTO run_labels SELECT id, 'old' FROM runs;\n",
        ),
    ]
    with SQLiteStore(path, _migrations=extra) as s:
        assert s.schema_version() == len(extra)
        assert s.load_run("r1").phases["a"].output == [1]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT run, label FROM run_labels").fetchall() == [("r1", "old")]
    names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY version")]
    assert names == [m.name for m in extra]
    conn.close()


def test_failed_migration_leaves_the_store_as_it_was(tmp_path: Path):
    path = tmp_path / "runs.db"
    make_store(path)
    broken = [
        *migrations(),
        Migration(len(migrations()) + 1, "broken", "CREATE TABLE t (x);\nNOPE;\n"),
    ]
    with pytest.raises(StoreError, match="syntax error"):
        SQLiteStore(path, _migrations=broken)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "t" not in tables
    assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == len(
        migrations()
    )
    conn.close()


def test_split_statements_keeps_triggers_whole():
    sql = (
        "CREATE TABLE a (x);\nCREATE TRIGGER t AFTER INSERT ON a BEGIN\n SELECT 1;\n END;\n-- end\n"
    )
    assert split_statements(sql) == [
        "CREATE TABLE a (x);",
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n SELECT 1;\n END;",
    ]


def test_newer_schema_refused_and_file_untouched(tmp_path: Path):
    path = tmp_path / "runs.db"
    make_store(path)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (99, 'from_the_future', 0)")
    conn.commit()
    conn.close()
    before = snapshot(tmp_path)
    latest = len(migrations())
    with pytest.raises(
        StoreError, match=rf"^store schema 99 is newer than this phasefarm \({latest}\)"
    ):
        SQLiteStore(path)
    assert snapshot(tmp_path) == before


def test_folder_path_refused(tmp_path: Path):
    folder = tmp_path / "runs.db"
    folder.mkdir()
    with pytest.raises(StoreError, match="is a folder"):
        SQLiteStore(folder)
    assert list(folder.iterdir()) == []


def test_not_a_database_refused_and_untouched(tmp_path: Path):
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 50)
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match="not a phasefarm store"):
        SQLiteStore(path)
    assert snapshot(tmp_path) == before


def test_someone_elses_sqlite_file_refused_and_untouched(tmp_path: Path):
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.execute("INSERT INTO users VALUES ('ada')")
    conn.commit()
    conn.close()
    before = snapshot(tmp_path)
    with pytest.raises(StoreError, match="not a phasefarm store"):
        SQLiteStore(path)
    assert snapshot(tmp_path) == before


# -- real processes ------------------------------------------------------------------------------

HOLDER = textwrap.dedent(
    """
    import sys
    from phasefarm.store import SQLiteStore, StoredPhase
    store = SQLiteStore(sys.argv[1])
    if sys.argv[2] == "create":
        store.create_run("r1", "demo", {"brief": "x"}, "parallel", {})
    else:
        store.acquire("r1")
    png = b"\\x89PNG" * 1000
    store.save_phase("r1", StoredPhase("a", "succeeded", 1, 0.0, 1.0, png, None, "h"))
    print("held", flush=True)
    sys.stdin.readline()   # hold the run until told or killed
    store.release("r1")
    store.close()
    """
)


def start_holder(path: Path, how: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), how],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "held\n"
    return proc


def test_live_holder_refused_then_released_run_is_free(tmp_path: Path):
    path = tmp_path / "runs.db"
    proc = start_holder(path, "create")
    try:
        with SQLiteStore(path) as s:
            before = snapshot(tmp_path)["runs.db"]
            with pytest.raises(
                StoreError, match=rf"^run r1 is being executed by process {proc.pid}$"
            ):
                s.acquire("r1")
            assert snapshot(tmp_path)["runs.db"] == before
            assert s.list_runs()[0].status == "running"
            assert proc.stdin is not None
            proc.stdin.write("done\n")
            proc.stdin.flush()
            assert proc.wait(timeout=30) == 0
            s.acquire("r1")  # released cleanly: free
            s.release("r1")
    finally:
        proc.kill()
        proc.wait()


def test_killed_holder_is_taken_over_and_its_commit_survives(tmp_path: Path):
    path = tmp_path / "runs.db"
    make_store(path)
    proc = start_holder(path, "acquire")
    with SQLiteStore(path) as s:
        with pytest.raises(StoreError, match="being executed by process"):
            s.acquire("r1")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        (summary,) = s.list_runs()
        assert summary.status == "interrupted"
        s.acquire("r1")  # the holder is dead: taken over
        run = s.load_run("r1")
        assert run.phases["a"].output == b"\x89PNG" * 1000  # committed before the kill
        assert run.status == "running"
        assert s.list_runs()[0].status == "running"
        assert s.integrity_check() == "ok"
        s.release("r1")


def test_killed_but_unreaped_holder_is_dead_too(tmp_path: Path):
    """A SIGKILLed child its parent has not waited for is a zombie: it will never write again."""
    path = tmp_path / "runs.db"
    proc = start_holder(path, "create")
    proc.send_signal(signal.SIGKILL)
    stat = Path(f"/proc/{proc.pid}/stat")
    deadline = time.monotonic() + 10  # the kernel finishes a kill in microseconds
    while stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the killed holder did not become a zombie"
        time.sleep(0.001)
    try:
        with SQLiteStore(path) as s:
            s.acquire("r1")
            s.release("r1")
    finally:
        proc.wait()


def test_two_processes_write_the_same_file(tmp_path: Path):
    """A `phasefarm runs` reading while a job writes: both work, nothing corrupt."""
    path = tmp_path / "runs.db"
    proc = start_holder(path, "create")
    try:
        with SQLiteStore(path) as reader:
            reader.create_run("r2", "demo", {}, "parallel", {})
            assert {s.run_id for s in reader.list_runs()} == {"r1", "r2"}
            assert reader.load_run("r1").phases["a"].status == "succeeded"
    finally:
        assert proc.stdin is not None
        proc.stdin.write("done\n")
        proc.stdin.flush()
        proc.wait(timeout=30)
    with SQLiteStore(path) as s:
        assert s.integrity_check() == "ok"


# -- executions in this process ------------------------------------------------------------------

IN_THIS_PROCESS = r"^run r1 is already being executed in this process$"


def test_same_file_by_another_name_is_refused_and_untouched(tmp_path: Path, monkeypatch):
    path = tmp_path / "runs.db"
    make_store(path)
    (tmp_path / "link.db").symlink_to(path)
    monkeypatch.chdir(tmp_path)
    with SQLiteStore(path) as first, SQLiteStore("link.db") as second:
        first.acquire("r1")
        before = snapshot(tmp_path)
        with pytest.raises(StoreError, match=IN_THIS_PROCESS):
            second.acquire("r1")
        assert snapshot(tmp_path) == before
        first.release("r1")
        second.acquire("r1")
        second.release("r1")


def test_another_file_with_the_same_run_id_is_not_held(tmp_path: Path):
    make_store(tmp_path / "a.db")
    make_store(tmp_path / "b.db")
    with SQLiteStore(tmp_path / "a.db") as a, SQLiteStore(tmp_path / "b.db") as b:
        a.acquire("r1")
        b.acquire("r1")
        a.release("r1")
        b.release("r1")


def test_closing_the_store_that_executes_a_run_frees_it_in_this_process(tmp_path: Path):
    path = tmp_path / "runs.db"
    make_store(path)
    abandoned = SQLiteStore(path)
    abandoned.acquire("r1")  # and never released: its owner closes the store instead
    with SQLiteStore(path) as other:
        with pytest.raises(StoreError, match=IN_THIS_PROCESS):
            other.acquire("r1")
        abandoned.close()
        other.acquire("r1")
        other.release("r1")


def test_release_frees_the_run_even_when_the_store_fails(tmp_path: Path):
    path = tmp_path / "runs.db"
    make_store(path)
    broken = SQLiteStore(path)
    broken.acquire("r1")
    broken._conn.close()  # the store breaks mid-run; the runner still calls release
    with pytest.raises(StoreError):
        broken.release("r1")
    with SQLiteStore(path) as s:
        s.acquire("r1")
        s.release("r1")
    broken.close()


def test_the_writer_commits_what_arrives_together_in_one_transaction(tmp_path: Path):
    """While one batch is being written, those handed over meanwhile wait, then go in a single
    `save_batch` (one transaction); `on_commit` counts them all as durable at once."""
    import threading

    from phasefarm.store.base import PhaseRow
    from phasefarm.store.writer import Batch, CheckpointWriter

    release = threading.Event()
    entered = threading.Event()
    calls: list[list[str]] = []

    class SlowStore(SQLiteStore):
        def save_batch(self, run_id, phases, added, events):
            calls.append([p.key for p in phases])
            if len(calls) == 1:
                entered.set()
                assert release.wait(timeout=10)
            super().save_batch(run_id, phases, added, events)

    commits: list[tuple[int, object]] = []
    done = threading.Event()

    def on_commit(count, error):
        commits.append((count, error))
        if count == 4:
            done.set()

    def row(key: str) -> PhaseRow:
        return PhaseRow(key, "succeeded", 1, 0.0, 1.0, '"out"', None, None, "{}")

    with SlowStore(tmp_path / "runs.db") as store:
        store.create_run("r1", "f", {}, "parallel", {})
        writer = CheckpointWriter(store, "r1", on_commit)
        writer.submit(Batch(phases=[row("a")]))
        assert entered.wait(timeout=10)
        for key in ("b", "c", "d"):
            writer.submit(Batch(phases=[row(key)]))
        release.set()
        assert done.wait(timeout=10)
        assert writer.close(timeout=10) is None
        assert calls == [["a"], ["b", "c", "d"]]
        assert commits == [(1, None), (4, None)]
        assert sorted(store.load_run("r1").phases) == ["a", "b", "c", "d"]


@pytest.mark.parametrize("url", ["sqlite:", "sqlite:relative.db", "SQLITE:runs.db"])
def test_sqlite_urls_without_slashes_are_refused_not_made_into_files(tmp_path: Path, url: str):
    from phasefarm.errors import StoreRefused, UsageError
    from phasefarm.store.url import open_store

    with pytest.raises(StoreRefused, match="bad store URL") as info:
        open_store(url)
    assert isinstance(info.value, UsageError)  # exit 2: the user gave it
    assert not list(tmp_path.iterdir())


def test_synchronous_is_full_by_default_and_normal_on_request(tmp_path: Path):
    from phasefarm.store.url import open_store

    full = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    normal = open_store(f"sqlite:///{tmp_path / 'b.db'}?synchronous=normal")
    try:
        assert isinstance(full, SQLiteStore) and isinstance(normal, SQLiteStore)
        assert full._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert normal._conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert normal.path == tmp_path / "b.db"
    finally:
        full.close()
        normal.close()


# events as phasefarm wrote them before migration 0003: one row each, `Event.to_dict` as JSON
OLD_EVENTS = [
    {"seq": 0, "t": 0.0, "kind": "run.started", "run_id": "r1", "phase": None, "data": {}},
    {"seq": 1, "t": 0.1, "kind": "progress", "run_id": "r1", "phase": None, "data": {"total": 3}},
    {"seq": 2, "t": 0.2, "kind": "phase.started", "run_id": "r1", "phase": "a", "data": {}},
    {"seq": 3, "t": 0.3, "kind": "progress", "run_id": "r1", "phase": None, "data": {"total": 5}},
    {"seq": 4, "t": 0.4, "kind": "phase.started", "run_id": "r1", "phase": "b", "data": {}},
]


def check_migrated_events(s: RunStore) -> None:
    """`OLD_EVENTS` of run r1, written before migration 0003, read back after it."""
    assert s.events("r1") == OLD_EVENTS
    assert s.events("r1", after_seq=2) == OLD_EVENTS[3:]
    assert s.load_run("r1").last_seq == 4
    (summary,) = s.list_runs()
    assert summary.total == 5  # from the latest progress event
    s.append_events("r1", [{"seq": 5, "kind": "x"}])  # a resumed run numbers on
    with pytest.raises(StoreError, match="not after 5"):
        s.append_events("r1", [{"seq": 4, "kind": "x"}])


def test_a_store_of_schema_1_moves_its_events_to_groups_and_keeps_them(tmp_path: Path):
    import json

    path = tmp_path / "runs.db"
    with SQLiteStore(path, _migrations=migrations()[:1]) as old:
        old.create_run("r1", "demo", {}, "parallel", {})
        old.release("r1")
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO events (run, seq, kind, json) VALUES ('r1', ?, ?, ?)",
            [(e["seq"], e["kind"], json.dumps(e)) for e in OLD_EVENTS],
        )
    conn.close()
    with SQLiteStore(path) as s:
        check_migrated_events(s)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert "events" not in tables and "events_by_kind" not in indexes
    # the one query that reads the latest progress walks a run's groups back on the primary key
    plan = conn.execute(
        "EXPLAIN QUERY PLAN SELECT b.progress FROM event_batches b WHERE b.run = ?"
        " AND b.progress IS NOT NULL ORDER BY b.first_seq DESC LIMIT 1",
        ("r1",),
    ).fetchall()
    conn.close()
    assert any("sqlite_autoindex_event_batches_1 (run=?)" in str(row) for row in plan), plan
    assert not any("TEMP B-TREE" in str(row) for row in plan), plan


def test_a_batch_of_more_phases_than_one_statement_binds_is_written_whole(tmp_path: Path):
    """Phase rows go in multi-row INSERTs of as many rows as SQLite binds values for; a
    batch past that takes several, and a key saved twice in one batch keeps the last record."""
    from phasefarm.store.base import PhaseRow

    def row(key: str, status: str = "succeeded") -> PhaseRow:
        return PhaseRow(key, status, 1, 0.0, 1.0, '"out"', None, None, "{}")

    with SQLiteStore(tmp_path / "runs.db") as store:
        store._conn.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 25)  # 2 rows a statement
        store.create_run("r1", "f", {}, "parallel", {})
        keys = [f"p{i}" for i in range(7)]
        store.save_batch("r1", [*map(row, keys), row("p1", "failed")], [], [])
        phases = store.load_run("r1").phases
    assert list(phases) == keys  # in the order first saved
    assert phases["p1"].status == "failed" and phases["p6"].status == "succeeded"
