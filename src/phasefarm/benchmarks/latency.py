"""The per-call latency model (`phasefarm.llm.latency`) applied to the website job.

The seed profile splits each fanned-out step's seconds evenly over its calls (12 section calls
each take 1/12 of the note's 20 s), as if a call had no fixed cost. `seed_latency(settings,
DEFAULT_MODEL)` keeps the note's steps (each note call is one call of its seconds, so its token
count follows), splits the tokens evenly over the fanned-out calls, and charges every call the
fixed part. The plan's `estimates=` and the offline provider's `latency=` take that profile, so
the planned and measured per-call figures come from the same model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from phasefarm.llm.latency import DEFAULT_MODEL, LatencyModel
from phasefarm.pipelines.website.profile import WebsiteSettings, seed_latency

if TYPE_CHECKING:
    from phasefarm.engine.plan import Plan
    from phasefarm.llm import LLM

__all__ = ["DEFAULT_MODEL", "per_call_llm", "per_call_plan"]


def per_call_plan(settings: WebsiteSettings, model: LatencyModel = DEFAULT_MODEL) -> Plan:
    """`flow.plan()` of the website job with every phase's estimate from the per-call model."""
    from phasefarm.pipelines.website.job import build_flow

    flow = build_flow(settings)
    profile = seed_latency(settings, model)
    estimates = {name: profile[name] for name in flow.phases if name in profile}
    return flow.plan(estimates=estimates)


def per_call_llm(settings: WebsiteSettings, time_scale: float, **options: Any) -> LLM:
    """The offline LLM of the website job, sleeping the per-call model's seconds."""
    from phasefarm.llm import build_llm
    from phasefarm.pipelines.website.offline import responders

    return build_llm(
        "offline",
        time_scale=time_scale,
        latency=seed_latency(settings, DEFAULT_MODEL),
        responders=responders(settings),
        **options,
    )
