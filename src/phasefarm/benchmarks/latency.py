"""A per-call latency model: a fixed part per call plus a part per output token.

A model call takes `first_token_s` (request, queueing, prompt processing: time to first token)
plus `output tokens / tokens_per_s`. Default figures: 0.8 s and 60 tokens/s, what hosted
GPT-4o-class models typically show for a structured answer (time to first token 0.5-1 s,
50-100 output tokens/s). At those figures a 10-second step of note 002 writes about 550 tokens.

The website job fans note 002's content and code-generation steps out into many calls. The
seed profile splits those steps' seconds evenly over the calls (12 section calls each take 1/12
of the note's 20 s), which assumes a call has no fixed cost. Under this model the note's
steps keep their totals (each note call is one call of its seconds, so its token count
follows), the tokens are split evenly over the fanned-out calls, and every call pays the fixed
part again. Images are not token-streamed: an image call keeps its 5 s.

Used by the benchmarks only, through hooks that exist already: the plan's `estimates=` and the
offline provider's `latency=` mapping. `phasefarm website` and `phasefarm plan website` keep
the even split (the seed profile).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from phasefarm.pipelines.website.profile import (
    CODE_GENERATION_S,
    CONTENT_SECTIONS_S,
    CONTENT_SEO_S,
    WebsiteSettings,
    seed_latency,
)

if TYPE_CHECKING:
    from phasefarm.engine.plan import Plan
    from phasefarm.llm import LLM

__all__ = ["DEFAULT_MODEL", "LatencyModel", "per_call_llm", "per_call_plan", "per_call_profile"]

# How many calls note 002 makes for each fanned-out step ("content 3 x 10": two for the
# sections' copy, one for SEO; code generation: one call of 20 s).
NOTE_CALLS = {"section_copy": 2, "page_seo": 1, "code": 1}


@dataclass(frozen=True)
class LatencyModel:
    first_token_s: float = 0.8
    tokens_per_s: float = 60.0

    def describe(self) -> str:
        return f"{self.first_token_s:g} s + output tokens / {self.tokens_per_s:g} per s per call"

    def call_s(self, output_tokens: float) -> float:
        return self.first_token_s + output_tokens / self.tokens_per_s

    def step_tokens(self, step_s: float, note_calls: int) -> float:
        """Output tokens of a step that took `step_s` seconds in `note_calls` calls."""
        return max(0.0, step_s - note_calls * self.first_token_s) * self.tokens_per_s

    def split(self, step_s: float, note_calls: int, calls: int) -> float:
        """Seconds per call when the step's tokens are split evenly over `calls` calls."""
        return self.call_s(self.step_tokens(step_s, note_calls) / calls)


DEFAULT_MODEL = LatencyModel()


def per_call_profile(
    settings: WebsiteSettings, model: LatencyModel = DEFAULT_MODEL
) -> dict[str, float]:
    """The website job's seconds per call (keyed by task, as the seed profile) under `model`."""
    profile = seed_latency(settings)
    profile["section_copy"] = model.split(
        CONTENT_SECTIONS_S, NOTE_CALLS["section_copy"], settings.sections
    )
    profile["page_seo"] = model.split(CONTENT_SEO_S, NOTE_CALLS["page_seo"], settings.pages)
    code = model.split(CODE_GENERATION_S, NOTE_CALLS["code"], settings.code_units)
    for task in ("stylesheet", "site_chrome", "page_code"):
        profile[task] = code
    return profile


def per_call_plan(settings: WebsiteSettings, model: LatencyModel = DEFAULT_MODEL) -> Plan:
    """`flow.plan()` of the website job with every phase's estimate from the per-call model."""
    from phasefarm.pipelines.website.job import build_flow

    flow = build_flow(settings)
    profile = per_call_profile(settings, model)
    estimates = {name: profile[name] for name in flow.phases if name in profile}
    estimates["images"] = profile["image"]
    return flow.plan(estimates=estimates)


def per_call_llm(settings: WebsiteSettings, time_scale: float, **options: Any) -> LLM:
    """The offline LLM of the website job, sleeping the per-call model's seconds."""
    from phasefarm.llm import build_llm
    from phasefarm.pipelines.website.offline import responders

    return build_llm(
        "offline",
        time_scale=time_scale,
        latency=per_call_profile(settings),
        responders=responders(settings),
        **options,
    )
