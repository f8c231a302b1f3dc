"""A fix made while validating phase j to a shared file reaches the later phase's version."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from app_support import SHELL, build_app, failures, git, history, roadmap_blueprint
from phasefarm.engine.events import Event
from phasefarm.llm import OfflineRequest
from phasefarm.pipelines.app.carry import carry_fixes, merge_three
from phasefarm.pipelines.app.offline import responders as offline_responders
from phasefarm.pipelines.app.prompts import read_inputs
from phasefarm.pipelines.app.stash import Stash

BASE = "<header>Shop</header>\n<main>\n<p>hello</p>\n</main>\n<footer>2026</footer>\n"
FIXED = BASE.replace("<header>Shop</header>", '<header><a href="index.html">Shop</a></header>')
LATER = BASE.replace("<p>hello</p>", "<p>hello</p>\n<section>agenda</section>")


def test_merge_three_applies_their_change_to_ours_or_reports_a_conflict() -> None:
    assert merge_three(LATER, BASE, FIXED) == FIXED.replace(
        "<p>hello</p>", "<p>hello</p>\n<section>agenda</section>"
    )
    clash = BASE.replace("<header>Shop</header>", "<header>Barber</header>")
    assert merge_three(clash, BASE, FIXED) is None


def test_a_fix_after_the_later_phase_read_the_file_is_merged_once(tmp_path: Path) -> None:
    stash = Stash(tmp_path)
    stash.write_version(1, "index.html", BASE)  # phase 1 writes it
    stash.write_base(3, "index.html", BASE)  # phase 3 reads that version ...
    stash.write_version(3, "index.html", LATER)  # ... and writes its own
    stash.write_version(1, "index.html", FIXED)  # then validate[1] fixes phase 1's version
    assert carry_fixes(stash, 3, ["index.html"]) == (["index.html"], [])
    carried = stash.read_version(3, "index.html")
    assert carried is not None and "<a href" in carried and "agenda" in carried
    assert carry_fixes(stash, 3, ["index.html"]) == ([], [])  # resumed: nothing to do again


def test_no_fix_no_base_or_a_conflict_leaves_the_version_alone(tmp_path: Path) -> None:
    stash = Stash(tmp_path)
    stash.write_version(1, "a.js", BASE)
    stash.write_base(2, "a.js", BASE)
    stash.write_version(2, "a.js", LATER)
    stash.write_version(2, "b.js", LATER)  # no base: phase 2 created it
    assert carry_fixes(stash, 2, ["a.js", "b.js"]) == ([], [])
    clash = BASE.replace("<header>Shop</header>", "<header>Barber</header>")
    stash.write_version(2, "a.js", clash)
    stash.write_version(1, "a.js", FIXED)
    assert carry_fixes(stash, 2, ["a.js"]) == ([], ["a.js"])
    assert stash.read_version(2, "a.js") == clash


BROKEN_ICON = '<link rel="icon" href="img/missing.png">'


def _index_answers(request: OfflineRequest) -> Any:
    """Phase 1's index.html links a missing file (its validation fixes that); phase 3 writes its
    index.html from the version it was given, adding one section."""
    inputs = read_inputs(request.text)
    made = offline_responders()["implement_file"](request)
    if inputs["path"] != "index.html":
        return made
    if inputs["phase"] == 1:
        return {"content": made["content"].replace('<link rel="icon" href="data:,">', BROKEN_ICON)}
    if inputs["phase"] == 3:
        footer = '    <footer class="app-footer">'
        added = f'    <section id="search"></section>\n{footer}'
        return {"content": inputs["current_content"].replace(footer, added)}
    return made


class FixAfterPhaseThreeRead:
    """The LLM, except that phase 1's fix calls wait until phase 3 has written its index.html
    from phase 1's unfixed version."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.phase_three_wrote = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def structured(self, messages: list[dict[str, str]], schema: Any, *, task: str) -> Any:
        inputs = read_inputs(messages[-1]["content"])
        if task == "fix_file" and inputs.get("phase") == 1:
            async with asyncio.timeout(60):
                while not self.phase_three_wrote:
                    await asyncio.sleep(0.01)
        answer = await self.inner.structured(messages, schema, task=task)
        if task == "implement_file" and (inputs["phase"], inputs["path"]) == (3, "index.html"):
            self.phase_three_wrote = True
        return answer


def test_phase_ones_fix_is_in_phase_threes_index_html(tmp_path: Path) -> None:
    out = tmp_path / "app"
    events: list[Event] = []
    result, _ = build_app(
        out,
        responders={**offline_responders(), "implement_file": _index_answers},
        events=events,
        llm=FixAfterPhaseThreeRead,
    )
    assert result.status == "succeeded", failures(result)
    assert result.outputs["validate[1]"]["fixes"] == 1
    carried = [e.data for e in events if e.kind == "app.carried"]
    assert carried[0] == {"phase": 3, "merged": ["index.html"], "conflicts": []}
    # phase 4 builds on phase 3's index.html: it gets the fix from there, carried again when
    # it read phase 3's version before the merge (timing decides which)
    assert [c["phase"] for c in carried][1:] in ([], [4])
    assert BROKEN_ICON not in (out / "index.html").read_text()
    # merged before phase 3's validation: nothing left for it to fix
    assert result.outputs["validate[3]"]["fixes"] == 0
    phase3 = git(out, "show", "main~3:index.html")  # Phase 3: Agenda and search
    assert BROKEN_ICON not in phase3 and '<section id="search">' in phase3


THEME_TAG = '<script type="module" src="js/theme.js"></script>'


def _theme_answers(request: OfflineRequest) -> Any:
    """Phase 2's js/theme.js never passes `node --check`; phase 3's page loads it."""
    inputs = read_inputs(request.text)
    if inputs["path"] == "js/theme.js":
        return {"content": "export const = ;\n"}
    made = offline_responders()["implement_file"](request)
    if (inputs["phase"], inputs["path"]) == (3, "index.html"):
        return {"content": inputs["current_content"].replace("</head>", f"{THEME_TAG}\n</head>")}
    return made


def test_the_review_finds_a_link_left_dangling_by_a_failed_phase(tmp_path: Path) -> None:
    out = tmp_path / "app"
    responders = {
        **offline_responders(),
        "blueprint": roadmap_blueprint(
            SHELL, ("Theme", ["js/theme.js"]), ("Theme switch", ["index.html"])
        ),
        "implement_file": _theme_answers,
        "fix_file": _theme_answers,
    }
    result, _ = build_app(out, phases=3, responders=responders)
    assert result.phases["validate[2]"].status == "failed"
    # phase 3 checked its link against the files planned so far (theme.js included) ...
    assert result.phases["validate[3]"].status == "succeeded"
    subjects = history(out)
    back = len(subjects) - 1 - subjects.index("Phase 3: Theme switch")
    assert THEME_TAG in git(out, "show", f"main~{back}:index.html")
    # ... the review checks it against the app as committed, and has it fixed
    assert result.outputs["review"]["fixed"] == ["index.html"]
    assert THEME_TAG not in (out / "index.html").read_text()
