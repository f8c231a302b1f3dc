"""Resume through the engine: only what did not finish runs again; outputs come from the store.

Every phase body counts its calls in a `calls` service (services are not checkpointed), so
"ran again" is counted, not inferred from timings.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic import BaseModel

from pg_support import new_database
from phasefarm import BudgetExceeded, Flow, PhaseContext, StoreError, emit
from phasefarm.store import (
    MemoryStore,
    PostgresStore,
    RunStore,
    SQLiteStore,
    StoredPhase,
    StoredRun,
    usage_so_far,
)


@dataclass
class Gate:
    """What the world looks like this time: which phases break, how much budget is left."""

    broken: set[str] = field(default_factory=set)
    budget: int = 1_000
    calls: Counter[str] = field(default_factory=Counter)

    def enter(self, name: str) -> None:
        self.calls[name] += 1
        if name in self.broken:
            raise RuntimeError(f"{name} is broken today")
        if self.budget <= 0:
            raise BudgetExceeded("budget reached: 0 calls left")
        self.budget -= 1


class Layout(BaseModel):
    columns: int
    hero: bytes


def chain_flow() -> Flow:
    """brief -> a -> b -> c, plus x (needs brief only) and d (needs b and x)."""
    flow = Flow("chain")

    @flow.phase()
    async def a(brief: str, gate: Gate) -> Layout:
        gate.enter("a")
        return Layout(columns=len(brief), hero=b"\x89PNG" + brief.encode())

    @flow.phase()
    async def b(a: Layout, gate: Gate) -> str:
        gate.enter("b")
        return f"b({a.columns},{a.hero[-3:].decode()})"

    @flow.phase()
    def c(b: str, gate: Gate) -> str:  # a plain function: runs in a worker thread
        gate.enter("c")
        return f"c({b})"

    @flow.phase()
    async def x(brief: str, gate: Gate) -> tuple[str, int]:
        gate.enter("x")
        return (brief.upper(), 1)

    @flow.phase()
    async def d(b: str, x: tuple[str, int], gate: Gate) -> dict[str, object]:
        gate.enter("d")
        return {"b": b, "x": x}

    return flow


@pytest.fixture(params=["sqlite", "memory", "postgres"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], RunStore]]:
    """A function giving the store again: a fresh SQLiteStore / PostgresStore connection each
    time (the resume reads from disk, as after a crash), or the same MemoryStore."""
    opened: list[RunStore] = []
    memory = MemoryStore()
    url = new_database() if request.param == "postgres" else ""

    def open_again() -> RunStore:
        store: RunStore
        if request.param == "sqlite":
            store = SQLiteStore(tmp_path / "runs.db")
        elif request.param == "postgres":
            store = PostgresStore(url)
        else:
            store = memory
        opened.append(store)
        return store

    yield open_again
    for store in opened:
        store.close()


def test_failed_phase_resumed_with_retry_failed_runs_only_what_did_not_finish(reopen):
    flow = chain_flow()
    gate = Gate(broken={"c"})
    first = flow.run_sync({"brief": "bakery"}, services={"gate": gate}, store=reopen(), run_id="r1")
    assert first.status == "failed"
    assert first.phases["c"].status == "failed"
    assert first.phases["d"].status == "succeeded"
    assert gate.calls == Counter({"a": 1, "b": 1, "c": 1, "x": 1, "d": 1})

    # Resume without --retry-failed: the failure stands, nothing is called.
    gate.calls.clear()
    again = flow.resume_sync("r1", store=reopen(), services={"gate": gate})
    assert again.status == "failed"
    assert gate.calls == Counter()
    assert again.phases["c"].error == "RuntimeError: c is broken today"

    # The cause is fixed: only c runs, fed with b's output from the store.
    gate = Gate()
    fixed = flow.resume_sync("r1", store=reopen(), services={"gate": gate}, retry_failed=True)
    assert fixed.status == "succeeded"
    assert gate.calls == Counter({"c": 1})
    assert fixed.outputs["c"] == "c(b(6,ery))"
    assert fixed.outputs["a"] == Layout(columns=6, hero=b"\x89PNGbakery")
    assert isinstance(fixed.outputs["a"], Layout)
    assert fixed.outputs["d"] == {"b": "b(6,ery)", "x": ("BAKERY", 1)}

    # Finished: resuming once more calls nothing and changes nothing.
    gate.calls.clear()
    done = flow.resume_sync("r1", store=reopen(), services={"gate": gate}, retry_failed=True)
    assert done.status == "succeeded"
    assert gate.calls == Counter()
    assert done.outputs == fixed.outputs


def spender_flow() -> Flow:
    """a spends before it can fail; b spends a little after it."""
    flow = Flow("spender")

    @flow.phase()
    async def a(gate: Gate) -> str:
        emit("usage", tokens=100, cost=0.5)
        gate.enter("a")
        return "a"

    @flow.phase()
    async def b(a: str, gate: Gate) -> str:
        emit("usage", tokens=10, cost=0.05)
        gate.enter("b")
        return a + "b"

    return flow


def test_usage_of_an_abandoned_attempt_still_counts_after_resume(reopen):
    flow = spender_flow()
    first = flow.run_sync(services={"gate": Gate(broken={"a"})}, store=reopen(), run_id="r1")
    assert first.phases["a"].status == "failed" and first.usage["tokens"] == 100

    second = flow.resume_sync("r1", store=reopen(), services={"gate": Gate()}, retry_failed=True)
    assert second.status == "succeeded"
    assert second.phases["a"].usage["tokens"] == 200  # the failed attempt and this one
    assert second.usage["tokens"] == 210
    assert second.usage["cost"] == pytest.approx(1.05)

    # Nothing runs again: the totals stand, in the result and in the store.
    third = flow.resume_sync("r1", store=reopen(), services={"gate": Gate()})
    assert third.usage["tokens"] == 210
    assert third.phases["a"].usage["tokens"] == 200
    assert reopen().load_run("r1").phases["a"].usage["tokens"] == 200


def test_usage_of_a_phase_cut_off_without_a_record_counts_on_resume(reopen):
    # As after a crash: a's usage events were saved, its record never was.
    store = reopen()
    store.create_run("r2", "spender", {}, "parallel", {})
    usage = {"tokens": 100, "cost": 0.5}
    event = {"seq": 0, "t": 0.1, "kind": "usage", "run_id": "r2", "phase": "a", "data": usage}
    store.append_events("r2", [event])

    result = spender_flow().resume_sync("r2", store=reopen(), services={"gate": Gate()})
    assert result.status == "succeeded"
    assert result.phases["a"].usage["tokens"] == 200
    assert result.usage["tokens"] == 210


def test_usage_so_far_takes_the_larger_of_records_and_events_per_field():
    def phase(key: str, **usage: float) -> StoredPhase:
        return StoredPhase(key, "succeeded", 1, 0.0, 1.0, None, None, None, dict(usage))

    run = StoredRun("r", "f", {}, "parallel", "running", {}, [], {})
    run.phases.update(a=phase("a", tokens=50, cost=0.2), b=phase("b", tokens=7))

    def usage(phase: str | None, **data: float) -> dict:
        return {"kind": "usage", "phase": phase, "data": data}

    events = [
        usage("a", tokens=30, cost=0.1),  # a's events: 30 + 40 = 70 tokens, 0.1 cost
        usage("a", tokens=40, calls=1, cached=True),  # a bool is not a number here
        {"kind": "phase.started", "phase": "c", "data": {"attempt": 1}},
        usage("c", tokens=5),  # c has no record (cut off)
        usage(None, tokens=1),  # run-level
    ]
    assert usage_so_far(run, events) == {
        "a": {"tokens": 70, "cost": 0.2, "calls": 1},
        "b": {"tokens": 7},  # its events were lost: the record counts
        "c": {"tokens": 5},
        "": {"tokens": 1},
    }


def test_skipped_dependents_run_on_resume(reopen):
    flow = chain_flow()
    gate = Gate(broken={"b"})
    first = flow.run_sync({"brief": "shop"}, services={"gate": gate}, store=reopen(), run_id="r1")
    assert {k: first.phases[k].status for k in "abcdx"} == {
        "a": "succeeded",
        "b": "failed",
        "c": "skipped",
        "d": "skipped",
        "x": "succeeded",
    }
    gate = Gate()
    fixed = flow.resume_sync("r1", store=reopen(), services={"gate": gate}, retry_failed=True)
    assert fixed.status == "succeeded"
    assert gate.calls == Counter({"b": 1, "c": 1, "d": 1})


def test_budget_stop_then_resume_with_more_budget(reopen):
    flow = chain_flow()
    # sequential: a, b, c, x, d in order; the budget allows two calls.
    gate = Gate(budget=2)
    first = flow.run_sync(
        {"brief": "cafe"}, services={"gate": gate}, store=reopen(), run_id="r1", mode="sequential"
    )
    assert first.status == "cancelled"
    assert first.stop_reason == "budget reached: 0 calls left"
    finished = {k for k, r in first.phases.items() if r.status == "succeeded"}
    assert len(finished) == 2
    store = reopen()
    assert store.load_run("r1").status == "cancelled"

    gate = Gate(budget=100)
    second = flow.resume_sync("r1", store=store, services={"gate": gate})
    assert second.status == "succeeded"
    # Each phase ran once in all: the two finished ones are not called again.
    assert set(gate.calls) == {"a", "b", "c", "x", "d"} - finished
    assert all(n == 1 for n in gate.calls.values())
    assert second.outputs["c"] == "c(b(4,afe))"


def test_changed_upstream_output_reruns_exactly_the_affected_phases(reopen):
    flow = chain_flow()
    gate = Gate()
    first = flow.run_sync({"brief": "bakery"}, services={"gate": gate}, store=reopen(), run_id="r1")
    assert first.status == "succeeded"
    # a's checkpointed output changes (edited, or written by a newer version of the flow).
    store = reopen()
    old = store.load_run("r1").phases["a"]
    edited = Layout(columns=2, hero=b"\x89PNGpie")
    store.save_phase(
        "r1",
        StoredPhase(
            "a", "succeeded", 1, old.started, old.finished, edited, None, old.input_hash, old.usage
        ),
    )
    gate = Gate()
    second = flow.resume_sync("r1", store=store, services={"gate": gate})
    assert second.status == "succeeded"
    # a's own inputs did not change (reused); b, and what b feeds, see a new value; x does not.
    assert gate.calls == Counter({"b": 1, "c": 1, "d": 1})
    assert second.outputs["c"] == "c(b(2,pie))"
    assert second.outputs["x"] == ("BAKERY", 1)


def test_map_items_and_added_phases_resume_one_by_one(reopen):
    flow = Flow("fan")

    @flow.phase()
    async def plan(brief: str, gate: Gate) -> list[str]:
        gate.enter("plan")
        return [f"{brief}-{i}" for i in range(4)]

    @flow.map("plan")
    async def image(item: str, index: int, gate: Gate) -> bytes:
        gate.enter(f"image[{index}]")
        return item.encode() * 3

    @flow.template()
    async def implement(path: str, plan: list[str], gate: Gate) -> str:
        gate.enter(f"implement[{path}]")
        return f"{path}:{len(plan)}"

    @flow.phase()
    async def concept(plan: list[str], ctx: PhaseContext, gate: Gate) -> str:
        gate.enter("concept")
        for path in ("app.js", "style.css"):
            ctx.add_phase("implement", key=f"implement[{path}]", args={"path": path})
        return "concept"

    gate = Gate(broken={"image[2]", "implement[style.css]"})
    first = flow.run_sync({"brief": "b"}, services={"gate": gate}, store=reopen(), run_id="r1")
    assert first.status == "failed"
    assert first.phases["implement[app.js]"].status == "succeeded"
    assert [a.key for a in reopen().load_run("r1").added] == [
        "implement[app.js]",
        "implement[style.css]",
    ]

    gate = Gate()
    fixed = flow.resume_sync("r1", store=reopen(), services={"gate": gate}, retry_failed=True)
    assert fixed.status == "succeeded"
    assert gate.calls == Counter({"image[2]": 1, "implement[style.css]": 1})
    assert fixed.outputs["image"] == [f"b-{i}".encode() * 3 for i in range(4)]
    assert fixed.outputs["implement[style.css]"] == "style.css:4"


def test_resume_of_another_flow_or_unknown_run_is_refused(reopen):
    flow = chain_flow()
    store = reopen()
    flow.run_sync({"brief": "x"}, services={"gate": Gate()}, store=store, run_id="r1")
    with pytest.raises(StoreError, match="unknown run id 'nope'"):
        flow.resume_sync("nope", store=store, services={"gate": Gate()})
    other = Flow("other")

    @other.phase()
    async def a(brief: str) -> str:
        return brief

    with pytest.raises(StoreError, match="belongs to flow 'chain'"):
        other.resume_sync("r1", store=store)


def held_flow() -> Flow:
    """a -> b, where the first b to start waits for the test to let it finish (a second b, of
    an execution that should have been refused, does not wait: the test fails, never hangs)."""
    flow = Flow("held")

    @flow.phase()
    async def a(brief: str, gate: Gate) -> str:
        gate.enter("a")
        return brief

    @flow.phase()
    async def b(a: str, gate: Gate, hold: asyncio.Event) -> str:
        gate.enter("b")
        if gate.calls["b"] == 1:
            await hold.wait()
        return a + "!"

    return flow


def test_two_resumes_of_one_run_at_once_in_one_loop_execute_it_once(reopen):
    flow = held_flow()
    gate = Gate(broken={"b"})
    first = flow.run_sync(
        {"brief": "x"},
        services={"gate": gate, "hold": asyncio.Event()},
        store=reopen(),
        run_id="r1",
    )
    assert first.status == "failed"

    gate = Gate()
    first_store, second_store = reopen(), reopen()  # SQLite, Postgres: two objects, one database

    async def both() -> None:
        hold = asyncio.Event()
        services = {"gate": gate, "hold": hold}
        resumes = {
            asyncio.ensure_future(flow.resume("r1", store=s, services=services, retry_failed=True))
            for s in (first_store, second_store)
        }
        # the executing resume waits in b until `hold` is set, so the first one to end is
        # the refused one
        done, (executing,) = await asyncio.wait(resumes, return_when=asyncio.FIRST_COMPLETED)
        (refused,) = done
        with pytest.raises(StoreError, match=r"^run r1 is already being executed in this process$"):
            refused.result()
        assert not executing.done()
        hold.set()
        result = await executing
        assert result.status == "succeeded"
        assert result.outputs == {"a": "x", "b": "x!"}

    asyncio.run(both())
    assert gate.calls == Counter({"b": 1})  # only the executing resume's b: the refused ran none
    assert reopen().load_run("r1").status == "succeeded"
    # Released: a later resume in this process executes it (nothing left to run).
    again = flow.resume_sync(
        "r1", store=second_store, services={"gate": gate, "hold": asyncio.Event()}
    )
    assert again.status == "succeeded"
    assert gate.calls == Counter({"b": 1})


# -- the command line, in real processes ---------------------------------------------------------


def phasefarm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "phasefarm", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    """The bytes of every file but SQLite's -shm: that is a shared-memory index any reader
    updates (read marks), rebuilt from the WAL, never content."""
    return {
        p.name: p.read_bytes()
        for p in sorted(folder.iterdir())
        if p.is_file() and not p.name.endswith("-shm")
    }


def test_cli_unknown_run_id_is_one_line_exit_2_store_untouched(tmp_path: Path):
    store = tmp_path / "runs.db"
    done = phasefarm(
        "demo",
        "birds",
        "--time-scale",
        "0",
        "--store",
        str(store),
        "--run-id",
        "d1",
        "--json",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    before = snapshot(tmp_path)
    proc = phasefarm("resume", "nope", "--store", f"sqlite:///{store}", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == f"phasefarm: error: unknown run id 'nope' in {store}\n"
    assert snapshot(tmp_path) == before
    # No store at all: nothing is created.
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = phasefarm("resume", "nope", cwd=empty)
    assert proc.returncode == 2
    assert proc.stderr.startswith("phasefarm: error: no store at ")
    assert list(empty.iterdir()) == []


def test_cli_resume_and_runs(tmp_path: Path):
    store = tmp_path / "runs.db"
    first = phasefarm(
        "demo",
        "birds",
        "--time-scale",
        "0",
        "--out",
        str(tmp_path / "site"),
        "--store",
        str(store),
        "--run-id",
        "d1",
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr
    page = (tmp_path / "site" / "page.md").read_bytes()
    (tmp_path / "site" / "page.md").unlink()
    again = phasefarm("resume", "d1", "--store", str(store), "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert '"status": "succeeded"' in again.stdout.splitlines()[-1]
    # Every phase was reused, so page.md was not written again.
    assert not (tmp_path / "site" / "page.md").exists()
    listing = phasefarm("runs", "--store", str(store), "--json", cwd=tmp_path)
    assert listing.returncode == 0
    assert '"run_id": "d1"' in listing.stdout and '"status": "succeeded"' in listing.stdout
    assert page.startswith(b"## Birds: part 1")
    table = phasefarm("runs", "--store", str(store), cwd=tmp_path)
    assert "d1" in table.stdout and "demo" in table.stdout and "succeeded" in table.stdout


def test_cli_resume_of_a_run_held_by_a_live_process_is_refused(tmp_path: Path):
    store = tmp_path / "runs.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from phasefarm.store import SQLiteStore\n"
            "s = SQLiteStore(sys.argv[1]); s.create_run('r1', 'demo', {'brief': 'b'}, "
            "'parallel', {'time_scale': 0})\nprint('held', flush=True); sys.stdin.readline()",
            str(store),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = snapshot(tmp_path)
        proc = phasefarm("resume", "r1", "--store", str(store), cwd=tmp_path)
        assert proc.returncode == 2
        assert (
            proc.stderr == f"phasefarm: error: run r1 is being executed by process {holder.pid}\n"
        )
        assert snapshot(tmp_path) == before
    finally:
        holder.kill()
        holder.wait()
    # The holder is gone: the run is taken over and finished.
    proc = phasefarm("resume", "r1", "--store", str(store), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_cli_budget_stop_then_resume_with_a_larger_budget(tmp_path: Path, capsys, monkeypatch):
    """In-process CLI (same code path as the command): stop on the token cap, refuse to resume
    with the cap already spent, finish with a larger one without calling finished phases."""
    from phasefarm.benchmarks.crash import count_reruns, snapshot_store
    from phasefarm.cli import main

    monkeypatch.chdir(tmp_path)
    store = tmp_path / "runs.sqlite3"

    def cli(*args: str) -> int:
        with pytest.raises(SystemExit) as info:
            main(list(args))
        return int(info.value.code or 0)

    common = ("--store", str(store), "--json")
    code = cli(
        "website",
        "a bakery",
        "--out",
        "site",
        "--time-scale",
        "0",
        "--max-tokens",
        "9000",
        "--run-id",
        "b1",
        *common,
    )
    assert code == 1
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["status"] == "cancelled"
    assert "budget" in first["stop_reason"]
    assert first["tokens"] <= 9000  # stopped before the call that could cross the cap

    # The same cap again: what is left is spent, never more, and the run stops again.
    assert cli("resume", "b1", *common) == 1
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["status"] == "cancelled"
    assert first["tokens"] <= again["tokens"] <= 9000  # the run's total, both executions

    snap = snapshot_store(store, "b1")
    assert snap is not None and snap.succeeded
    assert cli("resume", "b1", "--max-tokens", "1000000", *common) == 0
    final = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert final["status"] == "succeeded"
    reruns, calls, _ = count_reruns(store, "b1", [snap])
    assert (reruns, calls) == ([], 0)
    assert (tmp_path / "site" / "index.html").is_file()


def test_a_phase_reported_succeeded_is_already_in_the_store(tmp_path: Path):
    """Every `phase.succeeded` an observer is told about is committed: the callback opens the
    store file on a connection of its own (as a process killed right then would leave it)
    and finds the phase's record and output there."""
    path = tmp_path / "runs.db"
    flow = Flow("durable")
    checked: dict[str, object] = {}

    def on_event(event) -> None:
        if event.kind != "phase.succeeded":
            return
        with SQLiteStore(path) as other:
            phases = other.load_run("r1").phases
        stored = phases.get(event.phase)
        checked[event.phase] = None if stored is None else (stored.status, stored.output)

    @flow.phase()
    async def a(brief: str) -> bytes:
        return brief.encode() * 2

    @flow.map("b_items")
    async def b(item: int, index: int, a: bytes) -> int:
        return item * len(a)

    @flow.phase()
    async def b_items(a: bytes) -> list[int]:
        return [1, 2, 3]

    @flow.phase()
    def c(b: list[int], a: bytes) -> str:
        return f"{b}{a!r}"

    with SQLiteStore(path) as store:
        result = flow.run_sync({"brief": "xy"}, store=store, run_id="r1", on_event=on_event)
    assert result.status == "succeeded"
    assert checked == {
        "a": ("succeeded", b"xyxy"),
        "b_items": ("succeeded", [1, 2, 3]),
        "b[0]": ("succeeded", 4),
        "b[1]": ("succeeded", 8),
        "b[2]": ("succeeded", 12),
        "b": ("succeeded", [4, 8, 12]),
        "c": ("succeeded", "[4, 8, 12]b'xyxy'"),
    }


def test_an_output_the_store_cannot_write_fails_that_phase_and_the_run_ends(tmp_path) -> None:
    from phasefarm import Flow
    from phasefarm.store.sqlite import SQLiteStore

    flow = Flow("unstorable")

    @flow.phase()
    async def opaque():
        return object()

    @flow.phase()
    async def uses(opaque): ...

    @flow.phase()
    async def fine():
        return "ok"

    store = SQLiteStore(tmp_path / "runs.sqlite3")
    result = flow.run_sync(store=store, run_id="u1")
    assert result.phases["opaque"].status == "failed"
    assert "cannot checkpoint the output" in (result.phases["opaque"].error or "")
    assert result.phases["uses"].status == "skipped"
    assert result.outputs == {"fine": "ok"}
    stored = store.load_run("u1")
    assert stored.phases["opaque"].status == "failed" and stored.status == "failed"
    store.close()


def test_a_store_that_breaks_mid_run_ends_the_run_with_its_error(tmp_path) -> None:
    import pytest

    from phasefarm import Flow, StoreError, UsageError
    from phasefarm.store.memory import MemoryStore

    class BrokenStore(MemoryStore):
        def save_batch(self, run_id, phases, added, events):
            if any(phase.key == "second" for phase in phases):
                raise OSError("disk full")
            super().save_batch(run_id, phases, added, events)

    flow = Flow("broken")

    @flow.phase()
    async def first():
        return 1

    @flow.phase()
    async def second(first):
        return 2

    @flow.phase()
    async def third(second):
        return 3

    reported: list[tuple[str, str | None]] = []
    with pytest.raises(
        StoreError,
        match=r"checkpoint store MemoryStore\(.*\) failed during run b1: OSError: disk full",
    ) as info:
        flow.run_sync(
            store=BrokenStore(), run_id="b1", on_event=lambda e: reported.append((e.kind, e.phase))
        )
    assert not isinstance(info.value, UsageError)  # the store failed, not the user's input
    # never reported, since it is not stored ("first" may or may not have been committed in
    # an earlier group: that depends on the writer thread's timing)
    assert ("phase.succeeded", "second") not in reported
    assert ("run.finished", None) not in reported
