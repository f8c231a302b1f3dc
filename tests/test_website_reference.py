"""Note 002's own plan, simulated by our scheduler, gives DESIGN.md's numbers; ours beats it."""

from __future__ import annotations

import json
import subprocess
import sys

from phasefarm.pipelines.website.job import build_flow
from phasefarm.pipelines.website.profile import WebsiteSettings
from phasefarm.pipelines.website.reference import note_002_flow


def test_note_002_as_written_gives_185_69_58() -> None:
    plan = note_002_flow().plan()
    assert plan.estimate("sequential") == 185
    assert plan.estimate("waves") == 69
    assert plan.estimate("parallel") == 58
    # fewer image slots: the images wave takes more rounds
    assert note_002_flow(image_pool=2).plan().estimate("waves") == 69 - 10 + 25


def test_our_split_graph_is_faster_than_the_note_in_every_mode_but_sequential() -> None:
    ours = build_flow(WebsiteSettings()).plan()
    note = note_002_flow().plan()
    assert round(ours.estimate("sequential"), 6) == note.estimate("sequential") == 185
    assert ours.estimate("waves") < note.estimate("waves")
    assert ours.estimate("parallel") < note.estimate("parallel")
    assert ours.estimate("parallel") <= 45


def test_plan_website_json_reports_both() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "phasefarm", "plan", "website", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    data = json.loads(out)
    assert data["note_002_estimates"] == {"parallel": 58.0, "waves": 69.0, "sequential": 185.0}
    assert data["estimates"]["sequential"] == 185.0
