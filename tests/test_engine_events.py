"""Events are immutable; big runs with a real SQLite store record everything (functional only:
no timing is asserted here, `phasefarm bench overhead` measures that)."""

from __future__ import annotations

import asyncio
import collections
import sqlite3
from pathlib import Path

import pytest

from phasefarm import Flow
from phasefarm.errors import RateLimited, TransientError
from phasefarm.store.sqlite import SQLiteStore


def two_phase_flow(name: str) -> Flow:
    flow = Flow(name)

    @flow.phase()
    async def first():
        return 1

    @flow.phase()
    async def second(first):
        return first + 1

    return flow


def test_a_callback_that_mutates_event_data_changes_nothing_another_run_sees() -> None:
    refused: list[str] = []
    annotated: list[str] = []

    def annotate(event) -> None:
        try:
            event.data["seen_by"] = "annotate"
        except TypeError:
            refused.append(event.kind)
        else:
            annotated.append(event.kind)

    first = two_phase_flow("one").run_sync(on_event=annotate)
    assert first.status == "succeeded"
    assert not annotated and "phase.succeeded" in refused
    # another run, of another flow and of the same one: its events are untouched
    for flow in (two_phase_flow("other"), two_phase_flow("one")):
        seen: list[dict] = []
        result = flow.run_sync(on_event=lambda e, seen=seen: seen.append(dict(e.data)))
        assert result.status == "succeeded"
        assert seen and all("seen_by" not in data for data in seen)
        assert all("seen_by" not in event.data for event in result.timeline)


def test_to_dict_is_a_copy_and_nested_event_values_cannot_be_appended_to() -> None:
    flow = Flow("added")

    @flow.template()
    async def extra():
        return 2

    @flow.phase()
    async def adder(ctx):
        ctx.add_phase("extra", key="extra[1]")

    result = flow.run_sync()
    added = next(e for e in result.timeline if e.kind == "phase.added")
    copy = added.to_dict()
    copy["data"]["pool"] = "elsewhere"
    assert added.data["pool"] == "default"
    with pytest.raises(AttributeError):
        added.data["deps"].append("injected")  # a tuple, not a shared list


def test_ten_thousand_wide_and_chained_phases_with_a_sqlite_store_are_all_recorded(
    tmp_path: Path,
) -> None:
    async def noop() -> None:
        return None

    for shape in ("wide", "chain"):
        flow = Flow(f"big-{shape}")
        for i in range(10_000):
            flow.phase(noop, name=f"p{i}", needs=[f"p{i - 1}"] if shape == "chain" and i else [])
        path = tmp_path / f"{shape}.sqlite3"
        with SQLiteStore(path) as store:
            result = flow.run_sync(store=store, run_id=shape)
        assert result.status == "succeeded"
        conn = sqlite3.connect(path)
        try:
            (records,) = conn.execute(
                "SELECT count(*) FROM phases WHERE run = ? AND status = 'succeeded'", (shape,)
            ).fetchone()
            (status,) = conn.execute("SELECT status FROM runs WHERE id = ?", (shape,)).fetchone()
        finally:
            conn.close()
        with SQLiteStore(path) as store:
            events = store.events(shape)
        kinds = collections.Counter(e["kind"] for e in events)
        seqs = [e["seq"] for e in events]
        assert records == 10_000 and status == "succeeded"
        assert kinds["phase.started"] == kinds["phase.succeeded"] == 10_000
        assert kinds["run.started"] == kinds["run.finished"] == 1
        assert kinds["progress"] == 101  # after phase 1, each 100 more, and the last
        assert seqs == sorted(set(seqs)) and seqs[-1] == len(result.timeline) - 1
        assert events == [e.to_dict() for e in result.timeline]  # as the engine emitted them


@pytest.mark.parametrize("error", [TransientError("503"), RateLimited("429", retry_after=0.0)])
def test_model_call_errors_are_not_retried_again_by_the_phase(error) -> None:
    """The LLM layer retries transport errors and rate limits; what reaches the engine has
    used those retries up, so a phase's `retries` do not multiply them."""
    flow = Flow("retry-once")
    calls: list[int] = []

    @flow.phase(retries=3, backoff=0)
    async def call_model():
        calls.append(1)
        raise error

    result = flow.run_sync()
    assert result.phases["call_model"].status == "failed"
    assert result.phases["call_model"].attempts == 1 and len(calls) == 1


def test_a_phase_own_error_is_retried_by_the_engine() -> None:
    flow = Flow("retry-own")
    calls: list[int] = []

    @flow.phase(retries=2, backoff=0)
    async def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ValueError("not yet")
        await asyncio.sleep(0)
        return "ok"

    result = flow.run_sync()
    assert result.outputs["flaky"] == "ok" and result.phases["flaky"].attempts == 3


def test_errors_mean_what_they_say() -> None:
    from phasefarm import CheckFailed, ProviderError, StoreError, StoreRefused, UsageError
    from phasefarm.pipelines.website.job import SiteCheckFailed

    assert not issubclass(StoreError, UsageError)  # a store failing mid-run: exit 1
    assert issubclass(StoreRefused, StoreError) and issubclass(StoreRefused, UsageError)
    assert issubclass(SiteCheckFailed, CheckFailed)
    assert not issubclass(SiteCheckFailed, ProviderError)  # a check of ours, not a model call
    assert not CheckFailed.retryable


def test_phase_bodies_execute_through_the_backend_given() -> None:
    """The seam for other executors (a Ray backend): every body goes through `call`, and
    retries, timeouts and records stay the engine's."""
    from phasefarm.engine.backend import LocalBackend

    calls: list[str] = []

    class Recording(LocalBackend):
        def call(self, fn, kwargs, is_async, pool):
            calls.append(fn.__name__)
            return super().call(fn, kwargs, is_async, pool)

    flow = Flow("seam")
    failures: list[int] = []

    @flow.phase()
    async def first():
        return 1

    @flow.phase(retries=1, backoff=0)
    def second(first):  # a plain function: a worker thread, through the backend too
        if not failures:
            failures.append(1)
            raise ValueError("once")
        return first + 1

    result = flow.run_sync(backend=Recording())
    assert result.outputs == {"first": 1, "second": 2}
    assert calls == ["first", "second", "second"]
    assert result.phases["second"].attempts == 2


def test_progress_is_sent_per_hundredth_and_at_the_end() -> None:
    """A run of 1,000 phases sends about 100 `progress` events, done never goes back, and the
    last one counts every phase; a run of at most 100 phases sends one per ended phase."""
    flow = Flow("progress-steps")

    async def noop() -> None:
        return None

    for i in range(1000):
        flow.phase(noop, name=f"p{i}")
    result = flow.run_sync()
    progress = [e.data for e in result.timeline if e.kind == "progress"]
    done = [p["done"] for p in progress]
    assert 90 <= len(progress) <= 110
    assert done == sorted(done) and len(set(done)) == len(done)
    assert progress[-1] == {"done": 1000, "total": 1000}
    assert all(b - a <= 10 for a, b in zip([0, *done], done, strict=False))

    small = Flow("progress-small")
    for i in range(7):
        small.phase(noop, name=f"q{i}")
    assert [e.data["done"] for e in small.run_sync().timeline if e.kind == "progress"] == [
        1,
        2,
        3,
        4,
        5,
        6,
        7,
    ]
