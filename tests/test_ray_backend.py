"""The Ray backend on a real local Ray cluster (one per session, see conftest.py).

Phase functions and worker-service factories live at module level: the workers import them by
name (the session cluster puts tests/ on their PYTHONPATH).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from conftest import RAY_TEST_KEYS
from phasefarm import Flow
from phasefarm.errors import UsageError
from phasefarm.llm import LLM, RateLimiter, build_llm
from phasefarm.pipelines.website.job import build_flow, build_services
from website_support import BRIEF, build_site, failures, tree

if not os.environ.get("PHASEFARM_REQUIRE_RAY"):  # CI (.ci/run) installs it: never skip there
    pytest.importorskip(
        "ray", reason="the Ray backend needs the ray extra: pip install -e '.[ray]'"
    )

from phasefarm.backends.ray import RayBackend
from phasefarm.backends.ray_limiter import shared_limiter

pytestmark = pytest.mark.usefixtures("ray_cluster")


# -- the website job ------------------------------------------------------------------------------


def test_the_website_job_on_ray_builds_the_same_site(tmp_path: Path) -> None:
    local = build_site(tmp_path / "local", pages=2, images=3)
    assert local.status == "succeeded", failures(local)
    meta = {"out": str(tmp_path / "ray"), "pages": 2, "images": 3, "time_scale": 0.0}
    services = build_services(meta)
    backend = RayBackend(worker_services=partial(build_services, meta), task_cpus=0.25)
    flow = build_flow(services["settings"])
    result = flow.run_sync(inputs={"brief": BRIEF}, services=services, backend=backend)
    assert result.status == "succeeded", failures(result)
    assert tree(tmp_path / "ray") == tree(tmp_path / "local")
    # usage is counted on the workers and adds up in the driver's run, once per call
    assert result.usage == pytest.approx(local.usage)  # floats: summed in another order
    assert result.usage["calls"] > 0
    # every phase's own events arrive between its start and its end, in order
    for key in result.phases:
        kinds = [e.kind for e in result.timeline if e.phase == key]
        assert kinds[0] == "phase.started" and kinds[-1] == "phase.succeeded", (key, kinds)


async def _where(payload: bytes) -> tuple[int, int]:
    return os.getpid(), len(payload)


async def _payload() -> bytes:
    return b"x" * (2 * 2**20)  # large: it stays in the object store, passed by reference


async def _parts() -> list[int]:
    return [1, 2, 3]


async def _chunk(item: int) -> bytes:
    return bytes([item]) * 2**20


async def _total(chunk: list[bytes]) -> list[int]:
    return [c[0] for c in chunk]


def test_phase_bodies_run_in_ray_workers_and_outputs_reach_consumers() -> None:
    flow = Flow("where")
    flow.phase(_payload, name="payload")
    flow.phase(_where, name="where", needs=["payload"])
    flow.phase(_parts, name="parts")
    flow.map("parts", name="chunk")(_chunk)
    flow.phase(_total, name="total", needs=["chunk"])
    result = flow.run_sync(backend=RayBackend(task_cpus=0.25))
    assert result.status == "succeeded", failures(result)
    pid, size = result.outputs["where"]
    assert pid != os.getpid()
    assert size == len(result.outputs["payload"]) == 2 * 2**20
    # a map's items reach their consumer as a list, in item order, from the object store
    assert result.outputs["chunk"] == [bytes([i]) * 2**20 for i in (1, 2, 3)]
    assert result.outputs["total"] == [1, 2, 3]


def _held(folder: str, index: int) -> tuple[float, float]:
    """Hold the phase until six have started (or 3 s passed): more than five at once show."""
    started = time.time()  # wall clock: the phases run in different processes
    (Path(folder) / f"started-{index}").write_text("1")
    while len(list(Path(folder).glob("started-*"))) < 6 and time.time() < started + 3:
        time.sleep(0.02)
    return started, time.time()


def test_a_sized_pool_is_a_ray_resource_across_the_cluster(tmp_path: Path) -> None:
    # The session cluster declares pool:image = 5; the run allows 8 at once and the CPUs
    # too, so only the Ray resource can hold the pool to 5.
    flow = Flow("pooled", pools={"image": 8})
    for index in range(8):
        flow.phase(partial(_held, index=index), name=f"image{index}", pool="image")
    result = flow.run_sync(inputs={"folder": str(tmp_path)}, backend=RayBackend(task_cpus=0.25))
    assert result.status == "succeeded", failures(result)
    intervals = list(result.outputs.values())
    most = max(sum(s <= t < e for s, e in intervals) for t, _ in intervals)
    assert 1 <= most <= 5


async def _implement(path: str) -> tuple[str, int]:
    return path, os.getpid()


async def _concept(ctx: Any) -> int:
    ctx.add_phase("implement", key="implement[a.js]", args={"path": "a.js"})
    return os.getpid()


def test_a_phase_with_a_context_runs_in_the_driver_and_adds_phases_to_the_cluster() -> None:
    flow = Flow("adds")
    flow.template(_implement, name="implement")
    flow.phase(_concept, name="concept")
    result = flow.run_sync(backend=RayBackend(task_cpus=0.25))
    assert result.status == "succeeded", failures(result)
    assert result.outputs["concept"] == os.getpid()
    path, pid = result.outputs["implement[a.js]"]
    assert path == "a.js" and pid != os.getpid()


def _waits_to_be_seen(folder: str) -> bool:
    """Emit an event, then wait until the test saw it arrive (or give up after 30 s)."""
    from phasefarm import scope

    scope.emit("note", text="hello from the worker")
    seen = Path(folder) / "seen"
    deadline = time.monotonic() + 30
    while not seen.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return seen.exists()


def test_a_phases_events_reach_the_driver_while_it_runs(tmp_path: Path) -> None:
    def on_event(event: Any) -> None:
        if event.kind == "note":  # the phase is still running: it waits for this file
            (tmp_path / "seen").write_text("1")

    flow = Flow("live")
    flow.phase(_waits_to_be_seen, name="waits")
    result = flow.run_sync(
        inputs={"folder": str(tmp_path)}, on_event=on_event, backend=RayBackend(task_cpus=0.25)
    )
    assert result.status == "succeeded", failures(result)
    assert result.outputs["waits"] is True
    kinds = [e.kind for e in result.timeline if e.phase == "waits"]
    assert kinds == ["phase.started", "note", "phase.succeeded"]  # once, in order


# -- one limiter for the cluster ------------------------------------------------------------------

RPM = 60  # per key, at the server and in our limiter
CALLS_PER_PHASE = 4


def _worker_llm(base_url: str) -> dict[str, Any]:
    """Built on a worker: its keys come from the worker's own environment."""
    return {"llm": build_llm("openai", model="fake-model", base_url=base_url)}


async def _ask(llm: LLM, index: int) -> int:
    for call in range(CALLS_PER_PHASE):
        await llm.text([{"role": "user", "content": f"line {call} of part {index}"}], task="ask")
    return index


def _asking_flow(phases: int) -> Flow:
    flow = Flow("ask")
    for index in range(phases):
        flow.phase(partial(_ask, index=index), name=f"ask{index}")
    return flow


def test_two_runs_through_the_limiter_actor_stay_under_the_servers_limit(
    fake_openai: Any,
) -> None:
    # The server tolerates a burst of 3 s of its rate per key; our limiter bursts one request
    # per key, so the margin covers 2 s of arrival jitter. Two runs each pacing itself at the
    # full rate would send twice what the server allows and meet 429s within seconds.
    server = fake_openai(keys=list(RAY_TEST_KEYS), rpm=RPM, burst_s=3.0, latency=0.01)
    phases = 3
    limiter_name = f"test-two-runs-{server.port}"

    async def one_run() -> Any:
        llm = build_llm(
            "openai",
            model="fake-model",
            api_keys=list(RAY_TEST_KEYS),
            base_url=server.url,
            rpm=RPM,
        )
        backend = RayBackend(  # every phase of both runs at once on the 2-CPU cluster
            worker_services=partial(_worker_llm, server.url), limiter=limiter_name, task_cpus=0.25
        )
        try:
            return await _asking_flow(phases).run(services={"llm": llm}, backend=backend)
        finally:
            await llm.aclose()

    async def both() -> list[Any]:
        return list(await asyncio.gather(one_run(), one_run()))

    results = asyncio.run(both())
    requests = server.requests
    for result in results:
        assert result.status == "succeeded", failures(result)
        assert result.usage["calls"] == phases * CALLS_PER_PHASE
    assert [r for r in requests if r.status == 429] == []
    assert sum(r.status == 200 for r in requests) == 2 * phases * CALLS_PER_PHASE
    like = RateLimiter(["key#1", "key#2"], rpm=RPM)  # the same limits: the same actor
    assert shared_limiter(limiter_name, like=like).stats.granted == 2 * phases * CALLS_PER_PHASE


def test_a_limiter_name_in_use_with_other_limits_is_refused() -> None:
    import ray

    name = f"test-refuse-{os.getpid()}"
    first = shared_limiter(name, like=RateLimiter(["key#1"], rpm=60))
    try:
        assert shared_limiter(name, like=RateLimiter(["key#1"], rpm=60)).actor == first.actor
        with pytest.raises(UsageError, match="other limits"):
            shared_limiter(name, like=RateLimiter(["key#1"], rpm=120))
    finally:
        ray.kill(first.actor)


# -- a budget for the whole run -------------------------------------------------------------------


def _offline_llm(max_tokens: float | None) -> dict[str, Any]:
    return {"llm": build_llm("offline", time_scale=0.0, max_tokens=max_tokens)}


async def _ask_long(llm: LLM, index: int) -> int:
    """Calls whose prompts weigh more than a text answer's cap (1,024 tokens reserved)."""
    for call in range(CALLS_PER_PHASE):
        prompt = f"line {call} of part {index}: " + "sourdough " * 300
        await llm.text([{"role": "user", "content": prompt}], task="ask")
    return index


def test_the_budget_cap_counts_the_calls_of_every_worker() -> None:
    def flow(phases: int) -> Flow:
        asking = Flow("ask-long")
        for index in range(phases):
            asking.phase(partial(_ask_long, index=index), name=f"ask{index}")
        return asking

    probe = flow(1).run_sync(services=_offline_llm(None), mode="sequential")
    per_phase = probe.usage["tokens"]
    # a call reserves its worst case (its prompt, one token per byte, and its answer's cap)
    # before it starts: room for one phase and a half, plus one call's worst case
    cap = per_phase * 1.5 + 5_000
    phases = 6
    assert per_phase * phases > cap  # the run as a whole goes over it
    services = _offline_llm(cap)
    backend = RayBackend(worker_services=partial(_offline_llm, cap))
    result = flow(phases).run_sync(services=services, mode="sequential", backend=backend)
    assert result.status == "cancelled"
    assert "budget reached" in (result.stop_reason or "")
    assert result.usage["tokens"] <= cap
    # the phases ran on several workers, none reaching the cap alone: only the run's shared
    # budget (its reservations included) stops the calls
    assert 0 < result.usage["calls"] < phases * CALLS_PER_PHASE


# -- a worker that dies -----------------------------------------------------------------------


def _dies_once(folder: str) -> str:
    """The first attempt tells the test its process id and waits to be killed."""
    marker = Path(folder) / "started"
    if not marker.exists():
        marker.write_text("1")
        pid = Path(folder) / "pid"
        pid.with_suffix(".tmp").write_text(str(os.getpid()))
        pid.with_suffix(".tmp").rename(pid)
        time.sleep(60)  # the test kills this process long before
        return "the first attempt"
    return "a retried attempt"


def test_a_worker_killed_mid_phase_is_retried_and_the_run_succeeds(tmp_path: Path) -> None:
    from phasefarm.store.sqlite import SQLiteStore

    flow = Flow("dies")
    flow.phase(_dies_once, name="dies")
    store = SQLiteStore(tmp_path / "runs.db")

    async def kill_when_started() -> None:
        pid = tmp_path / "pid"
        deadline = time.monotonic() + 60
        while not pid.exists():
            assert time.monotonic() < deadline, "the phase never started on a worker"
            await asyncio.sleep(0.05)
        os.kill(int(pid.read_text()), signal.SIGKILL)

    async def run_and_kill() -> Any:
        killer = asyncio.create_task(kill_when_started())
        result = await flow.run(
            inputs={"folder": str(tmp_path)}, store=store, backend=RayBackend(max_retries=2)
        )
        await killer
        return result

    result = asyncio.run(run_and_kill())
    assert result.status == "succeeded", failures(result)
    assert result.outputs["dies"] == "a retried attempt"
    assert result.phases["dies"].attempts == 1  # Ray's retry is not a phase attempt
    events = [e for e in store.events(result.run_id) if e["phase"] == "dies"]
    assert [e["kind"] for e in events] == ["phase.started", "phase.succeeded"]
    stored = store.load_run(result.run_id).phases["dies"]
    assert stored.status == "succeeded" and stored.output == "a retried attempt"


# -- the command line -----------------------------------------------------------------------------


def test_cli_website_on_ray_keeps_the_backend_for_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from phasefarm.store.sqlite import SQLiteStore
    from website_support import run_cli

    db = tmp_path / "runs.db"
    argv = ["website", BRIEF, "--out", str(tmp_path / "site"), "--pages", "1", "--images", "1"]
    code, stdout, stderr = run_cli(
        [*argv, "--time-scale", "0", "--backend", "ray", "--store", str(db), "--json"], capsys
    )
    assert code == 0, stderr
    run_id = json.loads(stdout.strip().splitlines()[-1])["run_id"]
    assert SQLiteStore(db).load_run(run_id).meta["backend"] == "ray"
    assert (tmp_path / "site" / "index.html").is_file()


def test_cli_refuses_bad_backend_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from website_support import run_cli

    argv = ["website", BRIEF, "--out", str(tmp_path / "site")]
    for extra, message in (
        (["--backend", "dask"], "unknown --backend 'dask'"),
        (["--ray-address", "127.0.0.1:1"], "--ray-address needs --backend ray"),
    ):
        code, _, stderr = run_cli([*argv, *extra], capsys)
        assert code == 2 and f"phasefarm: error: {message}" in stderr, stderr
    assert not (tmp_path / "site").exists()
