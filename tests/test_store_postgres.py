"""PostgresStore on a real server (tests/pg_support.py): migrations, refusals, locks, processes.

The protocol itself is covered by test_store_contract.py, which runs every test on Postgres too.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

from pg_support import new_database
from phasefarm.errors import StoreError
from phasefarm.store import PostgresStore, StoredPhase, open_store
from phasefarm.store._sql import Migration, migrations

psycopg = pytest.importorskip("psycopg")


def dump(url: str) -> list[tuple[object, ...]]:
    """Every table's name and rows: "untouched" means this does not change."""
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        out: list[tuple[object, ...]] = []
        for table in tables:
            rows = conn.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            out.append((table, *rows))
        return out


def make_store(url: str) -> None:
    with PostgresStore(url) as s:
        s.create_run("r1", "demo", {"brief": "x"}, "parallel", {})
        s.save_phase("r1", StoredPhase("a", "succeeded", 1, 0.0, 1.0, b"\x89PNG", None, "h"))
        s.release("r1")


def test_migrations_recorded_once_and_shared_with_sqlite_numbering():
    url = new_database()
    make_store(url)
    make_store_again = PostgresStore(url)
    assert make_store_again.schema_version() == len(migrations("postgres"))
    assert make_store_again.load_run("r1").phases["a"].output == b"\x89PNG"
    make_store_again.close()
    assert [(m.version, m.name) for m in migrations("postgres")] == [
        (m.version, m.name) for m in migrations("sqlite")
    ]
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert rows == [(m.version, m.name) for m in migrations("postgres")]


def test_upgrade_applies_only_new_migrations():
    url = new_database()
    make_store(url)
    shipped = migrations("postgres")
    extra = [
        *shipped,
        Migration(len(shipped) + 1, "labels", "CREATE TABLE labels (run TEXT, label TEXT);\n"),
    ]
    with PostgresStore(url, _migrations=extra) as s:
        assert s.schema_version() == len(shipped) + 1
        assert s.load_run("r1").phases["a"].status == "succeeded"


def test_a_store_of_schema_2_moves_its_events_to_groups_and_keeps_them():
    import json

    from test_store_sqlite import OLD_EVENTS, check_migrated_events

    url = new_database()
    with PostgresStore(url, _migrations=migrations("postgres")[:2]) as old:
        old.create_run("r1", "demo", {}, "parallel", {})
        old.release("r1")
    with psycopg.connect(url) as conn, conn.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO events (run, seq, kind, json) VALUES ('r1', %s, %s, %s)",
            [(e["seq"], e["kind"], json.dumps(e)) for e in OLD_EVENTS],
        )
    with PostgresStore(url) as s:
        check_migrated_events(s)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('events')").fetchone()[0] is None


def test_newer_schema_refused_and_untouched():
    url = new_database()
    make_store(url)
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (9, 'future', 0)")
    before = dump(url)
    with pytest.raises(
        StoreError,
        match=rf"^store schema 9 is newer than this phasefarm \({len(migrations('postgres'))}\)",
    ):
        open_store(url)
    assert dump(url) == before


def test_foreign_database_refused_and_untouched():
    url = new_database()
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE runs (marathon TEXT)")
        conn.execute("INSERT INTO runs VALUES ('Berlin')")
    before = dump(url)
    with pytest.raises(StoreError, match="has a runs table but is not a phasefarm store"):
        PostgresStore(url)
    assert dump(url) == before


def test_resume_on_an_empty_database_creates_nothing():
    url = new_database()
    with pytest.raises(StoreError, match=r"^no store at postgresql://"):
        open_store(url, create=False)
    assert dump(url) == []


HOLDER = textwrap.dedent(
    """
    import sys
    from phasefarm.store import open_store
    store = open_store(sys.argv[1])
    store.acquire("r1")
    print("held", flush=True)
    sys.stdin.readline()
    """
)


def test_live_holder_refused_killed_holder_taken_over():
    url = new_database()
    make_store(url)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        with PostgresStore(url) as s:
            with pytest.raises(
                StoreError, match=rf"^run r1 is being executed by process {proc.pid}$"
            ):
                s.acquire("r1")
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            assert s.list_runs()[0].status == "interrupted"
            s.acquire("r1")
            assert s.list_runs()[0].status == "running"
            s.release("r1")
    finally:
        proc.kill()
        proc.wait()


IN_THIS_PROCESS = r"^run r1 is already being executed in this process$"


def test_same_database_by_another_url_is_refused_in_this_process_and_untouched():
    url = new_database()
    make_store(url)
    with PostgresStore(url) as first, PostgresStore(url + "&application_name=other") as second:
        first.acquire("r1")
        before = dump(url)
        with pytest.raises(StoreError, match=IN_THIS_PROCESS):
            second.acquire("r1")
        assert dump(url) == before
        first.release("r1")
        second.acquire("r1")
        second.release("r1")


def test_same_run_id_in_another_database_or_schema_is_not_held():
    url, other_db = new_database(), new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA other")
    other_schema = url + "&options=-csearch_path%3Dother"
    for u in (url, other_db, other_schema):
        make_store(u)
    with (
        PostgresStore(url) as a,
        PostgresStore(other_db) as b,
        PostgresStore(other_schema) as c,
    ):
        for s in (a, b, c):
            s.acquire("r1")
        for s in (a, b, c):
            s.release("r1")
