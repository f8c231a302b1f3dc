"""The website job as a `Flow`, and `prepare(meta)` for the CLI and for resume.

Dependencies are the data each prompt uses (see `steps.py`); `wave=` hints only matter in
`waves` mode, where they reproduce note 002's grouping (images, then content, then code
generation) so that mode is the note's plan run by the same engine; `parallel` ignores them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phasefarm.engine.flow import Flow
from phasefarm.errors import CheckFailed, UsageError
from phasefarm.llm import LLM, Responder, build_llm
from phasefarm.pipelines.website import steps
from phasefarm.pipelines.website.checks import check_site
from phasefarm.pipelines.website.offline import responders as offline_responders
from phasefarm.pipelines.website.profile import (
    DEFAULT_IMAGES,
    DEFAULT_PAGES,
    DEFAULT_SITE_URL,
    WebsiteSettings,
    seed_latency,
)
from phasefarm.pipelines.website.publish import (
    SiteDraft,
    SiteReport,
    publish,
    recover_draft,
    write_draft,
)
from phasefarm.pipelines.website.render import SiteParts, load_templates, render_site
from phasefarm.pipelines.website.schemas import (
    GeneratedImage,
    ImagePlan,
    Layout,
    PageCode,
    PagePlan,
    PageSeo,
    SectionCopy,
    SeoStrategy,
    SiteChrome,
    Stylesheet,
    StyleSystem,
)

__all__ = [
    "SiteCheckFailed",
    "build_flow",
    "build_services",
    "prepare",
    "rebuild_output",
    "settings_from_meta",
]

# note 002's waves, as hints for `waves` mode (0-based levels)
WAVE_IMAGES, WAVE_CONTENT, WAVE_CODE = 3, 4, 5
MODEL_RETRIES = 2


class SiteCheckFailed(CheckFailed):
    """The generated site has problems; the draft stays unpublished. One line per problem."""

    def __init__(self, problems: list[str], draft: Path) -> None:
        self.problems = problems
        self.draft = draft
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"site check found {len(problems)} problem{'s' if len(problems) != 1 else ''}; "
            f"not published (draft kept in {draft}):\n{listed}"
        )


def assemble(
    page_plan: PagePlan,
    page_code: list[PageCode],
    section_copy: list[SectionCopy],
    page_seo: list[PageSeo],
    seo_strategy: SeoStrategy,
    site_chrome: SiteChrome,
    stylesheet: Stylesheet,
    style_system: StyleSystem,
    layout: Layout,
    images: list[GeneratedImage],
    settings: WebsiteSettings,
    out: Path,
) -> SiteDraft:
    """Render every file and write them into a fresh draft folder inside `out`."""
    files = render_site(
        SiteParts(
            page_plan=page_plan,
            page_code=page_code,
            section_copy=section_copy,
            page_seo=page_seo,
            seo_strategy=seo_strategy,
            site_chrome=site_chrome,
            stylesheet=stylesheet,
            style_system=style_system,
            layout=layout,
            images=images,
            site_url=settings.site_url,
        )
    )
    return write_draft(out, files)


def check(assemble: SiteDraft, out: Path) -> SiteReport:
    """Verify the draft (links, assets, parsing, images, sitemap); publish it only if sound."""
    draft = recover_draft(out, assemble)
    problems = check_site(draft, assemble.files)
    if problems:
        raise SiteCheckFailed(problems, draft)
    return publish(out, assemble)


def build_flow(settings: WebsiteSettings) -> Flow:
    """The website flow for these settings (counts feed the plan's `expect`)."""
    load_templates()  # start-up work, not phase work
    est = seed_latency(settings)
    flow = Flow("website", pools={"image": settings.image_pool})
    r = MODEL_RETRIES
    planning: tuple[Callable[..., Any], ...] = (
        steps.design_strategy,
        steps.design_context,
        steps.section_plan,
        steps.layout,
        steps.style_system,
        steps.page_plan,
        steps.image_plan,
        steps.seo_strategy,
        steps.copywriting,
    )
    for fn in planning:
        flow.phase(estimate=est[fn.__name__], retries=r)(fn)
    flow.map(
        "image_plan",
        items=_image_items,
        pool="image",
        estimate=est["image"],
        expect=settings.images,
        retries=r,
        wave=WAVE_IMAGES,
    )(steps.images)
    flow.map(
        "page_plan",
        items=_section_items,
        estimate=est["section_copy"],
        expect=settings.sections,
        retries=r,
        wave=WAVE_CONTENT,
    )(steps.section_copy)
    flow.map(
        "page_plan",
        items=_page_items,
        estimate=est["page_seo"],
        expect=settings.pages,
        retries=r,
        wave=WAVE_CONTENT,
    )(steps.page_seo)
    flow.phase(estimate=est["stylesheet"], retries=r, wave=WAVE_CODE)(steps.stylesheet)
    flow.phase(estimate=est["site_chrome"], retries=r, wave=WAVE_CODE)(steps.site_chrome)
    flow.map(
        "page_plan",
        items=_page_items,
        estimate=est["page_code"],
        expect=settings.pages,
        retries=r,
        wave=WAVE_CODE,
    )(steps.page_code)
    flow.phase(estimate=0.0)(assemble)
    flow.phase(estimate=0.0)(check)
    return flow


def _image_items(plan: ImagePlan) -> list[Any]:
    return list(plan.images)


def _section_items(plan: PagePlan) -> list[Any]:
    return list(plan.section_refs())


def _page_items(plan: PagePlan) -> list[Any]:
    return list(plan.pages)


def settings_from_meta(meta: dict[str, Any]) -> WebsiteSettings:
    return WebsiteSettings(
        pages=int(meta.get("pages") or DEFAULT_PAGES),
        images=int(DEFAULT_IMAGES if meta.get("images") is None else meta["images"]),
        image_pool=int(meta.get("image_pool") or 5),
        provider=str(meta.get("provider") or "offline"),
        site_url=str(meta.get("site_url") or DEFAULT_SITE_URL),
    )


def build_llm_for(
    settings: WebsiteSettings,
    meta: dict[str, Any],
    responders: dict[str, Responder] | None = None,
) -> LLM:
    """The run's LLM: the seed latency profile and the website responders when offline."""
    offline = settings.provider == "offline"
    return build_llm(
        settings.provider,
        model=meta.get("model"),
        time_scale=float(0.05 if meta.get("time_scale") is None else meta["time_scale"]),
        seed=int(meta.get("seed") or 0),
        latency=seed_latency(settings) if offline else None,
        responders=(responders or offline_responders(settings)) if offline else None,
        max_tokens=meta.get("max_tokens"),
        max_cost=meta.get("max_cost"),
        cache_dir=meta.get("cache_dir"),
        image_model=meta.get("image_model"),
        call_time_limit=meta.get("call_timeout"),
    )


def build_services(
    meta: dict[str, Any], responders: dict[str, Responder] | None = None
) -> dict[str, Any]:
    """`llm`, `settings` and `out` for a run described by `meta`."""
    if not meta.get("out"):
        raise UsageError("the website job needs an output folder (--out)")
    settings = settings_from_meta(meta)
    return {
        "llm": build_llm_for(settings, meta, responders),
        "settings": settings,
        "out": Path(str(meta["out"])),
    }


def prepare(meta: dict[str, Any]) -> tuple[Flow, dict[str, Any]]:
    """Flow and services from a run's meta (CLI options): used by `website` and by resume."""
    services = build_services(meta)
    return build_flow(services["settings"]), services


def rebuild_output(outputs: dict[str, Any], meta: dict[str, Any]) -> SiteReport:
    """Write a finished run's site again from its stored outputs, without a model call (its
    `--out` was deleted): the same `assemble` and `check` as the run. `KeyError` when an output
    the site needs is not stored."""
    out = Path(str(meta["out"]))
    out.mkdir(parents=True, exist_ok=True)
    needs = [n for n in inspect.signature(assemble).parameters if n not in ("settings", "out")]
    draft = assemble(**{n: outputs[n] for n in needs}, settings=settings_from_meta(meta), out=out)
    return check(draft, out)
