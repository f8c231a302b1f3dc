"""Restoring a run from the store: which stored outcomes are reused, what was already spent.

A phase recorded `succeeded` is reused, output and all, when the hash of what it receives now
equals the hash it was recorded with; a phase recorded `failed` too, unless the resume retries
failed phases. Everything else runs. What earlier executions spent (their usage, abandoned
attempts included) is where a resumed run's totals start.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from phasefarm.engine.binding import ARG, INPUT, OUTPUT, Binding, Sources, hashed_values, value
from phasefarm.errors import CheckpointValueError
from phasefarm.scope import add_usage
from phasefarm.store.base import RunStore, StoredPhase, StoredRun, usage_so_far
from phasefarm.store.codec import TAG, dumps_canonical, input_hash

__all__ = ["InputHashes", "checkpoint_hash", "earlier_usage", "reusable"]

_HASHED = (ARG, OUTPUT, INPUT)  # not services (clients, locks, folders) nor the phase context


class InputHashes:
    """The input hashes of a run's phases, as its records are saved with.

    A phase's hash is `codec.input_hash({"key": key, "values": {param: value}})`: the sha256 of
    that dict's canonical JSON. It is built here from pieces, with the same result: the
    canonical JSON of each dependency's output and each run input is made once per run and
    shared by every phase that receives it, and a phase that receives nothing hashes a short
    string. Hashing the whole dict per phase cost ~8 µs of the event loop's time per no-op
    phase, this ~1 µs (`phasefarm bench overhead`, timeit); more for every dependent of a large
    output."""

    __slots__ = ("_shared", "_sources")

    def __init__(self, sources: Sources) -> None:
        self._sources = sources
        # canonical JSON of outputs and inputs by (source, name): set once, as a run's outputs
        self._shared: dict[tuple[str, str], str] = {}

    def of(self, binding: Binding) -> str | None:
        """The phase's input hash; None if its inputs cannot be hashed (a resume then runs it
        again) or it is a map's join (its items carry the hashes)."""
        if binding.kind == "map":
            return None
        params = [p for p in binding.params if p[1] in _HASHED]
        values = ""
        if params:
            params.sort()
            try:
                if any(param == TAG for param, _ in params):  # a dict the codec tags
                    hashed = hashed_values(binding, self._sources)
                    return input_hash({"key": binding.key, "values": hashed})
                values = ",".join(
                    f"{dumps_canonical(param)}:{self._text(binding, param, source)}"
                    for param, source in params
                )
            except CheckpointValueError:
                return None
        text = f'{{"key":{dumps_canonical(binding.key)},"values":{{{values}}}}}'
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _text(self, binding: Binding, param: str, source: str) -> str:
        if source == ARG:
            return dumps_canonical(binding.args[param])
        text = self._shared.get((source, param))
        if text is None:
            text = dumps_canonical(value(binding, self._sources, param, source, None))
            self._shared[source, param] = text
        return text


def checkpoint_hash(binding: Binding, sources: Sources) -> str | None:
    """The input hash of one phase (`InputHashes.of`), nothing shared with other phases."""
    return InputHashes(sources).of(binding)


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
