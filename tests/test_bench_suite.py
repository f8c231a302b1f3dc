"""`phasefarm bench`: sections, the README markers, the peers rows and the Gantt picture."""

from __future__ import annotations

import json

import pytest
from PIL import Image

from phasefarm.benchmarks import peers, suite
from phasefarm.benchmarks.report import README_END, README_START, markdown, update_readme


def test_update_readme_replaces_only_between_the_markers(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold\n{README_END}\nrest\n")
    assert update_readme(readme, "new table")
    assert readme.read_text() == f"intro\n{README_START}\nnew table\n{README_END}\nrest\n"
    bare = tmp_path / "BARE.md"
    bare.write_text("no markers\n")
    assert not update_readme(bare, "x")


def test_markdown_states_the_command_notes_and_misses() -> None:
    section = {
        "name": "x",
        "title": "T",
        "command": "phasefarm bench x",
        "columns": ["a", "b"],
        "rows": [["1", "p|q"]],
        "notes": ["assumption"],
        "missed": ["x too slow"],
    }
    text = markdown(section)
    assert "`phasefarm bench x`" in text and "| 1 | p\\|q |" in text
    assert "- assumption" in text and "Targets missed: x too slow." in text


def test_unknown_workload_is_a_usage_error(capsys) -> None:
    assert suite.main(["--only", "nope"]) == 2
    assert "unknown workload 'nope'" in capsys.readouterr().err


def test_suite_writes_json_and_readme_and_exits_by_the_targets(tmp_path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"{README_START}\n{README_END}\n")
    out = tmp_path / "results" / "bench.json"
    code = suite.main(["--only", "jitter", "--json-out", str(out), "--readme", str(readme)])
    data = json.loads(out.read_text())
    assert code == (1 if data["missed"] else 0)
    assert [s["name"] for s in data["sections"]] == ["jitter"]
    assert "Produced by `phasefarm bench --only jitter`" in readme.read_text()
    assert "LangGraph supersteps" in readme.read_text()


def test_peer_rows_give_ratios_and_the_target_verdict() -> None:
    rows = [
        {
            "system": s,
            "shape": "wide",
            "phases": 100,
            "reuse_us": us,
            "runs": 2,
            "first_us": us,
            "rss_growth_mb": 1.0,
        }
        for s, us in (("asyncio", 5.0), ("phasefarm", 10.0), ("langgraph", 500.0), ("dask", 200.0))
    ]
    rows = peers.evaluate(rows)
    by = {r["system"]: r for r in rows}
    assert by["phasefarm"]["vs_asyncio"] == 2.0
    assert by["langgraph"]["phasefarm_less"] == 50.0 and by["langgraph"]["target_met"]
    assert by["dask"]["phasefarm_less"] == 20.0 and not by["dask"]["target_met"]
    assert peers.missed(rows) == ["dask wide 100: phasefarm only 20.0x less (first run)"]
    assert peers.section(rows, command="c")["missed"]


@pytest.mark.parametrize(
    "system", ["phasefarm", "phasefarm+sqlite", "asyncio", "langgraph", "dask"]
)
def test_each_system_runs_its_graph_in_a_child(system) -> None:
    if system in ("langgraph", "dask"):
        pytest.importorskip(system)
    row = peers.child(system, "chain", 30, repeats=2, budget_s=0.0)
    assert row["runs"] == "1+1" and row["first_us"] > 0 and row["reuse_us"] > 0


def test_gantt_is_a_small_png(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from phasefarm.benchmarks.gantt import draw_gantt

    phases = {
        "a": {"started": 0.0, "finished": 0.5},
        "m": {"started": 0.5, "finished": 1.0},
        "m[0]": {"started": 0.5, "finished": 0.9},
        "m[1]": {"started": 0.5, "finished": 1.0},
    }
    path = draw_gantt(
        {"parallel": phases, "sequential": phases},
        time_scale=0.05,
        path=tmp_path / "g.png",
        title="t",
    )
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width < 1000
