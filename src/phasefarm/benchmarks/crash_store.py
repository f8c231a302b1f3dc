"""What a crash trial reads back: output trees, the store's integrity, and re-runs found in it.

A completed phase that runs again after a resume is seen in two ways: a `phase.started` event
for its key after the resume began, or its stored record rewritten (caught even when the killed
process's last events were lost).
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phasefarm.store.eventlog import group_events

__all__ = [
    "StoreSnapshot",
    "count_reruns",
    "differences",
    "integrity",
    "snapshot_store",
    "tree_hashes",
]


def tree_hashes(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder`, by relative path."""
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def differences(expected: dict[str, str], got: dict[str, str]) -> list[str]:
    out = [f"missing {p}" for p in sorted(expected.keys() - got.keys())]
    out += [f"extra {p}" for p in sorted(got.keys() - expected.keys())]
    out += [f"differs {p}" for p in sorted(expected.keys() & got.keys()) if expected[p] != got[p]]
    return out


def integrity(store: Path) -> str:
    if not store.exists():
        return "ok"  # killed before the store was created: nothing to corrupt
    conn = sqlite3.connect(store, timeout=30)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
        return "; ".join(str(r[0]) for r in rows)
    except sqlite3.DatabaseError as exc:
        return f"error: {exc}"
    finally:
        conn.close()


@dataclass(frozen=True)
class StoreSnapshot:
    """What the store says is finished, taken right before a resume."""

    last_seq: int
    succeeded: dict[str, tuple[Any, ...]]  # key -> (started, finished, attempts, input_hash)


def snapshot_store(store: Path, run_id: str) -> StoreSnapshot | None:
    if not store.exists():
        return None
    conn = sqlite3.connect(store, timeout=30)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "runs" not in tables:
            return None
        if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            return None
        row = conn.execute(
            "SELECT max(last_seq) FROM event_batches WHERE run = ?", (run_id,)
        ).fetchone()
        rows = conn.execute(
            "SELECT key, started, finished, attempts, input_hash FROM phases"
            " WHERE run = ? AND status = 'succeeded' AND input_hash IS NOT NULL",
            (run_id,),
        ).fetchall()
    finally:
        conn.close()
    return StoreSnapshot(
        last_seq=-1 if row[0] is None else int(row[0]),
        succeeded={key: tuple(rest) for key, *rest in rows},
    )


def count_reruns(
    store: Path, run_id: str, snapshots: list[StoreSnapshot]
) -> tuple[list[str], int, list[str]]:
    """Keys re-run after being recorded succeeded, provider calls they made again, and keys
    that were in flight at a kill (started, no succeeded record) and ran again."""
    conn = sqlite3.connect(store, timeout=30)
    try:
        events = [
            event
            for (text,) in conn.execute(
                "SELECT json FROM event_batches WHERE run = ? ORDER BY first_seq", (run_id,)
            )
            for event in group_events(text)
        ]
        final = {
            key: tuple(rest)
            for key, *rest in conn.execute(
                "SELECT key, started, finished, attempts, input_hash FROM phases WHERE run = ?",
                (run_id,),
            )
        }
    finally:
        conn.close()
    reruns: list[str] = []
    redone: list[str] = []
    calls = 0
    for index, snap in enumerate(snapshots):
        before = {
            e.get("phase")
            for e in events
            if e["seq"] <= snap.last_seq
            and e["kind"] == "phase.started"
            and "items" not in (e.get("data") or {})
        }
        until = snapshots[index + 1].last_seq if index + 1 < len(snapshots) else None
        window = [
            e for e in events if e["seq"] > snap.last_seq and (until is None or e["seq"] <= until)
        ]
        seen: set[str] = set()
        again: set[str] = set()
        for event in window:
            key: Any = event.get("phase")  # None for run-level events
            if key not in snap.succeeded:
                if event["kind"] == "phase.started" and key in before:
                    again.add(key)
                continue
            data = event.get("data") or {}
            if event["kind"] == "phase.started" and "items" not in data:
                seen.add(key)
            elif event["kind"] == "usage":
                calls += int(data.get("calls", 1))
                seen.add(key)
        # A rewritten record is a re-run even if the killed process lost its events.
        later = snapshots[index + 1].succeeded if index + 1 < len(snapshots) else final
        for key, record in snap.succeeded.items():
            if key in later and later[key] != record:
                seen.add(key)
        reruns += sorted(seen)
        redone += sorted(again)
    return reruns, calls, redone
