"""`PostgresStore`: the checkpoint store in a Postgres database (`--store postgres://...`).

For runs shared between machines or kept by a team. Same tables, same protocol code
(`phasefarm.store._sql`) as SQLiteStore; Postgres's own durability (each `save_phase` is a
committed transaction, `synchronous_commit` as the server has it). Needs `psycopg` (the
`phasefarm[postgres]` extra).

Several processes and hosts may use one database: writers lock the run's row (`FOR UPDATE`),
and migrations take an advisory lock. The executor lock treats a holder on another host as live
(its pid cannot be checked from here). A database whose schema is newer than this phasefarm, or
that has a `runs` table but is not a phasefarm store, is refused before anything is written.
"""

from __future__ import annotations

import importlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from phasefarm.errors import StoreError, StoreRefused
from phasefarm.store._lock import new_claimant
from phasefarm.store._sql import Migration, SQLRunStore, migrations, split_statements

__all__ = ["PostgresStore", "redact"]

_MIGRATION_LOCK = 7_155_170_001  # advisory lock key: one migrating process at a time


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^/:@]*):[^/@]*@", r"\1:***@", url)


class PostgresStore(SQLRunStore):
    """A RunStore in a Postgres database. Thread-safe: one connection behind a mutex."""

    phase_order = "ord"
    runs_order = "r.created DESC, r.id DESC"
    lock_clause = " FOR UPDATE"

    def __init__(
        self, url: str, *, create: bool = True, _migrations: list[Migration] | None = None
    ) -> None:
        self.url = url
        self.where = redact(url)
        self._migrations = migrations("postgres") if _migrations is None else _migrations
        self._mutex = threading.RLock()
        self._claimant = new_claimant()
        try:
            # imported by name: psycopg is an optional extra, and type checking must not need it
            psycopg: Any = importlib.import_module("psycopg")
        except ImportError:
            raise StoreRefused(
                "the postgres store needs psycopg: pip install 'phasefarm[postgres]'"
            ) from None
        self._psycopg = psycopg
        try:
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreRefused(f"cannot open store {self.where}: {_first_line(exc)}") from None
        try:
            self._database_id = self._identify_database()
            current = self._check_existing(create)
            if current < len(self._migrations):
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
        return f"PostgresStore({self.where!r})"

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def usage_field(self, name: str) -> str:
        return f"(p.usage::jsonb ->> '{name}')::float8"

    def _q(self, sql: str) -> str:
        return sql.replace("?", "%s")

    # -- opening -------------------------------------------------------------------------------

    def _version(self, conn: Any) -> int | None:
        """The schema version, None if the database has no phasefarm store; refuses others."""
        row = conn.execute(
            "SELECT to_regclass('schema_migrations') IS NOT NULL, to_regclass('runs') IS NOT NULL"
        ).fetchone()
        has_migrations, has_runs = bool(row[0]), bool(row[1])
        if not has_migrations:
            if has_runs:
                raise StoreRefused(f"{self.where} has a runs table but is not a phasefarm store")
            return None
        current = int(conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0)
        latest = len(self._migrations)
        if current > latest:
            raise StoreRefused(
                f"store schema {current} is newer than this phasefarm ({latest}): "
                f"upgrade phasefarm to use {self.where}"
            )
        return current

    def _identify_database(self) -> str:
        """Server, database and schema as connected: the same for every URL spelling them."""
        with self._reading() as conn:
            name, schema = conn.execute("SELECT current_database(), current_schema()").fetchone()
        info = self._conn.info
        return f"postgres://{info.host}:{info.port}/{name}?schema={schema}"

    def _check_existing(self, create: bool) -> int:
        with self._reading() as conn:
            current = self._version(conn)
        if current is None and not create:
            raise StoreRefused(f"no store at {self.where}")
        return current or 0

    def _migrate(self) -> None:
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            current = self._version(conn) or 0  # again: another process may have migrated
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied DOUBLE PRECISION"
                " NOT NULL)"
            )
            for migration in self._migrations[current:]:
                for statement in split_statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, time.time()),
                )

    def schema_version(self) -> int:
        with self._reading() as conn:
            return self._version(conn) or 0

    # -- plumbing ------------------------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except self._psycopg.errors.UniqueViolation as exc:
            raise StoreError(f"store {self.where}: already exists: {_first_line(exc)}") from None
        except self._psycopg.Error as exc:
            raise StoreError(f"store {self.where}: {_first_line(exc)}") from None

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        """One write transaction, committed on exit; rolled back on any error."""
        with self._mutex, self._errors(), self._conn.transaction():
            yield self._conn

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        with self._mutex, self._errors():
            yield self._conn

    def _run_many(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with conn.cursor() as cursor:
            cursor.executemany(self._q(sql), rows)

    def close(self) -> None:
        try:
            with self._mutex:
                self._conn.close()
        finally:
            self._drop_claims()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
