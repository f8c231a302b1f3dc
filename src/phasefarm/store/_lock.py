"""Who executes a run: the holder record written by `acquire`, and whether its process lives.

A holder is (pid, hostname, start token). The start token is the process's creation time as
psutil reports it, so a pid reused by an unrelated process after a crash does not pass for the
dead executor. A holder on another host cannot be checked from here
and counts as live: taking over a run another machine may still be writing would be worse than
asking the user to wait.

The holder record cannot tell two executions in one process apart (same pid), so this process
also keeps a registry of the runs it executes, keyed by (database, run id): the database is
named the same by every store object open on it (an SQLite file's resolved path, a Postgres
server, database and schema). `acquire` claims the run here before touching the store and
`release` (or closing the store object that claimed it) gives the claim back.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from phasefarm.errors import StoreRefused

__all__ = [
    "Holder",
    "check_can_acquire",
    "claim_in_process",
    "describe",
    "drop_claims",
    "holder_is_live",
    "new_claimant",
    "release_in_process",
    "this_process",
]


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    start: str | None  # process start token; None where /proc is not available
    since: float  # unix time the lock was taken

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> Holder | None:
        if not text:
            return None
        try:
            data: dict[str, Any] = json.loads(text)
            return cls(
                pid=int(data["pid"]),
                host=str(data["host"]),
                start=None if data.get("start") is None else str(data["start"]),
                since=float(data.get("since", 0.0)),
            )
        except (ValueError, KeyError, TypeError):
            return None  # an unreadable lock protects nothing: treat it as absent


def process_start_token(pid: int) -> str | None:
    """When `pid` was created (as text), "zombie" for a killed process its parent has not
    reaped, or None if it is gone or cannot be read."""
    try:
        process = psutil.Process(pid)
        if process.status() in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
            return "zombie"
        return repr(process.create_time())
    except psutil.Error:
        return None


def this_process() -> Holder:
    pid = os.getpid()
    return Holder(
        pid=pid, host=socket.gethostname(), start=process_start_token(pid), since=time.time()
    )


def holder_is_live(holder: Holder) -> bool:
    """True unless we can tell the holder's process is gone."""
    if holder.host != socket.gethostname():
        return True
    if holder.pid <= 0 or not psutil.pid_exists(holder.pid):
        return False
    token = process_start_token(holder.pid)
    if token == "zombie":
        return False  # killed, not yet reaped by its parent: it will never write again
    # A different start time: the pid was reused by another process.
    return holder.start is None or token is None or token == holder.start


def describe(holder: Holder) -> str:
    here = socket.gethostname()
    return f"process {holder.pid}" + ("" if holder.host == here else f" on {holder.host}")


def check_can_acquire(run_id: str, current: Holder | None) -> None:
    """Raise StoreError if `current` is another process that is still alive.

    The same process may take its own lock again: a flow resumed in the process that ran it.
    Two executions of the run at once in this process are told apart by `claim_in_process`.
    """
    if current is None:
        return
    me = this_process()
    if current.host == me.host and current.pid == me.pid:
        return
    if holder_is_live(current):
        raise StoreRefused(f"run {run_id} is being executed by {describe(current)}")


# -- executions in this process ------------------------------------------------------------------

# (database, run id) -> the store object (its claimant number) that claimed it
_executing: dict[tuple[str, str], int] = {}
_executing_mutex = threading.Lock()
_claimants = itertools.count(1)


def new_claimant() -> int:
    """A number naming one store object in the registry (never reused, unlike `id()`)."""
    return next(_claimants)


@contextmanager
def claim_in_process(database: str, run_id: str, claimant: int) -> Iterator[None]:
    """Claim `run_id` of `database` for an execution in this process, for good unless the
    block raises (the store refused the run too): StoreError if this process executes it."""
    key = (database, run_id)
    with _executing_mutex:
        if key in _executing:
            raise StoreRefused(f"run {run_id} is already being executed in this process")
        _executing[key] = claimant
    try:
        yield
    except BaseException:
        release_in_process(database, run_id)
        raise


def release_in_process(database: str, run_id: str) -> None:
    """Give the claim back, whichever store object made it (idempotent)."""
    with _executing_mutex:
        _executing.pop((database, run_id), None)


def drop_claims(claimant: int) -> None:
    """Give back every claim made through one store object: it is closed, it executes nothing."""
    with _executing_mutex:
        for key in [k for k, c in _executing.items() if c == claimant]:
            del _executing[key]
