"""The RunStore protocol over SQL, shared by `SQLiteStore` and `PostgresStore`.

Subclasses supply the connection handling (`_transaction`, `_reading`), the placeholder style
(`_q`) and a few dialect fragments; every query, every check (unknown run, increasing event
seq, the executor lock) and every encoding is written once, here. SQL is written with `?`
placeholders.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from importlib import resources
from typing import Any

from phasefarm.errors import StoreError, StoreRefused
from phasefarm.store import codec
from phasefarm.store._lock import (
    Holder,
    check_can_acquire,
    claim_in_process,
    drop_claims,
    release_in_process,
    this_process,
)
from phasefarm.store.base import (
    AddedPhase,
    BatchWrites,
    PhaseRow,
    RunSummary,
    StoredPhase,
    StoredRun,
    StoreEvent,
)
from phasefarm.store.eventlog import EventGroup, check_after, event_group, group_events
from phasefarm.store.memory import (
    decode_added,
    summary_status,
    total_from_progress,
)

__all__ = [
    "PHASE_COLUMNS",
    "PHASE_UPSERT",
    "Migration",
    "SQLRunStore",
    "migrations",
    "split_statements",
]

PHASE_COLUMNS = "run, key, status, attempts, started, finished, output, error, input_hash, usage"
PHASE_UPSERT = (
    "ON CONFLICT (run, key) DO UPDATE SET status = excluded.status,"
    " attempts = excluded.attempts, started = excluded.started, finished = excluded.finished,"
    " output = excluded.output, error = excluded.error, input_hash = excluded.input_hash,"
    " usage = excluded.usage"
)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


_MIGRATION_NAMES = {
    "sqlite": re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$"),
    "postgres": re.compile(r"^(\d{4})_([a-z0-9_]+)\.postgres\.sql$"),
}


def migrations(dialect: str = "sqlite") -> list[Migration]:
    """The schema migrations shipped with this phasefarm, in order: `NNNN_name.sql` for SQLite,
    `NNNN_name.postgres.sql` for Postgres (same numbers, same schema, each in its dialect)."""
    pattern = _MIGRATION_NAMES[dialect]
    found = []
    for entry in resources.files("phasefarm.store").joinpath("migrations").iterdir():
        match = pattern.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"store migrations must be numbered 1..N without gaps, found {versions}")
    return found


def split_statements(sql: str) -> list[str]:
    """The statements of a migration script, each complete (executescript would COMMIT early)."""
    import sqlite3

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


class SQLRunStore(BatchWrites):
    """Protocol methods over a DB-API-like connection; see the subclasses for the rest."""

    where: str  # the store, for messages: a file path or a URL without its password
    # the database, named alike by every store object open on it: who executes which run in
    # this process is registered under it (see phasefarm.store._lock)
    _database_id: str
    _claimant: int  # this store object in that registry (_lock.new_claimant())
    phase_order = "rowid"  # column giving the order phases were first saved in
    runs_order = "r.created DESC, r.rowid DESC"
    lock_clause = ""  # appended to the SELECT of a run row inside a write transaction

    def usage_field(self, name: str) -> str:
        """SQL for one numeric field of a phase's usage JSON (`p.usage`)."""
        return f"json_extract(p.usage, '$.{name}')"

    def _q(self, sql: str) -> str:
        return sql

    def _transaction(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _reading(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def _run(self, conn: Any, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        return conn.execute(self._q(sql), params)

    def _run_many(self, conn: Any, sql: str, rows: list[tuple[Any, ...]]) -> None:
        conn.executemany(self._q(sql), rows)

    def _require_run(self, conn: Any, run_id: str) -> tuple[Any, ...]:
        row = self._run(
            conn, f"SELECT lock, status FROM runs WHERE id = ?{self.lock_clause}", (run_id,)
        ).fetchone()
        if row is None:
            raise StoreRefused(f"unknown run id {run_id!r} in {self.where}")
        return tuple(row)

    def create_run(
        self, run_id: str, flow: str, inputs: dict[str, Any], mode: str, meta: dict[str, Any]
    ) -> None:
        encoded_inputs, encoded_meta = codec.encode(inputs), codec.encode(meta)
        with self._transaction() as conn:
            if self._run(conn, "SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
                raise StoreRefused(f"run id {run_id!r} already exists in {self.where}")
            now = time.time()
            self._run(
                conn,
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
        with self._reading() as conn:
            run = self._run(
                conn, "SELECT flow, inputs, mode, meta, status FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            if run is None:
                raise StoreRefused(f"unknown run id {run_id!r} in {self.where}")
            phase_rows = self._run(
                conn,
                "SELECT key, status, attempts, started, finished, output, error, input_hash, usage"
                f" FROM phases WHERE run = ? ORDER BY {self.phase_order}",
                (run_id,),
            ).fetchall()
            last_seq = self._last_seq(conn, run_id)
            added_rows = self._run(
                conn,
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
        with (
            claim_in_process(self._database_id, run_id, self._claimant),
            self._transaction() as conn,
        ):
            lock, _ = self._require_run(conn, run_id)
            check_can_acquire(run_id, Holder.from_json(lock))
            self._run(
                conn,
                "UPDATE runs SET lock = ?, status = 'running', updated = ? WHERE id = ?",
                (this_process().to_json(), time.time(), run_id),
            )

    def release(self, run_id: str) -> None:
        try:
            with self._transaction() as conn:
                row = self._run(
                    conn, f"SELECT lock FROM runs WHERE id = ?{self.lock_clause}", (run_id,)
                ).fetchone()
                if row is None or row[0] is None:
                    return
                holder = Holder.from_json(row[0])
                if holder is None or holder.pid == this_process().pid:
                    self._run(conn, "UPDATE runs SET lock = NULL WHERE id = ?", (run_id,))
        finally:
            # even when the store failed: the execution is over either way
            release_in_process(self._database_id, run_id)

    def _drop_claims(self) -> None:
        """On close: runs acquired through this object are executed here no more."""
        drop_claims(self._claimant)

    def save_batch(
        self,
        run_id: str,
        phases: Sequence[PhaseRow],
        added: Sequence[AddedPhase],
        events: Sequence[StoreEvent],
    ) -> None:
        group = event_group(run_id, events) if events else None
        added_rows = [
            (
                run_id,
                a.key,
                run_id,
                a.template,
                json.dumps(list(a.needs)),
                json.dumps(codec.to_jsonable(a.args)),
                json.dumps(codec.to_jsonable(a.options)),
                a.added_by,
            )
            for a in added
        ]
        with self._transaction() as conn:
            # that the run exists and when it was last written, in one statement: the writer
            # thread re-takes the GIL after each, at up to a switch interval's wait (sqlite.py)
            touched = self._run(
                conn, "UPDATE runs SET updated = ? WHERE id = ?", (time.time(), run_id)
            ).rowcount
            if touched != 1:
                raise StoreRefused(f"unknown run id {run_id!r} in {self.where}")
            if phases:
                self._insert_phases(conn, run_id, phases)
            for row in added_rows:  # one by one: each takes the next `ord`
                self._run(
                    conn,
                    "INSERT INTO added_phases (run, key, ord, template, needs, args, options,"
                    " added_by) VALUES (?, ?, (SELECT coalesce(max(ord), 0) + 1 FROM added_phases"
                    " WHERE run = ?), ?, ?, ?, ?, ?)"
                    " ON CONFLICT (run, key) DO UPDATE SET template = excluded.template,"
                    " needs = excluded.needs, args = excluded.args, options = excluded.options,"
                    " added_by = excluded.added_by",
                    row,
                )
            if group is not None:
                self._insert_events(conn, run_id, group)

    def _last_seq(self, conn: Any, run_id: str) -> int:
        """The run's last stored event seq, -1 if none (its last group, on the primary key)."""
        row = self._run(
            conn,
            "SELECT last_seq FROM event_batches WHERE run = ? ORDER BY first_seq DESC LIMIT 1",
            (run_id,),
        ).fetchone()
        return -1 if row is None else int(row[0])

    def _insert_phases(self, conn: Any, run_id: str, phases: Sequence[PhaseRow]) -> None:
        self._run_many(
            conn,
            f"INSERT INTO phases ({PHASE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            f" {PHASE_UPSERT}",
            [(run_id, *p) for p in phases],
        )

    def _insert_events(self, conn: Any, run_id: str, group: EventGroup) -> None:
        """Insert the group if it comes after the run's last stored event, else StoreError."""
        inserted = self._run(
            conn,
            "INSERT INTO event_batches (run, first_seq, last_seq, progress, json)"
            " SELECT ?, ?, ?, ?, ? WHERE ? > coalesce((SELECT last_seq FROM event_batches"
            " WHERE run = ? ORDER BY first_seq DESC LIMIT 1), -1)",
            (run_id, *group, group.first_seq, run_id),
        ).rowcount
        if inserted != 1:
            check_after(run_id, group.first_seq, self._last_seq(conn, run_id))
            raise StoreError(f"events of run {run_id} from seq {group.first_seq} were not stored")

    def events(self, run_id: str, after_seq: int = -1) -> list[dict[str, Any]]:
        with self._reading() as conn:
            self._require_run(conn, run_id)
            # from the group holding seq after_seq + 1 on (groups follow each other in seq)
            rows = self._run(
                conn,
                "SELECT json FROM event_batches WHERE run = ? AND first_seq >= coalesce("
                "(SELECT max(first_seq) FROM event_batches WHERE run = ? AND first_seq <= ?), -1)"
                " ORDER BY first_seq",
                (run_id, run_id, after_seq + 1),
            ).fetchall()
        return [event for (text,) in rows for event in group_events(text, after_seq)]

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
            self._run(
                conn,
                "UPDATE runs SET status = ?, elapsed = ?, tokens = ?, cost = ?, stop_reason = ?,"
                " updated = ? WHERE id = ?",
                (status, elapsed_s, tokens, cost, stop_reason, time.time(), run_id),
            )

    def list_runs(self) -> list[RunSummary]:
        with self._reading() as conn:
            rows = self._run(
                conn,
                "SELECT r.id, r.flow, r.status, r.lock, r.created, r.elapsed, r.tokens, r.cost,"
                " r.stop_reason,"
                " (SELECT count(*) FROM phases p WHERE p.run = r.id AND p.status = 'succeeded'),"
                " (SELECT count(*) FROM phases p WHERE p.run = r.id),"
                " (SELECT b.progress FROM event_batches b WHERE b.run = r.id"
                "  AND b.progress IS NOT NULL ORDER BY b.first_seq DESC LIMIT 1),"
                f" (SELECT coalesce(sum({self.usage_field('tokens')}), 0) FROM phases p"
                "  WHERE p.run = r.id),"
                f" (SELECT coalesce(sum({self.usage_field('cost')}), 0) FROM phases p"
                "  WHERE p.run = r.id)"
                f" FROM runs r ORDER BY {self.runs_order}",
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
