"""The virtual clock of the barrier/jitter benchmarks, checked against the engine's own plan."""

from __future__ import annotations

import asyncio
import random

import pytest

from phasefarm.benchmarks.barrier import as_flow, as_langgraph, website_skeleton
from phasefarm.benchmarks.jitter import draw, missed, run_jitter
from phasefarm.benchmarks.latency import DEFAULT_MODEL, per_call_plan
from phasefarm.benchmarks.skeleton import simulate
from phasefarm.pipelines.website.job import build_flow
from phasefarm.pipelines.website.profile import WebsiteSettings, seed_latency


@pytest.mark.parametrize(("pages", "images"), [(4, 10), (2, 7), (6, 0)])
def test_simulation_agrees_with_the_engine_plan(pages, images) -> None:
    settings = WebsiteSettings(pages=pages, images=images)
    plan = build_flow(settings).plan()
    skeleton = website_skeleton(pages, images)
    durations = skeleton.durations()
    for policy, mode in (
        ("dependency", "parallel"),
        ("waves", "waves"),
        ("sequential", "sequential"),
    ):
        assert simulate(skeleton, durations, policy)[0] == pytest.approx(plan.estimate(mode))
    assert skeleton.bound(durations) == pytest.approx(plan.critical_path_s)


def test_supersteps_wait_for_the_slowest_node_of_each_step() -> None:
    skeleton = website_skeleton()
    durations = skeleton.durations()
    _, spans = simulate(skeleton, durations, "supersteps")
    level = skeleton.superstep()
    # every call of superstep k starts no earlier than every call of superstep k-1 ends
    ends: dict[int, float] = {}
    for key, (_, end) in spans.items():
        step = level[key.split("[", 1)[0]]
        ends[step] = max(ends.get(step, 0.0), end)
    for key, (start, _) in spans.items():
        step = level[key.split("[", 1)[0]]
        if step:
            assert start >= ends[step - 1] - 1e-9


def test_jitter_draws_are_per_call_and_reproducible() -> None:
    skeleton = website_skeleton()
    first = draw(skeleton, 0.6, random.Random(3))
    assert first == draw(skeleton, 0.6, random.Random(3))
    assert len(set(first["images"])) == len(first["images"]) == 10
    rows = run_jitter(skeleton, sigmas=(0.3,), seeds=20)
    assert {r["policy"] for r in rows} == {"dependency", "waves", "supersteps"}
    for row in rows:
        assert 1.0 <= row["mean"] <= row["worst"]  # the bound is a lower bound
    assert missed(rows) == []


def test_missed_names_a_barrier_schedule_that_is_not_slower() -> None:
    rows = [
        {"sigma": 0.3, "system": "ours", "policy": "dependency", "mean": 1.2, "p95": 1.3},
        {"sigma": 0.3, "system": "waves", "policy": "waves", "mean": 1.1, "p95": 1.6},
    ]
    assert missed(rows) == ["jitter sigma 0.3: dependency-driven not ahead of waves"]


def test_the_skeleton_runs_in_phasefarm_and_langgraph_with_the_same_calls() -> None:
    pytest.importorskip("langgraph")
    skeleton = website_skeleton(2, 3)
    durations = skeleton.durations()
    result = as_flow(skeleton, durations, 0.0).run_sync(mode="waves")
    assert result.status == "succeeded"
    calls = sum(step.calls for step in skeleton.steps)
    assert (
        len(
            [
                k
                for k in result.phases
                if k not in ("images", "section_copy", "page_seo", "page_code")
            ]
        )
        == calls
    )
    asyncio.run(as_langgraph(skeleton, durations, 0.0)())


def test_per_call_model_keeps_the_note_totals_and_adds_the_fixed_part() -> None:
    settings = WebsiteSettings()
    profile = seed_latency(settings, DEFAULT_MODEL)
    # 20 s of section copy in two note calls: (20 - 2 x 0.8) x 60 tokens over 12 calls
    assert profile["section_copy"] == pytest.approx(0.8 + (20 - 1.6) * 60 / 12 / 60)
    assert profile["design_strategy"] == 10.0 and profile["image"] == 5.0
    assert DEFAULT_MODEL.split(10.0, 1, 1) == pytest.approx(10.0)  # a note call is unchanged
    extra = (10 + 3 + 5) * 0.8  # 2 -> 12 section calls, 1 -> 4 SEO, 1 -> 6 code: fixed parts
    assert per_call_plan(settings).estimate("sequential") == pytest.approx(185.0 + extra)
