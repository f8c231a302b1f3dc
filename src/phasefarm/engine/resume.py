"""Restoring a run from the store: which stored outcomes are reused, what was already spent.

A phase recorded `succeeded` is reused, output and all, when the hash of what it receives now
equals the hash it was recorded with; a phase recorded `failed` too, unless the resume retries
failed phases. Everything else runs. What earlier executions spent (their usage, abandoned
attempts included) is where a resumed run's totals start.
"""

from __future__ import annotations

from collections.abc import Mapping

from phasefarm.engine.binding import Binding, Sources, hashed_values
from phasefarm.errors import CheckpointValueError
from phasefarm.scope import add_usage
from phasefarm.store.base import RunStore, StoredPhase, StoredRun, usage_so_far
from phasefarm.store.codec import input_hash

__all__ = ["checkpoint_hash", "earlier_usage", "reusable"]


def checkpoint_hash(binding: Binding, sources: Sources) -> str | None:
    """The input hash a phase's record is saved with; None if its inputs cannot be hashed
    (a resume then runs it again)."""
    if binding.kind == "map":  # a map's join: its items carry the hashes
        return None
    try:
        return input_hash({"key": binding.key, "values": hashed_values(binding, sources)})
    except CheckpointValueError:
        return None


def reusable(
    stored: StoredRun, binding: Binding, sources: Sources, retry_failed: bool
) -> StoredPhase | None:
    """The stored outcome of this phase if a resume may reuse it, else None."""
    phase = stored.phases.get(binding.key)
    if phase is None or phase.status not in ("succeeded", "failed"):
        return None
    if phase.status == "failed" and retry_failed:
        return None
    if phase.input_hash is None or phase.input_hash != checkpoint_hash(binding, sources):
        return None
    return phase


def earlier_usage(
    stored: StoredRun, store: RunStore
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """(run totals, per phase key) of what the run's earlier executions spent."""
    spent = usage_so_far(stored, store.events(stored.run_id))
    totals: dict[str, float] = {}
    for phase_totals in spent.values():
        add_usage(totals, phase_totals)
    return totals, spent


def copy_usage(spent: Mapping[str, Mapping[str, float]], key: str) -> dict[str, float]:
    """A phase's usage so far, as a new record starts from it."""
    return dict(spent.get(key) or {})
