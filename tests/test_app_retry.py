"""`resume --retry-failed` of an app run whose failed phase sits before committed phases, in the
same process as the first run (the checkpointed blueprint and concepts must read back)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app_support import BRIEF, build_app, failures, git, history
from phasefarm.llm import OfflineRequest
from phasefarm.pipelines.app.job import build_flow, build_services
from phasefarm.pipelines.app.offline import responders as offline_responders
from phasefarm.pipelines.app.prompts import read_inputs
from phasefarm.store.sqlite import SQLiteStore


def _broken(path: str) -> Any:
    def answer(request: OfflineRequest) -> Any:
        if read_inputs(request.text)["path"] == path:
            return {"content": "export const = ;\n"}
        return offline_responders()["implement_file"](request)

    return answer


def test_a_retried_phase_commits_after_the_later_phases_with_the_same_tree(
    tmp_path: Path,
) -> None:
    out = tmp_path / "app"
    meta = {"out": str(out), "phases": 5, "time_scale": 0.0, "mode": "parallel"}
    store = SQLiteStore(tmp_path / "runs.sqlite3")
    try:
        broken = _broken("js/stats.js")  # phase 4's own file: phase 5 does not build on it
        services = build_services(
            meta, {**offline_responders(), "implement_file": broken, "fix_file": broken}
        )
        first = build_flow(services["settings"]).run_sync(
            inputs={"brief": BRIEF}, services=services, store=store, run_id="r1", meta=meta
        )
        assert first.status == "failed" and list(failures(first)) == ["validate[4]"]
        services = build_services(meta)
        again = build_flow(services["settings"]).resume_sync(
            "r1", store=store, services=services, retry_failed=True
        )
    finally:
        store.close()
    assert again.status == "succeeded", failures(again)
    # the review already ran (allSettled) and is reused; phase 4 lands on top of it
    assert history(out) == [
        "Start Booking Desk",
        "Phase 1: App shell and storage",
        "Phase 2: Bookings list",
        "Phase 3: Agenda and search",
        "Phase 5: Themes and shortcuts",
        "Review: no problems left",
        "Phase 4: Summary",
    ]
    build_app(tmp_path / "straight")
    tree = "HEAD^{tree}"
    assert git(out, "rev-parse", tree) == git(tmp_path / "straight", "rev-parse", tree)
    assert git(out, "status", "--porcelain") == ""
