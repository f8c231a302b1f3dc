"""The phases of the app job.

    brief ─ blueprint ─ concept[1] ─ concept[2] ─ ... ─ concept[N]
                            │             │                  │
                 implement[1:path] × files│       implement[N:path] ─ validate[N] ─┐
                            └ validate[1] └ implement[2:path] ─ validate[2] ─ ... ─┴ review

The blueprint adds the concepts (each needs the one before); concept k adds one phase per file
of phase k (a file an earlier phase touched waits for that phase's version) and phase k's
validation, and the last concept adds the review. Keys are stable (`implement[3:js/app.js]`),
so a resumed run adds the same phases and reuses what they did. Work is kept in the stash
before a phase returns, so a phase re-run after a crash finds it and calls no model again.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from phasefarm import PhaseContext
from phasefarm.errors import BadOutput, RunStopped
from phasefarm.pipelines.app.profile import AppSettings
from phasefarm.pipelines.app.project import AppProject
from phasefarm.pipelines.app.prompts import build_messages
from phasefarm.pipelines.app.roadmap import (
    REVIEW_KEY,
    Roadmap,
    concept_key,
    drop_repeated_paths,
    file_key,
    validate_key,
)
from phasefarm.pipelines.app.schemas import (
    Blueprint,
    CheckReport,
    FileContent,
    FilePlan,
    PhaseConcept,
    blueprint_schema,
    concept_schema,
)
from phasefarm.pipelines.app.validate import validate_files

if TYPE_CHECKING:
    from phasefarm.llm import LLM

__all__ = ["PhaseInvalid", "blueprint", "concept", "implement_file", "review", "validate_phase"]

MODEL_RETRIES = 2
CONTEXT_CHARS = 6000  # of each other file shown to a file call


class PhaseInvalid(BadOutput):
    """A phase's files still fail validation after the fix budget."""


def _last_attempt(ctx: PhaseContext, retries: int = MODEL_RETRIES) -> bool:
    return ctx.attempt > retries


async def _settle(app: AppProject, ctx: PhaseContext) -> None:
    """Commit and deploy what can be; once every phase has settled (allSettled, note 000),
    add the review. Whichever phase settles last adds it (adding a key twice is a no-op)."""
    progress = await app.settle(ctx)
    if progress.complete:
        ctx.add_phase("review", key=REVIEW_KEY)


def _roadmap(app: AppProject) -> Roadmap:
    roadmap = app.roadmap()
    if roadmap is None:
        raise BadOutput("the blueprint of this app is missing from its folder")
    return roadmap


async def blueprint(
    brief: str, settings: AppSettings, llm: LLM, app: AppProject, ctx: PhaseContext
) -> Blueprint:
    kept = app.blueprint()
    if kept is None:
        messages = build_messages(
            f"Write the blueprint of this app: a title, a description, a colour palette, its "
            f"views, the user flow, the architecture, the pitfalls to avoid, and a roadmap of "
            f"exactly {settings.phases} phases. Each phase has a name, a description and the "
            "files it creates or changes (paths relative to the app's folder; index.html is the "
            "app shell; views live in js/views/<view id>.js). A file may be changed by several "
            "phases, in roadmap order.",
            {"brief": brief, "phases": settings.phases},
        )
        answer = await llm.structured(messages, blueprint_schema(settings.phases), task="blueprint")
        kept, notes = drop_repeated_paths(answer)
        for note in notes:
            ctx.emit("app.roadmap", note=note)
        Roadmap.from_blueprint(kept)  # an unsafe path: a clean failure, nothing written
        await asyncio.to_thread(app.start, kept)
    for number in range(1, settings.phases + 1):
        ctx.add_phase(
            "concept",
            key=concept_key(number),
            needs=[concept_key(number - 1)] if number > 1 else [],
            args={"number": number},
        )
    return kept


async def concept(
    number: int,
    blueprint: Blueprint,
    settings: AppSettings,
    llm: LLM,
    app: AppProject,
    ctx: PhaseContext,
) -> PhaseConcept:
    roadmap = _roadmap(app)
    paths = list(roadmap.phase_files(number))
    schema = concept_schema(paths)
    data = app.stash.load_model(f"concepts/{number}")
    try:
        if data is not None:
            made = schema.model_validate(data)
        else:
            earlier = [app.stash.load_model(f"concepts/{q}") for q in range(1, number)]
            phase = blueprint.roadmap[number - 1]
            messages = build_messages(
                f"Plan phase {number} of {roadmap.count}, {phase.name!r}: for each of its files "
                "say its purpose and exactly what this phase changes in it, consistent with the "
                "earlier phases' concepts. Give the phase a one-line summary for its commit.",
                {"blueprint": blueprint, "phase": number, "earlier_concepts": earlier},
            )
            made = _one_plan_per_file(
                await llm.structured(messages, schema, task="concept"), paths, phase.description
            )
            await asyncio.to_thread(app.stash.save_model, f"concepts/{number}", made)
    except RunStopped:
        raise
    except Exception as exc:
        if _last_attempt(ctx):
            app.stash.record(number, status="failed", error=str(exc)[:500], all_later=True)
            await _settle(app, ctx)
        raise
    for path in paths:
        ctx.add_phase(
            "implement_file",
            key=file_key(number, path),
            needs=roadmap.file_needs(number, path, settings.mode),
            args={"number": number, "path": path},
        )
    ctx.add_phase(
        "validate_phase",
        key=validate_key(number),
        needs=roadmap.validate_needs(number),
        args={"number": number},
    )
    return made


def _one_plan_per_file(concept: PhaseConcept, paths: list[str], description: str) -> PhaseConcept:
    """Each roadmap file planned once, in roadmap order (the enum in the schema keeps paths
    known, it cannot make them unique): the first plan of a file is kept, a file the model
    left out is planned from the roadmap's description of the phase."""
    first: dict[str, FilePlan] = {}
    for plan in concept.files:
        first.setdefault(plan.path, plan)
    files = [
        first.get(path) or FilePlan(path=path, purpose=description[:300], changes=description[:800])
        for path in paths
    ]
    return concept.model_copy(update={"files": files})


async def implement_file(
    number: int, path: str, blueprint: Blueprint, llm: LLM, app: AppProject, ctx: PhaseContext
) -> dict[str, object]:
    done = app.stash.read_version(number, path)
    if done is not None:  # written before a crash: no second call for this file
        return {"path": path, "phase": number, "chars": len(done), "reused": True}
    try:
        roadmap = _roadmap(app)
        concept = app.stash.load_model(f"concepts/{number}")
        previous = app.stash.latest(path, before=number)
        others = (
            {p: text[:CONTEXT_CHARS] for p, text in app.view(number - 1).items() if p != path}
            if number > 1
            else {}
        )
        messages = build_messages(
            f"Write the complete new content of {path} for phase {number} "
            f"({roadmap.names[number - 1]}). Keep everything earlier phases put in it unless "
            "the concept says to change it; use only files of the app (listed in the blueprint's "
            "roadmap), relative links, and ES module imports with ./ or ../ paths.",
            {
                "blueprint": blueprint,
                "phase": number,
                "concept": concept,
                "path": path,
                "current_content": None if previous is None else previous[1],
                "other_files": others,
            },
        )
        made = await llm.structured(messages, FileContent, task="implement_file")
        await asyncio.to_thread(app.stash.write_version, number, path, made.content)
    except RunStopped:
        raise
    except Exception as exc:
        if _last_attempt(ctx):
            app.stash.record(number, status="failed", error=f"{path}: {exc}"[:500])
            await _settle(app, ctx)
        raise
    return {"path": path, "phase": number, "chars": len(made.content), "reused": False}


async def _fix(
    app: AppProject,
    llm: LLM,
    number: int | str,
    path: str,
    content: str,
    errors: list[str],
    blueprint: Blueprint,
) -> None:
    listed = "\n".join(f"- {error}" for error in errors)
    messages = build_messages(
        f"{path} has problems:\n{listed}\nReturn its whole corrected content.",
        {
            "blueprint": blueprint,
            "phase": number,
            "path": path,
            "content": content,
            "errors": errors,
        },
    )
    fixed = await llm.structured(messages, FileContent, task="fix_file")
    await asyncio.to_thread(app.stash.write_version, number, path, fixed.content)


async def validate_phase(
    number: int,
    blueprint: Blueprint,
    settings: AppSettings,
    llm: LLM,
    app: AppProject,
    ctx: PhaseContext,
) -> dict[str, object]:
    roadmap = _roadmap(app)
    mine = list(roadmap.phase_files(number))
    concept = app.stash.load_model(f"concepts/{number}")
    try:
        view = app.view(number)
        exists = roadmap.planned_through(number) | set(view)
        # The tools and the model's check are independent: they run at the same time.
        tools, checked = await asyncio.gather(
            asyncio.to_thread(validate_files, view, mine, exists, node=app.node),
            llm.structured(
                build_messages(
                    f"Check the files of phase {number} against its concept: list real problems "
                    "only (a broken import, a missing element a script uses, a feature the "
                    "concept asks for that is absent), or none.",
                    {"concept": concept, "files": {p: view[p] for p in mine}},
                ),
                CheckReport,
                task="phase_check",
            ),
        )
        problems = tools.by_file()
        for found in checked.problems:
            if found.file in mine:
                problems.setdefault(found.file, []).append(
                    f"review: {found.problem} (fix: {found.fix})"
                )
        fixes = 0
        while problems and fixes < settings.fixes:
            fixes += 1
            await asyncio.gather(
                *(
                    _fix(app, llm, number, p, view[p], errs, blueprint)
                    for p, errs in problems.items()
                )
            )
            view = app.view(number)
            tools = await asyncio.to_thread(validate_files, view, mine, exists, node=app.node)
            problems = tools.by_file()
        if problems:
            listed = "; ".join(f"{p}: {e[0]}" for p, e in problems.items())
            raise PhaseInvalid(
                f"phase {number} still fails validation after {fixes} fix round(s): {listed}"[:800]
            )
    except RunStopped:
        raise
    except Exception as exc:
        if _last_attempt(ctx, 0):
            app.stash.record(number, status="failed", error=str(exc)[:500])
            await _settle(app, ctx)
        raise
    summary = str((concept or {}).get("summary", ""))
    app.stash.record(
        number, status="ok", summary=summary, fixes=fixes, skipped_checks=tools.skipped
    )
    await _settle(app, ctx)
    return {"phase": number, "files": mine, "fixes": fixes, "skipped_checks": tools.skipped}


async def review(
    blueprint: Blueprint, settings: AppSettings, llm: LLM, app: AppProject
) -> dict[str, object]:
    _roadmap(app)  # the blueprint is there
    if "review" in app.committer.committed():
        return {"cycles": 0, "fixed": [], "reverted": []}
    files = app.settled_view()  # what the phase commits hold, read from the stash
    fixed: list[str] = []
    reverted: list[str] = []
    cycles = 0
    for cycle in range(1, settings.review_cycles + 1):
        messages = build_messages(
            "Review the whole app: list real problems across its files (file, problem, fix), "
            "or none.",
            {"blueprint": blueprint, "files": files},
        )
        # the phases' commits are made while the model reads (they hold the same files)
        report, _ = await asyncio.gather(
            llm.structured(messages, CheckReport, task="review"),
            app.settle(None) if cycle == 1 else asyncio.sleep(0),
        )
        cycles = cycle
        wanted: dict[str, list[str]] = {}
        for problem in report.problems:
            if problem.file in files:
                wanted.setdefault(problem.file, []).append(
                    f"{problem.problem} (fix: {problem.fix})"
                )
        if not wanted:
            break
        tag = f"review{cycle}"
        await asyncio.gather(
            *(
                _fix(app, llm, tag, path, files[path], errors, blueprint)
                for path, errors in wanted.items()
                if app.stash.read_version(tag, path) is None
            )
        )
        candidate = dict(files)
        for path in wanted:
            candidate[path] = app.stash.read_version(tag, path) or files[path]
        tools = await asyncio.to_thread(
            validate_files, candidate, list(wanted), set(candidate), node=app.node
        )
        broken = {p.file for p in tools.problems}
        keep = {p: app.stash.version_path(tag, p) for p in wanted if p not in broken}
        reverted += sorted(broken)
        fixed += sorted(keep)
        files.update({p: candidate[p] for p in keep})
        if keep:
            await asyncio.to_thread(
                app.committer.commit,
                keep,
                f"Review {cycle}: fix {len(keep)} file(s)",
                "\n".join(sorted(keep)),
                tag,
            )
    if cycles == 0:
        await app.settle(None)
    await asyncio.to_thread(
        app.committer.commit,
        {},
        f"Review: {len(fixed)} file(s) fixed" if fixed else "Review: no problems left",
        f"{cycles} review cycle(s); fixes that failed validation, not kept: "
        f"{', '.join(reverted) or 'none'}",
        "review",
    )
    await app.deploy.request(files)
    return {"cycles": cycles, "fixed": fixed, "reverted": reverted}
