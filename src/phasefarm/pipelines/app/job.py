"""The app job as a `Flow`, and `prepare(meta)` for the CLI and for resume.

Only the blueprint is defined up front; the rest are templates the running phases add (see
`steps.py`), with stable keys. `sequential`, `waves` and `parallel` are the engine's release
policies; for `waves` the roadmap adds note 000's plan (implementations after all concepts,
overlapping phases one after another as wholes), see `roadmap.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from phasefarm.engine.flow import Flow
from phasefarm.errors import UsageError
from phasefarm.llm import LLM, Responder, build_llm
from phasefarm.pipelines.app import steps
from phasefarm.pipelines.app.offline import responders as offline_responders
from phasefarm.pipelines.app.profile import DEFAULT_PHASES, AppSettings, seed_latency
from phasefarm.pipelines.app.project import AppProject
from phasefarm.pipelines.app.roadmap import Roadmap

__all__ = ["build_flow", "build_services", "plan_flow", "prepare", "settings_from_meta"]


def build_flow(settings: AppSettings) -> Flow:
    est = seed_latency()
    r = steps.MODEL_RETRIES
    flow = Flow("app")
    flow.phase(estimate=est["blueprint"], retries=r)(steps.blueprint)
    flow.template(estimate=est["concept"], retries=r)(steps.concept)
    flow.template(estimate=est["implement_file"], retries=r)(steps.implement_file)
    flow.template(estimate=est["phase_check"], retries=0)(steps.validate_phase)
    flow.template(estimate=est["review"], retries=r)(steps.review)
    return flow


def _name(key: str) -> str:
    return key.replace("[", " ").replace("]", "")


def plan_flow(roadmap: Roadmap, mode: str) -> Flow:
    """The graph a run of this roadmap builds in `mode`, defined up front (for `plan app`)."""
    from phasefarm.pipelines.app.roadmap import REVIEW_KEY, concept_key, file_key, validate_key

    est = seed_latency()
    flow = Flow("app")

    def add(key: str, needs: list[str], estimate: float) -> None:
        flow.phase(name=_name(key), needs=[_name(n) for n in needs], estimate=estimate)(_noop)

    add("blueprint", [], est["blueprint"])
    for number in range(1, roadmap.count + 1):
        add(
            concept_key(number),
            [concept_key(number - 1) if number > 1 else "blueprint"],
            est["concept"],
        )
    for number in range(1, roadmap.count + 1):
        for path in roadmap.phase_files(number):
            add(
                file_key(number, path),
                roadmap.file_needs(number, path, mode),
                est["implement_file"],
            )
        add(validate_key(number), roadmap.validate_needs(number), est["phase_check"])
    add(REVIEW_KEY, [validate_key(q) for q in range(1, roadmap.count + 1)], est["review"])
    return flow


async def _noop() -> None:
    return None


def settings_from_meta(meta: dict[str, Any]) -> AppSettings:
    return AppSettings(
        phases=int(meta.get("phases") or DEFAULT_PHASES),
        review_cycles=int(1 if meta.get("review_cycles") is None else meta["review_cycles"]),
        fixes=int(2 if meta.get("fixes") is None else meta["fixes"]),
        mode=str(meta.get("mode") or "parallel"),
        provider=str(meta.get("provider") or "offline"),
    )


def build_llm_for(
    settings: AppSettings, meta: dict[str, Any], responders: dict[str, Responder] | None = None
) -> LLM:
    offline = settings.provider == "offline"
    return build_llm(
        settings.provider,
        model=meta.get("model"),
        time_scale=float(0.05 if meta.get("time_scale") is None else meta["time_scale"]),
        seed=int(meta.get("seed") or 0),
        latency=seed_latency() if offline else None,
        responders=(responders or offline_responders()) if offline else None,
        max_tokens=meta.get("max_tokens"),
        max_cost=meta.get("max_cost"),
        cache_dir=meta.get("cache_dir"),
    )


def build_services(
    meta: dict[str, Any], responders: dict[str, Responder] | None = None
) -> dict[str, Any]:
    """`llm`, `settings` and `app` for a run described by `meta`."""
    if not meta.get("out"):
        raise UsageError("the app job needs an output folder (--out)")
    settings = settings_from_meta(meta)
    app = AppProject(Path(str(meta["out"])))
    # a resumed run: commit what its last phases settled just before a crash, and bring the
    # work tree to the branch's last commit
    app.committer.advance()
    app.git.sync_work_tree()
    return {"llm": build_llm_for(settings, meta, responders), "settings": settings, "app": app}


def prepare(meta: dict[str, Any]) -> tuple[Flow, dict[str, Any]]:
    services = build_services(meta)
    return build_flow(services["settings"]), services
