"""Checkpoint stores: what a run has done, so a crash costs nothing that finished.

`open_store(url)` gives a `RunStore`: `SQLiteStore` (default, one file), `PostgresStore` or
`MemoryStore`.
`codec` turns outputs and inputs into JSON text and hashes phase inputs.
"""

from __future__ import annotations

from phasefarm.store.base import (
    AddedPhase,
    RunStore,
    RunSummary,
    StoredPhase,
    StoredRun,
    usage_so_far,
)
from phasefarm.store.codec import decode, encode, input_hash
from phasefarm.store.memory import MemoryStore
from phasefarm.store.postgres import PostgresStore
from phasefarm.store.sqlite import SQLiteStore
from phasefarm.store.url import DEFAULT_STORE, open_store

__all__ = [
    "DEFAULT_STORE",
    "AddedPhase",
    "MemoryStore",
    "PostgresStore",
    "RunStore",
    "RunSummary",
    "SQLiteStore",
    "StoredPhase",
    "StoredRun",
    "decode",
    "encode",
    "input_hash",
    "open_store",
    "usage_so_far",
]
