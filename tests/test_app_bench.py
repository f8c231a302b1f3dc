"""The app benchmark's section: what `phasefarm bench` puts in its table, JSON and README."""

from __future__ import annotations

from phasefarm.benchmarks import app as bench
from phasefarm.benchmarks import suite
from phasefarm.benchmarks.report import markdown


def _runs(parallel_s: float, *, heads: tuple[str, str, str] = ("a", "a", "a")):
    seconds = {"sequential": 1460.0, "waves": 490.0, "parallel": parallel_s}
    return [
        bench.ModeRun(
            mode=mode,
            status="succeeded",
            measured_s=seconds[mode],
            planned_s=seconds[mode],
            vs_sequential=round(1460.0 / seconds[mode], 2),
            vs_waves=round(490.0 / seconds[mode], 2),
            head=head,
            progress_events=5,
        )
        for mode, head in zip(bench.MODES, heads, strict=True)
    ]


def test_section_meets_the_targets_and_states_its_assumptions() -> None:
    section = bench.section(_runs(280.0), time_scale=0.1, phases=5, command="phasefarm bench app")
    assert section["missed"] == []
    assert section["rows"][2][:5] == ["parallel", "280.0", "280.0", "5.21x", "1.75x"]
    text = markdown(section)
    assert "`phasefarm bench app`" in text and "SQLite store" in text
    assert "blueprint 30" in text and "node --check" in text


def test_section_lists_each_missed_target() -> None:
    slow = bench.section(_runs(300.0), time_scale=0.1, phases=5, command="c")
    assert slow["missed"] == ["app parallel 4.87x sequential < 5x"]
    waves = bench.section(_runs(340.0), time_scale=0.1, phases=5, command="c")
    assert "app parallel 1.44x waves < 1.5x" in waves["missed"]
    differ = bench.section(
        _runs(280.0, heads=("a", "b", "a")), time_scale=0.1, phases=5, command="c"
    )
    assert differ["missed"] == ["app: the modes made different commits"]


def test_the_suite_finds_the_app_section() -> None:
    assert "app" in suite.WORKLOADS
    assert callable(bench.bench_section)
