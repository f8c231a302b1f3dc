"""How a run's events are stored: one row per committed group, its events one JSON array.

The engine commits the events of a group together (store/writer.py), so the store writes them
together too: one row `(run, first_seq, last_seq, progress, json)` per group, `json` an array
with one item per event. An event as the engine keeps it (`phasefarm.engine.events.Event`, a
tuple `(seq, t, kind, run_id, phase, data)`) is written as that array, in one call of the C
JSON encoder for the whole group; an event given as a dict (`RunStore.append_events`) is
written as that object. Reading gives back dicts either way, the engine's with the fields and
rounding of `Event.to_dict`.

Why: one row per event cost about 19 µs per phase in the writer thread (a dict per event, then
a row insert each; `phasefarm bench overhead`, 3 events per phase), which holds the GIL the
event loop needs; a group's array is encoded and inserted for a fraction of that.

`progress` is the data of the group's last `progress` event (JSON, NULL if it has none), so
`list_runs` finds a run's latest progress walking back on the primary key.
"""

from __future__ import annotations

import itertools
import json
import operator
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from phasefarm.errors import StoreError
from phasefarm.store.base import StoreEvent

__all__ = ["EventGroup", "check_after", "event_group", "events_json", "group_events"]


def _plain(value: Any) -> Any:
    # an event's data is a read-only mapping, and so is run.finished's usage inside it: written
    # as JSON objects (the C encoder takes only dicts as they are); other values JSON cannot
    # hold become strings. The web UI sends live events with this encoder too, so what it
    # replays from the store is what it sent.
    return dict(value) if isinstance(value, MappingProxyType | Mapping) else str(value)


# Made once: json.dumps with options builds an encoder per call; an encoder holds no state.
# No check for circular references (the engine's event data is made of fresh mappings): the
# check keeps a dict of every container's id and cost a fifth of encoding a group of events
# (`phasefarm bench overhead`); a cycle still fails, as a RecursionError.
_ENCODER = json.JSONEncoder(default=_plain, ensure_ascii=False, check_circular=False)
# The same, turning read-only mappings into dicts with a C method instead of a Python call per
# event (a third less time for a group of engine events); on anything else it raises TypeError
# and the group is encoded again by _ENCODER.
_MAPPINGS_ONLY = json.JSONEncoder(
    default=MappingProxyType.copy, ensure_ascii=False, check_circular=False
)


def events_json(value: Any) -> str:
    """JSON text of events, or of an event's data (values JSON cannot hold become strings)."""
    try:
        return _MAPPINGS_ONLY.encode(value)
    except TypeError:
        return _ENCODER.encode(value)


class EventGroup(NamedTuple):
    """One row of `event_batches`: a group of events, checked and encoded."""

    first_seq: int
    last_seq: int
    progress: str | None  # JSON of the data of its last `progress` event
    json: str


def _seq(run_id: str, event: StoreEvent) -> int:
    seq = event[0] if isinstance(event, tuple) else event.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise StoreError(f"event of run {run_id} has no integer seq >= 0: {event!r:.120}")
    return seq


def event_group(run_id: str, events: Sequence[StoreEvent]) -> EventGroup:
    """The row for `events` (at least one); StoreError unless each has an integer seq >= 0,
    increasing. Whether they come after the run's stored events is `check_after`'s."""
    # the engine's tuples are checked in C (`map`), a dict's seq one by one
    seqs = [event[0] if isinstance(event, tuple) else _seq(run_id, event) for event in events]
    try:
        increasing = seqs[0] >= 0 and all(map(operator.lt, seqs, itertools.islice(seqs, 1, None)))
    except TypeError:  # a seq that is no number
        increasing = False
    if not increasing:
        last = -1
        for event in events:  # find the culprit
            seq = _seq(run_id, event)
            check_after(run_id, seq, last)
            last = seq
    progress = None
    for event in reversed(events):  # in the engine's groups, usually the last event or so
        kind: Any
        data: Any
        if isinstance(event, tuple):
            kind, data = event[2], event[5]
        else:
            kind, data = event.get("kind"), event.get("data")
        if kind == "progress":
            progress = events_json(data)
            break
    return EventGroup(seqs[0], seqs[-1], progress, events_json(events))


def check_after(run_id: str, seq: int, last: int) -> None:
    """StoreError unless `seq` comes after `last` (the run's last stored seq, -1 if none)."""
    if seq <= last:
        raise StoreError(f"event seq {seq} of run {run_id} is not after {last}")


def group_events(text: str, after_seq: int = -1) -> list[dict[str, Any]]:
    """The events of a stored group with seq > after_seq, as dicts."""
    out = []
    for item in json.loads(text):
        if isinstance(item, list):
            seq, t, kind, run_id, phase, data = item
            if seq > after_seq:
                out.append(
                    {
                        "seq": seq,
                        "t": round(t, 6),
                        "kind": kind,
                        "run_id": run_id,
                        "phase": phase,
                        "data": data,
                    }
                )
        elif item["seq"] > after_seq:
            out.append(item)
    return out
