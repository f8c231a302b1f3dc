"""What the `website`, `plan website` and `bench website` commands do, kept out of cli.py.

Option checks raise `UsageError` with one line (the CLI turns it into exit code 2) before a
store is opened or a token spent.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from phasefarm.engine.scheduler import MODES
from phasefarm.errors import UsageError
from phasefarm.llm.latency import DEFAULT_MODEL
from phasefarm.pipelines.common import check_run_options
from phasefarm.pipelines.website.profile import DEFAULT_SITE_URL, WebsiteSettings, seed_latency

__all__ = ["check_out", "print_plan", "website_meta"]


def _check_reusable(out: Path) -> None:
    """With --force the site goes into a folder that has things in it: refuse, before any
    model call is paid for, what the site could not be written over safely."""
    for entry in out.iterdir():
        if entry.is_symlink():
            raise UsageError(
                f"--out {out} holds a symbolic link, {entry.name}: the site is never written "
                "through links; remove it or choose another folder"
            )
    for name, want_dir in (("index.html", False), ("images", True), ("assets", True)):
        entry = out / name
        if entry.exists() and entry.is_dir() != want_dir:
            kind = "a folder" if entry.is_dir() else "a file"
            raise UsageError(f"--out {out}: {name} is {kind}, where the site writes its own")


def check_out(out: Path, *, force: bool) -> Path:
    """The output folder as an absolute path; refused if it is not a folder, is not empty
    (unless `force`) or cannot be written. Nothing is left on disk by the check."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    if out.is_dir():
        try:
            busy = any(out.iterdir())
        except OSError as exc:
            raise UsageError(f"--out {out} cannot be read: {exc.strerror or exc}") from None
        if busy and not force:
            raise UsageError(
                f"--out {out} exists and is not empty: choose an empty folder or pass --force"
            )
        if busy:
            _check_reusable(out)
    # Folders made for the probe are removed again: bad input later (or a run that never
    # starts) leaves nothing behind; the run creates --out when it writes the site.
    absolute = out.absolute()
    made = [p for p in (absolute, *absolute.parents) if not p.exists()]
    try:
        try:
            absolute.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=absolute, prefix=".phasefarm-probe-"):
                pass
        except OSError as exc:
            raise UsageError(f"--out {out} is not writable: {exc.strerror or exc}") from None
        if not os.access(absolute, os.W_OK | os.X_OK):
            raise UsageError(f"--out {out} is not writable")
        return absolute.resolve()
    finally:
        for folder in made:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise UsageError(f"unknown --mode {mode!r}: choose one of {', '.join(MODES)}")


def website_meta(
    *,
    brief: str,
    out: Path,
    force: bool,
    mode: str,
    provider: str,
    model: str | None,
    time_scale: float,
    pages: int,
    images: int,
    image_pool: int,
    seed: int,
    max_tokens: int | None,
    max_cost: float | None,
    cache: Path | None = None,
    site_url: str = DEFAULT_SITE_URL,
    image_model: str | None = None,
    call_timeout: float = 300.0,
) -> dict[str, Any]:
    """Check the options of `phasefarm website` and return the run's meta (no secrets)."""
    check_run_options(
        what="website",
        brief=brief,
        provider=provider,
        time_scale=time_scale,
        max_tokens=max_tokens,
        max_cost=max_cost,
        call_timeout=call_timeout,
        more=lambda: _check_mode(mode),
    )
    settings = WebsiteSettings(
        pages=pages, images=images, image_pool=image_pool, provider=provider, site_url=site_url
    )
    _check_token_cap(settings, max_tokens)
    folder = check_out(out, force=force)
    if cache is not None:  # after --out: a refused run leaves no new folder behind
        try:
            cache.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"--cache {cache} cannot be used: {exc.strerror or exc}") from None
    return {
        "out": str(folder),
        "pages": pages,
        "images": images,
        "image_pool": image_pool,
        "provider": provider,
        "model": model,
        "time_scale": time_scale,
        "seed": seed,
        "max_tokens": max_tokens,
        "max_cost": max_cost,
        "cache_dir": None if cache is None else str(cache.resolve()),
        "site_url": settings.site_url,
        "image_model": image_model,
        "call_timeout": call_timeout,
    }


def largest_call_need(settings: WebsiteSettings) -> tuple[str, int]:
    """The step whose one call needs the most room in the budget, and a lower bound of that
    room (its answer cap plus its schema and system prompt, before any input is added)."""
    from phasefarm.llm.schema import answer_token_cap, schema_digest
    from phasefarm.llm.tokens import max_prompt_tokens
    from phasefarm.pipelines.website import schemas as s
    from phasefarm.pipelines.website.prompts import SYSTEM

    steps: dict[str, type[Any]] = {
        "design_strategy": s.DesignStrategy,
        "design_context": s.DesignContext,
        "section_plan": s.SectionPlan,
        "layout": s.Layout,
        "style_system": s.StyleSystem,
        "page_plan": s.page_plan_answer(settings.pages),
        "seo_strategy": s.SeoStrategy,
        "copywriting": s.Copywriting,
        "section_copy": s.SectionText,
        "page_seo": s.PageSeoText,
        "stylesheet": s.Stylesheet,
        "site_chrome": s.SiteChrome,
        "page_code": s.PageComposition,
    }
    if settings.images:
        steps["image_plan"] = s.image_plan_answer(settings.images)
    system = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": ""}]
    needs = {
        name: answer_token_cap(model) + max_prompt_tokens(system, schema_digest(model))
        for name, model in steps.items()
    }
    name = max(needs, key=lambda n: needs[n])
    return name, needs[name]


def _check_token_cap(settings: WebsiteSettings, max_tokens: float | None) -> None:
    """A cap below what one required call can need would stop every run before it ends:
    refused now, before anything is paid for."""
    if max_tokens is None:
        return
    step, need = largest_call_need(settings)
    if max_tokens < need:
        raise UsageError(
            f"--max-tokens {max_tokens:,.0f} is less than one {step} call can use "
            f"({need:,} tokens or more): the site could never be finished"
        )


def _phase_label(name: str, expect: int | None) -> str:
    return f"{name} ×{expect}" if expect is not None else name


def print_plan(settings: WebsiteSettings, *, time_scale: float, as_json: bool) -> None:
    """Waves, critical path and the estimate per mode, from the scheduler's simulation."""
    from rich.console import Console
    from rich.table import Table

    from phasefarm.pipelines.website.job import build_flow
    from phasefarm.pipelines.website.reference import note_002_flow

    flow = build_flow(settings)
    plan = flow.plan()
    note = note_002_flow(settings.images, settings.image_pool).plan()
    # per-call latency model (llm/latency.py, issue 14): the estimates beside the even split
    per_call_s = seed_latency(settings, DEFAULT_MODEL)
    per_call = flow.plan(estimates={n: per_call_s[n] for n in flow.phases if n in per_call_s})
    expects = {n: p.expect for n, p in flow.phases.items() if p.kind == "map"}
    if as_json:
        print(
            json.dumps(
                {
                    "flow": plan.flow,
                    "pages": settings.pages,
                    "images": settings.images,
                    "image_pool": settings.image_pool,
                    "waves": plan.waves,
                    "critical_path": plan.critical_path,
                    "critical_path_s": round(plan.critical_path_s, 3),
                    "durations": {k: round(v, 3) for k, v in plan.durations.items()},
                    "estimates": {k: round(v, 3) for k, v in plan.estimates.items()},
                    "note_002_estimates": {k: round(v, 3) for k, v in note.estimates.items()},
                    "per_call_estimates": {k: round(v, 3) for k, v in per_call.estimates.items()},
                }
            )
        )
        return
    console = Console(width=max(100, Console().width))
    console.print(
        f"[bold]website[/bold]: {settings.pages} pages, {settings.images} images, "
        f"image pool {settings.image_pool}, {len(flow.phases)} phases "
        f"({sum(expects.values())} map items)"
    )
    waves = Table(
        title="waves (levels; waves mode runs them one after another)", title_justify="left"
    )
    waves.add_column("wave", justify="right")
    waves.add_column("phases (seed-s each; a map: all items, pool included)")
    waves.add_column("wave seed-s", justify="right")
    for n, names in enumerate(plan.waves, start=1):
        cells = ", ".join(
            f"{_phase_label(name, expects.get(name))} {plan.durations[name]:.3g}" for name in names
        )
        waves.add_row(str(n), cells, f"{max(plan.durations[name] for name in names):.1f}")
    console.print(waves)
    path = " → ".join(_phase_label(name, expects.get(name)) for name in plan.critical_path)
    console.print(f"critical path: {path}  = {plan.critical_path_s:.1f} seed-s", highlight=False)
    modes = Table(title="estimated time per mode (scheduler simulated)", title_justify="left")
    for name in ("mode", "seed-s", "vs sequential", f"real s at --time-scale {time_scale}"):
        modes.add_column(name, justify="left" if name == "mode" else "right")
    sequential = plan.estimate("sequential")
    rows = [
        (f"note 002 as written: {mode}", note.estimate(mode))
        for mode in ("sequential", "waves", "parallel")
    ]
    rows += [(mode, plan.estimate(mode)) for mode in ("sequential", "waves", "parallel")]
    for label, seconds in rows:
        modes.add_row(
            label,
            f"{seconds:.1f}",
            f"{sequential / seconds:.2f}x" if seconds else "-",
            f"{seconds * time_scale:.2f}",
        )
    console.print(modes)
    console.print(
        "note 002 as written: its steps (content as 3 calls, code generation as 1) on the same "
        "profile and scheduler; the rows below are this job, which splits content per section "
        "and code per page.",
        highlight=False,
    )
    figures = ", ".join(
        f"{m} {per_call.estimate(m):.1f}" for m in ("sequential", "waves", "parallel")
    )
    console.print(f"per-call latency model ({DEFAULT_MODEL.describe()}): {figures} seed-s")
