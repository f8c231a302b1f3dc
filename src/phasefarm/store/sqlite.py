"""`SQLiteStore`: the default checkpoint store, one SQLite file.

Durability. The file is in WAL mode with `synchronous=FULL`: every `save_phase` is one
transaction whose commit fsyncs the WAL before it returns. WAL alone already makes a commit
survive `kill -9` of the writer (the bytes are in the OS page cache, and a torn last frame is
discarded by its checksum on recovery); FULL adds survival of power loss, which `NORMAL` would
not guarantee for the last transactions. It costs one fsync per phase end and per event batch:
tens per run, noise next to a model call. In exchange "recorded succeeded" always means "its
output is on disk", which is what lets resume skip it.

Concurrency. Several processes may open the same file (a `phasefarm runs` beside a running job);
writers take `BEGIN IMMEDIATE` and wait up to `busy_timeout`. One process executes a run at a
time: `acquire` records it in `runs.lock`, see `phasefarm.store._lock`.

Schema. Created and upgraded by the named, ordered migrations in `store/migrations/NNNN_name.sql`,
recorded in `schema_migrations`. A file written by a newer phasefarm is refused before anything
is written to it, and so is a file that is not a phasefarm store.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from phasefarm.errors import StoreError
from phasefarm.store import codec
from phasefarm.store._lock import Holder, check_can_acquire, this_process
from phasefarm.store.base import AddedPhase, RunSummary, StoredPhase, StoredRun
from phasefarm.store.memory import (
    decode_added,
    event_json,
    summary_status,
    total_from_progress,
)

__all__ = ["Migration", "SQLiteStore", "migrations"]

BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def migrations() -> list[Migration]:
    """The schema migrations shipped with this phasefarm, in order."""
    found = []
    for entry in resources.files("phasefarm.store").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"store migrations must be numbered 1..N without gaps, found {versions}")
    return found


def split_statements(sql: str) -> list[str]:
    """The statements of a migration script, each complete (executescript would COMMIT early)."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if current.strip():
                statements.append(current.strip())
            current = ""
    if current.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in current.splitlines()
    ):
        raise RuntimeError(f"incomplete SQL statement in migration: {current.strip()[:80]}")
    return statements


class SQLiteStore:
    """A RunStore in one SQLite file. Thread-safe: one connection behind a mutex."""

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = True,
        _migrations: list[Migration] | None = None,
    ) -> None:
        """Open (and with `create`, make) the store at `path`; StoreError if it cannot be used."""
        self.path = Path(path).expanduser()
        self._migrations = migrations() if _migrations is None else _migrations
        self._mutex = threading.RLock()
        if not create and not self.path.is_dir() and not self.path.exists():
            raise StoreError(f"no store at {self.path}")
        self._check_path()
        self._check_existing()
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        try:
            with self._errors():
                mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreError(f"store {self.path}: cannot use WAL journal (got {mode})")
                self._conn.execute("PRAGMA synchronous=FULL")
                self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- opening -------------------------------------------------------------------------------

    def _check_path(self) -> None:
        if self.path.is_dir():
            raise StoreError(f"store path {self.path} is a folder, not a file")
        parent = self.path.parent
        if parent.exists() and not parent.is_dir():
            raise StoreError(f"store path {self.path}: {parent} is not a folder")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder of store {self.path}: {exc.strerror}"
            ) from None

    def _check_existing(self) -> None:
        """Refuse, without writing a byte, a file that is not ours or is from a newer schema.

        Read with `immutable=1`: a plain read-only connection to a WAL file would leave -wal and
        -shm files behind. That is only sound while no other connection is writing, so when a
        -wal file exists (the store is open elsewhere, or its writer died) this check is left to
        `_migrate`, which makes it again inside its write transaction before changing anything.
        """
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        if Path(f"{self.path}-wal").exists():
            return
        try:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?immutable=1", uri=True)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        try:
            self._refuse_foreign_or_newer(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a phasefarm store ({exc})") from None
        finally:
            conn.close()

    def _refuse_foreign_or_newer(self, conn: sqlite3.Connection) -> int:
        """The schema version of the file; StoreError if it is someone else's or newer."""
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return 0
        if "schema_migrations" not in tables:
            raise StoreError(f"{self.path} is an SQLite file but not a phasefarm store")
        return self._refuse_newer(conn)

    def _refuse_newer(self, conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        current = int(row[0] or 0)
        latest = len(self._migrations)
        if current > latest:
            raise StoreError(
                f"store schema {current} is newer than this phasefarm ({latest}): "
                f"upgrade phasefarm to use {self.path}"
            )
        return current

    def _migrate(self) -> None:
        with self._transaction() as conn:
            # Again, inside the transaction: another process may have migrated meanwhile.
            current = self._refuse_foreign_or_newer(conn)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied REAL NOT NULL)"
            )
            for migration in self._migrations[current:]:
                for statement in split_statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)",
                    (migration.version, migration.name, time.time()),
                )

    def schema_version(self) -> int:
        with self._mutex, self._errors():
            row = self._conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
            return int(row[0] or 0)

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(f"store {self.path}: {exc}") from None

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (durably) on exit; rolled back on any error."""
        with self._mutex, self._errors():
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @staticmethod
    def _require_run(conn: sqlite3.Connection, run_id: str) -> sqlite3.Row | tuple[Any, ...]:
        row = conn.execute("SELECT lock, status FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"unknown run id {run_id!r}")
        return tuple(row)

    # -- the RunStore protocol -----------------------------------------------------------------

    def create_run(
        self, run_id: str, flow: str, inputs: dict[str, Any], mode: str, meta: dict[str, Any]
    ) -> None:
        encoded_inputs, encoded_meta = codec.encode(inputs), codec.encode(meta)
        with self._transaction() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                raise StoreError(f"run id {run_id!r} already exists in {self.path}")
            now = time.time()
            conn.execute(
                "INSERT INTO runs (id, flow, inputs, mode, meta, status, created, updated, lock)"
                " VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (
                    run_id,
                    flow,
                    encoded_inputs,
                    mode,
                    encoded_meta,
                    now,
                    now,
                    this_process().to_json(),
                ),
            )

    def load_run(self, run_id: str) -> StoredRun:
        with self._mutex, self._errors():
            conn = self._conn
            run = conn.execute(
                "SELECT flow, inputs, mode, meta, status FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            if run is None:
                raise StoreError(f"unknown run id {run_id!r} in {self.path}")
            phase_rows = conn.execute(
                "SELECT key, status, attempts, started, finished, output, error, input_hash, usage"
                " FROM phases WHERE run = ? ORDER BY rowid",
                (run_id,),
            ).fetchall()
            last_seq = conn.execute(
                "SELECT coalesce(max(seq), -1) FROM events WHERE run = ?", (run_id,)
            ).fetchone()[0]
            added_rows = conn.execute(
                "SELECT key, template, needs, args, options, added_by FROM added_phases"
                " WHERE run = ? ORDER BY ord",
                (run_id,),
            ).fetchall()
        phases = {
            key: StoredPhase(
                key=key,
                status=status,
                attempts=attempts,
                started=started,
                finished=finished,
                output=None if output is None else codec.decode(output),
                error=error,
                input_hash=ihash,
                usage=json.loads(usage),
            )
            for key, status, attempts, started, finished, output, error, ihash, usage in phase_rows
        }
        added = [
            decode_added(
                json.dumps(
                    {
                        "key": key,
                        "template": template,
                        "needs": json.loads(needs),
                        "args": json.loads(args),
                        "options": json.loads(options),
                        "added_by": added_by,
                    }
                )
            )
            for key, template, needs, args, options, added_by in added_rows
        ]
        flow, inputs, mode, meta, status = run
        return StoredRun(
            run_id=run_id,
            flow=flow,
            inputs=codec.decode(inputs),
            mode=mode,
            status=status,
            phases=phases,
            added=added,
            meta=codec.decode(meta),
            last_seq=int(last_seq),
        )

    def acquire(self, run_id: str) -> None:
        with self._transaction() as conn:
            lock, _ = self._require_run(conn, run_id)
            check_can_acquire(run_id, Holder.from_json(lock))
            conn.execute(
                "UPDATE runs SET lock = ?, status = 'running', updated = ? WHERE id = ?",
                (this_process().to_json(), time.time(), run_id),
            )

    def release(self, run_id: str) -> None:
        with self._transaction() as conn:
            row = conn.execute("SELECT lock FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None or row[0] is None:
                return
            holder = Holder.from_json(row[0])
            if holder is None or holder.pid == this_process().pid:
                conn.execute("UPDATE runs SET lock = NULL WHERE id = ?", (run_id,))

    def save_phase(self, run_id: str, phase: StoredPhase) -> None:
        output = None if phase.output is None else codec.encode(phase.output)
        usage = json.dumps({k: float(v) for k, v in phase.usage.items()})
        with self._transaction() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                "INSERT INTO phases (run, key, status, attempts, started, finished, output, error,"
                " input_hash, usage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (run, key) DO UPDATE SET status = excluded.status,"
                " attempts = excluded.attempts, started = excluded.started,"
                " finished = excluded.finished, output = excluded.output, error = excluded.error,"
                " input_hash = excluded.input_hash, usage = excluded.usage",
                (
                    run_id,
                    phase.key,
                    phase.status,
                    phase.attempts,
                    phase.started,
                    phase.finished,
                    output,
                    phase.error,
                    phase.input_hash,
                    usage,
                ),
            )
            conn.execute("UPDATE runs SET updated = ? WHERE id = ?", (time.time(), run_id))

    def save_added(self, run_id: str, added: AddedPhase) -> None:
        needs = json.dumps(list(added.needs))
        args = json.dumps(codec.to_jsonable(added.args))
        options = json.dumps(codec.to_jsonable(added.options))
        with self._transaction() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                "INSERT INTO added_phases (run, key, ord, template, needs, args, options, added_by)"
                " VALUES (?, ?, (SELECT coalesce(max(ord), 0) + 1 FROM added_phases WHERE run = ?),"
                " ?, ?, ?, ?, ?)"
                " ON CONFLICT (run, key) DO UPDATE SET template = excluded.template,"
                " needs = excluded.needs, args = excluded.args, options = excluded.options,"
                " added_by = excluded.added_by",
                (run_id, added.key, run_id, added.template, needs, args, options, added.added_by),
            )

    def append_events(self, run_id: str, events: list[dict[str, Any]]) -> None:
        rows = [event_json(run_id, e) for e in events]
        if not rows:
            return
        with self._transaction() as conn:
            self._require_run(conn, run_id)
            row = conn.execute("SELECT max(seq) FROM events WHERE run = ?", (run_id,)).fetchone()
            last = -1 if row[0] is None else int(row[0])
            for seq, _, _ in rows:
                if seq <= last:
                    raise StoreError(f"event seq {seq} of run {run_id} is not after {last}")
                last = seq
            conn.executemany(
                "INSERT INTO events (run, seq, kind, json) VALUES (?, ?, ?, ?)",
                [(run_id, seq, kind, text) for seq, kind, text in rows],
            )

    def events(self, run_id: str, after_seq: int = -1) -> list[dict[str, Any]]:
        with self._mutex, self._errors():
            self._require_run(self._conn, run_id)
            rows = self._conn.execute(
                "SELECT json FROM events WHERE run = ? AND seq > ? ORDER BY seq",
                (run_id, after_seq),
            ).fetchall()
        return [json.loads(text) for (text,) in rows]

    def finish_run(
        self,
        run_id: str,
        status: str,
        elapsed_s: float,
        tokens: float,
        cost: float,
        stop_reason: str | None,
    ) -> None:
        with self._transaction() as conn:
            self._require_run(conn, run_id)
            conn.execute(
                "UPDATE runs SET status = ?, elapsed = ?, tokens = ?, cost = ?, stop_reason = ?,"
                " updated = ? WHERE id = ?",
                (status, elapsed_s, tokens, cost, stop_reason, time.time(), run_id),
            )

    def list_runs(self) -> list[RunSummary]:
        with self._mutex, self._errors():
            rows = self._conn.execute(
                "SELECT r.id, r.flow, r.status, r.lock, r.created, r.elapsed, r.tokens, r.cost,"
                " r.stop_reason,"
                " (SELECT count(*) FROM phases p WHERE p.run = r.id AND p.status = 'succeeded'),"
                " (SELECT count(*) FROM phases p WHERE p.run = r.id),"
                " (SELECT e.json FROM events e WHERE e.run = r.id AND e.kind = 'progress'"
                "  ORDER BY e.seq DESC LIMIT 1),"
                " (SELECT coalesce(sum(json_extract(p.usage, '$.tokens')), 0) FROM phases p"
                "  WHERE p.run = r.id),"
                " (SELECT coalesce(sum(json_extract(p.usage, '$.cost')), 0) FROM phases p"
                "  WHERE p.run = r.id)"
                " FROM runs r ORDER BY r.created DESC, r.rowid DESC"
            ).fetchall()
        out = []
        for (
            run_id,
            flow,
            status,
            lock,
            created,
            elapsed,
            tokens,
            cost,
            stop_reason,
            done,
            recorded,
            progress,
            phase_tokens,
            phase_cost,
        ) in rows:
            if elapsed is None:  # never finished: what its phases recorded so far
                tokens, cost = phase_tokens, phase_cost
            out.append(
                RunSummary(
                    run_id=run_id,
                    flow=flow,
                    status=summary_status(status, lock),
                    done=done,
                    total=total_from_progress(progress, recorded),
                    created=created,
                    elapsed_s=elapsed,
                    tokens=float(tokens),
                    cost=float(cost),
                    stop_reason=stop_reason,
                )
            )
        return out

    def integrity_check(self) -> str:
        """SQLite's `PRAGMA integrity_check` verdict: "ok" for a sound file."""
        with self._mutex, self._errors():
            rows = self._conn.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)

    def close(self) -> None:
        with self._mutex:
            self._conn.close()
