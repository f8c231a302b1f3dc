"""`SQLiteStore`: the default checkpoint store, one SQLite file.

Durability. The file is in WAL mode. Writes come in groups: the engine's checkpoint writer
(`phasefarm.store.writer`) commits everything that arrived together (phase records, added
phases, events) in one transaction, off the event loop. `synchronous=FULL` (the default) fsyncs
the WAL at every commit: a committed group survives `kill -9` of the process and power loss.
`synchronous=NORMAL` (`SQLiteStore(path, synchronous="normal")` or
`--store "sqlite:///runs.db?synchronous=normal"`) fsyncs only at WAL checkpoints: a commit still
survives `kill -9` (its pages are in the OS page cache, and a torn last frame is discarded by its
checksum on recovery), but power loss may take the last commits back; the file stays sound, and a
resume re-runs those phases. The measured costs are in docs/checkpoints.md.

Concurrency. Several processes may open the same file (a `phasefarm runs` beside a running job);
writers take `BEGIN IMMEDIATE` and wait up to `busy_timeout`. One process executes a run at a
time: `acquire` records it in `runs.lock`, see `phasefarm.store._lock`.

Schema. Created and upgraded by the named, ordered migrations in `store/migrations/NNNN_name.sql`,
recorded in `schema_migrations`. A file written by a newer phasefarm is refused before anything
is written to it, and so is a file that is not a phasefarm store.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from phasefarm.errors import StoreError, StoreRefused
from phasefarm.store._lock import new_claimant
from phasefarm.store._sql import (
    PHASE_COLUMNS,
    PHASE_UPSERT,
    Migration,
    SQLRunStore,
    migrations,
    split_statements,
)
from phasefarm.store.base import PhaseRow

__all__ = ["Migration", "SQLiteStore", "check_file", "migrations", "split_statements"]

BUSY_TIMEOUT_S = 30.0
ROWS_PER_INSERT = 500  # phase rows in one INSERT statement at most (see _insert_phases)


class SQLiteStore(SQLRunStore):
    """A RunStore in one SQLite file. Thread-safe: one connection behind a mutex."""

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = True,
        synchronous: str = "full",
        _migrations: list[Migration] | None = None,
    ) -> None:
        """Open (and with `create`, make) the store at `path`; StoreError if it cannot be used.

        `synchronous`: "full" (power-loss safe, the default) or "normal" (process-crash safe)."""
        if synchronous not in ("full", "normal"):
            raise StoreRefused(f"synchronous must be 'full' or 'normal', got {synchronous!r}")
        self.synchronous = synchronous
        self.path = Path(path).expanduser()
        self.where = str(self.path)
        self._migrations = migrations() if _migrations is None else _migrations
        self._mutex = threading.RLock()
        if not create and not self.path.is_dir() and not self.path.exists():
            raise StoreRefused(f"no store at {self.path}")
        self._check_path()
        self._check_existing()
        # every spelling of the file (relative, via a symlink) names the same database
        self._database_id = f"sqlite:{self.path.resolve()}"
        self._claimant = new_claimant()
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreRefused(f"cannot open store {self.path}: {exc}") from None
        try:
            with self._errors():
                self._refuse_damage()
                mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreRefused(f"store {self.path}: cannot use WAL journal (got {mode})")
                self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
                self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except StoreError as exc:
            self._conn.close()
            if isinstance(exc, StoreRefused):
                raise
            # failing while opening: the store the user named cannot be used (exit 2)
            raise StoreRefused(str(exc)) from None
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
            raise StoreRefused(f"store path {self.path} is a folder, not a file")
        parent = self.path.parent
        if parent.exists() and not parent.is_dir():
            raise StoreRefused(f"store path {self.path}: {parent} is not a folder")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreRefused(
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
            raise StoreRefused(f"cannot open store {self.path}: {exc}") from None
        try:
            self._refuse_foreign_or_newer(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreRefused(f"{self.path} is not a phasefarm store ({exc})") from None
        finally:
            conn.close()

    def _refuse_foreign_or_newer(self, conn: sqlite3.Connection) -> int:
        """The schema version of the file; StoreError if it is someone else's or newer."""
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return 0
        if "schema_migrations" not in tables:
            raise StoreRefused(f"{self.path} is an SQLite file but not a phasefarm store")
        return self._refuse_newer(conn)

    def _refuse_newer(self, conn: sqlite3.Connection) -> int:
        row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        current = int(row[0] or 0)
        latest = len(self._migrations)
        if current > latest:
            raise StoreRefused(
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

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._mutex, self._errors():
            yield self._conn

    # One statement per batch (up to SQLite's limit of bound values), not one per row: sqlite3
    # releases the GIL around every step of a statement, and while the event loop's thread is
    # busy each re-acquisition can wait a whole switch interval (5 ms); a batch of 10,000 rows
    # took seconds that way. The rows are bound values of one multi-row VALUES, the run id
    # bound once as ?1: 2.2 µs of CPU per row, against 5.2 through json_each with a
    # json_extract per column (1,000-row commits, best of 2).
    def _insert_phases(self, conn: Any, run_id: str, phases: Sequence[PhaseRow]) -> None:
        fields = len(PhaseRow._fields)  # the columns after `run`
        # a statement of 10,000 rows cost twice as much per row as ten of 1,000
        most = min(
            ROWS_PER_INSERT, (conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 1) // fields
        )
        row = f"(?1{', ?' * fields})"
        for start in range(0, len(phases), most):
            chunk = phases[start : start + most]
            values = [run_id, *itertools.chain.from_iterable(chunk)]
            conn.execute(
                f"INSERT INTO phases ({PHASE_COLUMNS}) VALUES {', '.join([row] * len(chunk))}"
                f" {PHASE_UPSERT}",
                values,
            )

    def _refuse_damage(self) -> None:
        """A damaged file is refused before anything is written to it: a run would otherwise
        extend it (SQLite reads only the pages a query needs, so damage elsewhere goes unseen).
        `quick_check` reads every page once (measured 2.3 ms per MB, warm cache, loaded machine;
        a 122 MB file: 0.29 s) but skips the index-to-table cross-check of `integrity_check`
        (`phasefarm runs --check`)."""
        rows = self._conn.execute("PRAGMA quick_check(1)").fetchall()
        verdict = " ".join(str(rows[0][0]).split()) if rows else "no verdict"
        if verdict != "ok":
            raise StoreRefused(
                f"store {self.path} is damaged, not written to ({verdict[:200]}); "
                f"check it with: phasefarm runs --check --store sqlite:///{self.path}"
            )

    def integrity_check(self) -> str:
        """SQLite's `PRAGMA integrity_check` verdict: "ok" for a sound file."""
        with self._mutex, self._errors():
            rows = self._conn.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)

    def close(self) -> None:
        try:
            with self._mutex:
                self._conn.close()
        finally:
            self._drop_claims()


def check_file(path: str | Path) -> str:
    """`PRAGMA integrity_check` of the SQLite file at `path`, opened read-only: "ok" for a
    sound file, else SQLite's problems joined in one line."""
    uri = f"{Path(path).expanduser().resolve().as_uri()}?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"cannot be read: {exc}"
    return "; ".join(" ".join(str(r[0]).split()) for r in rows) or "no verdict"
