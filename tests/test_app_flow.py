"""The app job end to end with the offline provider: commits, shared files, failures."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from app_support import build_app, failures, git, history
from phasefarm.engine.events import Event
from phasefarm.llm import OfflineRequest
from phasefarm.pipelines.app.offline import responders as offline_responders
from phasefarm.pipelines.app.prompts import read_inputs


def test_an_app_is_built_with_one_commit_per_phase_in_roadmap_order(tmp_path: Path) -> None:
    events: list[Event] = []
    result, _ = build_app(tmp_path / "app", events=events)
    assert result.status == "succeeded", failures(result)
    out = tmp_path / "app"
    assert history(out) == [
        "Start Booking Desk",
        "Phase 1: App shell and storage",
        "Phase 2: Bookings list",
        "Phase 3: Agenda and search",
        "Phase 4: Summary",
        "Phase 5: Themes and shortcuts",
        "Review: no problems left",
    ]
    assert git(out, "status", "--porcelain") == ""  # the work tree is the last commit
    # each phase commit holds exactly that phase's files
    changed = git(out, "show", "--name-only", "--format=", "main~2").split()
    assert sorted(changed) == ["index.html", "js/stats.js", "js/store.js", "js/views/summary.js"]
    progress = [e.data for e in events if e.kind == "app.progress"]
    assert progress[-1] == {"done": 5, "failed": 0, "skipped": 0, "total": 5}
    assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)
    # every file reached the preview
    tracked = set(git(out, "ls-files").split()) - {".gitignore"}
    assert {
        p.relative_to(out / "preview").as_posix()
        for p in (out / "preview").rglob("*")
        if p.is_file()
    } == tracked


def test_the_same_brief_gives_the_same_commit_ids_in_every_mode(tmp_path: Path) -> None:
    heads = set()
    for mode in ("parallel", "sequential", "waves"):
        result, services = build_app(tmp_path / mode, mode=mode)
        assert result.status == "succeeded", failures(result)
        heads.add(services["app"].git.head())
    assert len(heads) == 1
    other, services = build_app(tmp_path / "other", brief="A to-do list for my chores")
    assert other.status == "succeeded", failures(other)
    assert services["app"].git.head() not in heads


def test_two_phases_changing_the_same_file_both_leave_their_change(tmp_path: Path) -> None:
    result, _ = build_app(tmp_path / "app")
    assert result.status == "succeeded", failures(result)
    out = tmp_path / "app"
    phase3 = git(out, "show", "main~3:index.html")  # Phase 3: Agenda and search
    phase4 = git(out, "show", "main~2:index.html")  # Phase 4: Summary
    assert 'id="search"' in phase3 and 'id="status"' not in phase3
    assert 'id="search"' in phase4 and 'id="status"' in phase4
    final = (out / "index.html").read_text()
    assert 'id="search"' in final and 'id="status"' in final


def _three_phase_roadmap(request: OfflineRequest) -> Any:
    made = offline_responders()["blueprint"](request)
    made["roadmap"] = [
        {
            "name": "Shell",
            "description": "The shell.",
            "files": ["index.html", "css/style.css", "js/app.js", "js/store.js"],
        },
        {"name": "Theme", "description": "Themes.", "files": ["js/theme.js"]},
        {"name": "Keys", "description": "Shortcuts.", "files": ["js/shortcuts.js"]},
    ]
    return made


class HoldPhaseOne:
    """The LLM, except that phase 1's file calls wait until phases 2 and 3 have finished
    (their progress event seen)."""

    def __init__(self, inner: Any, events: list[Event]) -> None:
        self.inner = inner
        self.events = events

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def structured(self, messages: list[dict[str, str]], schema: Any, *, task: str) -> Any:
        if task == "implement_file" and read_inputs(messages[-1]["content"])["phase"] == 1:
            async with asyncio.timeout(60):
                while not any(
                    e.kind == "app.progress" and e.data["done"] == 2 for e in self.events
                ):
                    await asyncio.sleep(0.01)
        return await self.inner.structured(messages, schema, task=task)


def test_commits_land_in_roadmap_order_when_phases_finish_out_of_order(tmp_path: Path) -> None:
    out = tmp_path / "app"
    responders = {**offline_responders(), "blueprint": _three_phase_roadmap}
    events: list[Event] = []
    result, _ = build_app(
        out,
        phases=3,
        responders=responders,
        events=events,
        llm=lambda inner: HoldPhaseOne(inner, events),
    )
    assert result.status == "succeeded", failures(result)
    assert history(out)[1:4] == ["Phase 1: Shell", "Phase 2: Theme", "Phase 3: Keys"]
    # "k/N completed" in finishing order: 2 phases were done before phase 1
    progress = [e.data["done"] for e in events if e.kind == "app.progress"]
    assert progress.index(2) < progress.index(3) and progress[-1] == 3


def _broken(path: str) -> Any:
    def answer(request: OfflineRequest) -> Any:
        made = offline_responders()["implement_file"](request)
        if read_inputs(request.text)["path"] == path:
            return {"content": "export const = ;\n"}
        return made

    return answer


def test_a_file_that_never_validates_fails_its_phase_and_skips_only_its_dependents(
    tmp_path: Path,
) -> None:
    out = tmp_path / "app"
    responders = {
        **offline_responders(),
        "implement_file": _broken("js/views/agenda.js"),
        "fix_file": _broken("js/views/agenda.js"),
    }
    events: list[Event] = []
    result, services = build_app(out, responders=responders, events=events)
    assert result.status == "failed"
    assert result.phases["validate[3]"].status == "failed"
    assert "node --check" in (result.phases["validate[3]"].error or "")
    assert "after 2 fix round(s)" in (result.phases["validate[3]"].error or "")
    assert result.phases["validate[4]"].status == "skipped"  # builds on phase 3's index.html
    assert result.phases["validate[5]"].status == "skipped"  # builds on phase 3's style.css
    assert result.phases["validate[2]"].status == "succeeded"
    # allSettled: the review still runs, over what was committed
    assert result.phases["review"].status == "succeeded"
    assert history(out) == [
        "Start Booking Desk",
        "Phase 1: App shell and storage",
        "Phase 2: Bookings list",
        "Review: no problems left",
    ]
    assert not (out / "js/views/agenda.js").exists()  # the failed phase's file is not in the app
    progress = [e.data for e in events if e.kind == "app.progress"]
    assert progress[-1] == {"done": 2, "failed": 1, "skipped": 2, "total": 5}
    assert services["llm"].usage_by_phase["validate[3]"].calls == 1 + 2  # check + 2 fixes


def test_a_roadmap_with_an_escaping_path_fails_cleanly_with_nothing_written(tmp_path: Path) -> None:
    def escaping(request: OfflineRequest) -> Any:
        made = offline_responders()["blueprint"](request)
        made["roadmap"][0]["files"] = ["../escape.js", "index.html"]
        return made

    out = tmp_path / "app"
    result, _ = build_app(out, responders={**offline_responders(), "blueprint": escaping})
    assert result.status == "failed"
    assert "pattern" in (result.phases["blueprint"].error or "")
    assert not (tmp_path / "escape.js").exists()
    assert not out.exists() or not any(out.iterdir())


def test_a_roadmap_naming_a_file_twice_in_a_phase_lists_it_once_and_says_so(
    tmp_path: Path,
) -> None:
    def twice(request: OfflineRequest) -> Any:
        made = offline_responders()["blueprint"](request)
        made["roadmap"][1]["files"].append(made["roadmap"][1]["files"][0])
        return made

    out = tmp_path / "app"
    events: list[Event] = []
    result, _ = build_app(
        out, responders={**offline_responders(), "blueprint": twice}, events=events
    )
    assert result.status == "succeeded", failures(result)
    notes = [e.data["note"] for e in events if e.kind == "app.roadmap"]
    assert notes == ["roadmap phase 2 listed js/views/bookings.js more than once"]
    assert len([k for k in result.phases if k.startswith("implement[2:")]) == 4


def test_the_review_fixes_what_it_finds_and_reverts_a_fix_that_breaks_a_file(
    tmp_path: Path,
) -> None:
    def review(request: OfflineRequest) -> Any:
        return {
            "problems": [
                {"file": "js/theme.js", "problem": "no comment on the key", "fix": "say it"},
                {"file": "js/shortcuts.js", "problem": "n is not shown", "fix": "hint it"},
            ]
        }

    def fix(request: OfflineRequest) -> Any:
        inputs = read_inputs(request.text)
        if inputs["path"] == "js/shortcuts.js":
            return {"content": "export function initShortcuts( {\n"}  # breaks the file
        return {"content": "// The theme is kept in localStorage.\n" + inputs["content"]}

    out = tmp_path / "app"
    responders = {**offline_responders(), "review": review, "fix_file": fix}
    result, _ = build_app(out, responders=responders)
    assert result.status == "succeeded", failures(result)
    assert result.outputs["review"] == {
        "cycles": 1,
        "fixed": ["js/theme.js"],
        "reverted": ["js/shortcuts.js"],
    }
    assert history(out)[-2:] == ["Review 1: fix 1 file(s)", "Review: 1 file(s) fixed"]
    assert (out / "js/theme.js").read_text().startswith("// The theme is kept")
    assert "initShortcuts(routes)" in (out / "js/shortcuts.js").read_text()
    assert (out / "preview/js/theme.js").read_text() == (out / "js/theme.js").read_text()


def test_a_roadmap_with_more_phases_than_asked_is_sent_back_then_fails_cleanly(
    tmp_path: Path,
) -> None:
    def six(request: OfflineRequest) -> Any:
        made = offline_responders()["blueprint"](request)
        made["roadmap"].append({"name": "More", "description": "More.", "files": ["js/more.js"]})
        return made

    out = tmp_path / "app"
    events: list[Event] = []
    result, _ = build_app(out, responders={**offline_responders(), "blueprint": six}, events=events)
    assert result.status == "failed"
    assert "roadmap" in (result.phases["blueprint"].error or "")
    repairs = [e for e in events if e.kind == "llm.repair"]
    assert repairs and "at most 5 items" in repairs[0].data["error"]
    assert not out.exists() or not any(out.iterdir())
