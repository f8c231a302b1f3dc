"""The RunStore contract: MemoryStore and SQLiteStore behave the same (same tests, both stores)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from pg_support import new_database
from phasefarm.errors import StoreError, UsageError
from phasefarm.store import (
    AddedPhase,
    MemoryStore,
    PostgresStore,
    RunStore,
    SQLiteStore,
    StoredPhase,
    open_store,
)


class Page(BaseModel):
    path: str
    html: str
    hero: bytes


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], RunStore]]:
    """Opens the test's database: a new store object on it each call (the same MemoryStore:
    nothing else can open its database)."""
    opened: list[RunStore] = []
    memory = MemoryStore()
    url = new_database() if request.param == "postgres" else ""

    def open_again() -> RunStore:
        s: RunStore
        if request.param == "memory":
            s = memory
        elif request.param == "sqlite":
            s = SQLiteStore(tmp_path / "r.db")
        else:
            s = PostgresStore(url)
        opened.append(s)
        return s

    yield open_again
    for s in opened:
        s.close()


@pytest.fixture
def store(reopen: Callable[[], RunStore]) -> RunStore:
    return reopen()


def phase(key: str, status: str = "succeeded", output: object = None, **kw: object) -> StoredPhase:
    fields: dict = dict(
        key=key,
        status=status,
        attempts=1,
        started=0.5,
        finished=1.5,
        output=output,
        error=None,
        input_hash="h-" + key,
        usage={"tokens": 100.0, "cost": 0.01},
    )
    fields.update(kw)
    return StoredPhase(**fields)


def test_is_a_run_store(store):
    assert isinstance(store, RunStore)


def test_create_and_load(store):
    store.create_run(
        "r1", "website", {"brief": "a bakery", "pages": ("home", "menu")}, "waves", {"out": "site"}
    )
    run = store.load_run("r1")
    assert run.run_id == "r1"
    assert run.flow == "website"
    assert run.inputs == {"brief": "a bakery", "pages": ("home", "menu")}
    assert run.mode == "waves"
    assert run.meta == {"out": "site"}
    assert run.status == "running"
    assert run.phases == {}
    assert run.added == []


def test_duplicate_run_id_refused(store):
    store.create_run("r1", "demo", {}, "parallel", {})
    with pytest.raises(StoreError, match="already exists"):
        store.create_run("r1", "demo", {}, "parallel", {})


def test_unknown_run_id_everywhere(store):
    with pytest.raises(StoreError, match="unknown run id 'nope'") as info:
        store.load_run("nope")
    assert isinstance(info.value, UsageError)
    for call in (
        lambda: store.acquire("nope"),
        lambda: store.save_phase("nope", phase("a")),
        lambda: store.events("nope"),
        lambda: store.append_events("nope", [{"seq": 1, "kind": "x"}]),
        lambda: store.finish_run("nope", "failed", 1.0, 0, 0, None),
        lambda: store.save_added("nope", AddedPhase("k", "t", (), {}, {}, "a")),
    ):
        with pytest.raises(StoreError, match="unknown run id"):
            call()
    store.release("nope")  # idempotent, never raises


def test_phases_roundtrip_with_models_and_bytes(store):
    store.create_run("r1", "website", {"brief": "b"}, "parallel", {})
    page = Page(path="/", html="<h1>hi</h1>", hero=b"\x89PNG" + bytes(range(256)) * 400)
    store.save_phase("r1", phase("code[home]", output={"page": page, "files": [b"\x00"]}))
    store.save_phase("r1", phase("layout", status="failed", error="boom", input_hash=None))
    store.save_phase("r1", phase("image[0]", status="skipped", usage={}))
    run = store.load_run("r1")
    assert list(run.phases) == ["code[home]", "layout", "image[0]"]
    code = run.phases["code[home]"]
    assert code.output["page"] == page and isinstance(code.output["page"], Page)
    assert code.output["files"] == [b"\x00"]
    assert code.usage == {"tokens": 100.0, "cost": 0.01}
    assert code.input_hash == "h-code[home]"
    assert (code.status, code.attempts, code.started, code.finished) == ("succeeded", 1, 0.5, 1.5)
    assert run.phases["layout"].error == "boom"
    assert run.phases["layout"].output is None
    assert run.phases["layout"].input_hash is None
    assert run.phases["image[0]"].usage == {}


def test_save_phase_replaces(store):
    store.create_run("r1", "demo", {}, "parallel", {})
    store.save_phase("r1", phase("a", status="failed", error="first", output=None))
    store.save_phase("r1", phase("a", output=[1, 2], attempts=2))
    run = store.load_run("r1")
    assert len(run.phases) == 1
    a = run.phases["a"]
    assert (a.status, a.attempts, a.output, a.error) == ("succeeded", 2, [1, 2], None)


def test_loaded_output_is_a_copy(store):
    store.create_run("r1", "demo", {}, "parallel", {})
    out = {"items": [1, 2]}
    store.save_phase("r1", phase("a", output=out))
    out["items"].append(3)
    first = store.load_run("r1").phases["a"].output
    first["items"].append(4)
    assert store.load_run("r1").phases["a"].output == {"items": [1, 2]}


def test_unencodable_output_refused_and_nothing_saved(store):
    store.create_run("r1", "demo", {}, "parallel", {})
    with pytest.raises(StoreError, match="cannot checkpoint"):
        store.save_phase("r1", phase("a", output={"x": object()}))
    assert store.load_run("r1").phases == {}


def test_added_phases_in_order(store):
    store.create_run("r1", "app", {}, "parallel", {})
    first = AddedPhase(
        key="implement_file[src/app.js]",
        template="implement_file",
        needs=("concept_1",),
        args={"path": "src/app.js", "lines": (1, 2)},
        options={"pool": "default", "retries": 2, "timeout": 60.0},
        added_by="concept_1",
    )
    second = AddedPhase("implement_file[a.css]", "implement_file", (), {}, {}, "concept_2")
    store.save_added("r1", first)
    store.save_added("r1", second)
    store.save_added("r1", first)  # added again on resume: no duplicate, order kept
    assert store.load_run("r1").added == [first, second]


def test_events_in_order_and_after_seq(store):
    store.create_run("r1", "demo", {}, "parallel", {})
    store.append_events("r1", [{"seq": 1, "kind": "run.started", "t": 0.0, "data": {}}])
    store.append_events(
        "r1",
        [
            {"seq": 2, "kind": "phase.started", "phase": "a", "data": {}},
            {"seq": 5, "kind": "phase.succeeded", "phase": "a", "data": {"n": 1}},
        ],
    )
    store.append_events("r1", [])
    assert [e["seq"] for e in store.events("r1")] == [1, 2, 5]
    assert [e["seq"] for e in store.events("r1", after_seq=2)] == [5]
    assert store.events("r1", after_seq=5) == []
    assert store.events("r1")[2] == {
        "seq": 5,
        "kind": "phase.succeeded",
        "phase": "a",
        "data": {"n": 1},
    }


def test_events_from_seq_zero_and_last_seq(store):
    store.create_run("r1", "demo", {}, "parallel", {})
    assert store.load_run("r1").last_seq == -1
    store.append_events("r1", [{"seq": 0, "kind": "run.started"}, {"seq": 1, "kind": "x"}])
    assert [e["seq"] for e in store.events("r1")] == [0, 1]
    assert [e["seq"] for e in store.events("r1", after_seq=0)] == [1]
    assert store.load_run("r1").last_seq == 1
    # a resumed execution numbers on from last_seq + 1
    store.append_events("r1", [{"seq": 2, "kind": "run.started"}])
    assert store.load_run("r1").last_seq == 2
    with pytest.raises(StoreError, match="not after 2"):
        store.append_events("r1", [{"seq": 0, "kind": "run.started"}])


def test_events_must_increase(store):
    store.create_run("r1", "demo", {}, "parallel", {})
    store.append_events("r1", [{"seq": 3, "kind": "x"}])
    with pytest.raises(StoreError, match="seq 3 of run r1 is not after 4"):
        store.append_events("r1", [{"seq": 4, "kind": "x"}, {"seq": 3, "kind": "x"}])
    assert [e["seq"] for e in store.events("r1")] == [3]  # the whole batch was refused
    with pytest.raises(StoreError, match="no integer seq"):
        store.append_events("r1", [{"kind": "x"}])
    with pytest.raises(StoreError, match="no integer seq"):
        store.append_events("r1", [{"seq": -5, "kind": "x"}])


def test_engine_events_read_back_as_their_dicts(store):
    """The engine hands its events over as tuples (read-only data, nested too); each reads back
    as `Event.to_dict` gives it, with values JSON cannot hold as strings, groups after groups."""
    import datetime
    from types import MappingProxyType

    from phasefarm.engine.events import Event, PhaseStarted, Progress

    store.create_run("r1", "demo", {}, "parallel", {})
    usage = MappingProxyType({"tokens": 10.0})
    first = [
        PhaseStarted(0, 0.1234567891, "phase.started", "r1", "a", MappingProxyType({"pool": None})),
        Event(1, 0.2, "usage", "r1", "a", MappingProxyType({"usage": usage, "n": [1, 2]})),
        Progress(2, 0.3, "progress", "r1", None, MappingProxyType({"done": 1, "total": 4})),
    ]
    odd = MappingProxyType({"day": datetime.date(2026, 12, 1), "tags": {"x"}})
    second = [Event(3, 0.4, "custom", "r1", "a", odd)]
    store.save_batch("r1", [], [], first)
    store.save_batch("r1", [], [], second)
    expected = [e.to_dict() for e in first]
    expected[1]["data"] = {"usage": {"tokens": 10.0}, "n": [1, 2]}
    assert store.events("r1") == [
        *expected,
        {**second[0].to_dict(), "data": {"day": "2026-12-01", "tags": "{'x'}"}},
    ]
    assert expected[0]["t"] == 0.123457
    assert [e["seq"] for e in store.events("r1", after_seq=1)] == [2, 3]
    assert store.load_run("r1").last_seq == 3
    assert store.list_runs()[0].total == 4  # the latest progress, from an earlier group


def test_events_of_runs_are_separate(store):
    store.create_run("r1", "demo", {}, "parallel", {})
    store.create_run("r2", "demo", {}, "parallel", {})
    store.append_events("r1", [{"seq": 1, "kind": "a"}])
    store.append_events("r2", [{"seq": 1, "kind": "b"}])
    assert store.events("r1") == [{"seq": 1, "kind": "a"}]
    assert store.events("r2") == [{"seq": 1, "kind": "b"}]


def test_finish_and_list(store):
    store.create_run("old", "demo", {}, "parallel", {})
    store.create_run("new", "website", {}, "parallel", {})
    store.save_phase("new", phase("a"))
    store.save_phase("new", phase("b", status="failed", output=None, error="x"))
    store.append_events("new", [{"seq": 1, "kind": "progress", "data": {"done": 1, "total": 7}}])
    store.finish_run("new", "failed", 12.5, 1234, 0.56, None)
    store.finish_run("old", "cancelled", 3.0, 10, 0.001, "budget of 10 tokens reached")
    summaries = {s.run_id: s for s in store.list_runs()}
    assert [s.run_id for s in store.list_runs()] == ["new", "old"]  # newest first
    new = summaries["new"]
    assert (new.flow, new.status, new.done, new.total) == ("website", "failed", 1, 7)
    assert (new.elapsed_s, new.tokens, new.cost, new.stop_reason) == (12.5, 1234, 0.56, None)
    old = summaries["old"]
    assert (old.status, old.done, old.total) == ("cancelled", 0, 0)
    assert old.stop_reason == "budget of 10 tokens reached"
    assert store.load_run("new").status == "failed"


def test_unfinished_run_lists_what_its_phases_used(store):
    store.create_run("r1", "demo", {}, "parallel", {})
    store.save_phase("r1", phase("a"))
    store.save_phase("r1", phase("b"))
    (summary,) = store.list_runs()
    assert summary.status == "running"  # this process holds it
    assert (summary.done, summary.total, summary.elapsed_s) == (2, 2, None)
    assert summary.tokens == 200.0
    assert summary.cost == pytest.approx(0.02)


def test_acquire_after_finish_marks_running_again(store):
    store.create_run("r1", "demo", {}, "parallel", {})
    store.finish_run("r1", "failed", 1.0, 0, 0, None)
    store.release("r1")
    store.acquire("r1")  # resume
    assert store.load_run("r1").status == "running"
    store.release("r1")
    store.release("r1")


IN_THIS_PROCESS = r"^run r1 is already being executed in this process$"


def test_a_second_execution_in_this_process_is_refused_until_released(store):
    store.create_run("r1", "demo", {}, "parallel", {})
    store.acquire("r1")  # the creator executes it (as the runner does: create_run, acquire)
    store.save_phase("r1", phase("a"))
    store.finish_run("r1", "failed", 1.0, 100, 0.01, None)  # ended, not yet released
    before = (store.load_run("r1"), store.list_runs(), store.events("r1"))
    with pytest.raises(StoreError, match=IN_THIS_PROCESS):
        store.acquire("r1")
    # untouched: a granted acquire would have marked the run running again
    assert (store.load_run("r1"), store.list_runs(), store.events("r1")) == before
    store.create_run("r2", "demo", {}, "parallel", {})
    store.acquire("r2")  # another run of the same store is not held by r1's execution
    store.release("r2")
    store.release("r1")
    store.acquire("r1")  # released: a later resume in this process may execute it
    assert store.load_run("r1").status == "running"
    with pytest.raises(StoreError, match=IN_THIS_PROCESS):
        store.acquire("r1")
    store.release("r1")
    store.release("r1")  # idempotent


def test_a_second_store_object_on_the_same_database_is_refused(reopen):
    first, second = reopen(), reopen()
    first.create_run("r1", "demo", {}, "parallel", {})
    first.acquire("r1")
    with pytest.raises(StoreError, match=IN_THIS_PROCESS):
        second.acquire("r1")
    first.release("r1")
    second.acquire("r1")
    with pytest.raises(StoreError, match=IN_THIS_PROCESS):
        first.acquire("r1")
    second.release("r1")


def test_two_threads_acquiring_at_once_get_one_execution(reopen):
    reopen().create_run("r1", "demo", {}, "parallel", {})
    stores = [reopen(), reopen()]
    start = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def execute(s: RunStore) -> None:
        start.wait()
        try:
            s.acquire("r1")
            outcomes.append("acquired")
        except StoreError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=execute, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["acquired", "run r1 is already being executed in this process"]
    stores[0].release("r1")


def test_open_store_memory_and_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert isinstance(open_store("memory:"), MemoryStore)
    a = open_store(str(tmp_path / "bare.db"))
    b = open_store(f"sqlite:///{tmp_path}/url.db")
    assert isinstance(a, SQLiteStore) and a.path == tmp_path / "bare.db"
    assert isinstance(b, SQLiteStore) and b.path == tmp_path / "url.db"
    a.close()
    b.close()
    monkeypatch.chdir(tmp_path)
    rel = open_store("sqlite:///rel/runs.db")
    assert isinstance(rel, SQLiteStore) and rel.path.resolve() == tmp_path / "rel" / "runs.db"
    rel.close()
    default = open_store(None)
    assert isinstance(default, SQLiteStore)
    assert default.path == tmp_path / ".phasefarm" / "runs.sqlite3"
    assert default.path.is_file()
    default.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "postgresql://u:secret@/db?host=/nonexistent",
            "cannot open store postgresql://u:|the postgres store needs psycopg",
        ),
        ("mysql://h/db", "unknown store URL scheme 'mysql'"),
        ("sqlite://host/x.db", "bad store URL"),
        ("sqlite:///", "no file path"),
        ("  ", "empty store URL"),
    ],
)
def test_bad_store_urls(url: str, message: str):
    with pytest.raises(StoreError, match=message) as info:
        open_store(url)
    assert "secret" not in str(info.value)  # a password never reaches a message
