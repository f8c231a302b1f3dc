"""A Gantt chart of a job's runs, one panel per mode, as a small PNG (matplotlib, `bench` extra).

Input: per mode, the `phases` of the CLI's JSON summary (`{key: {started, finished, ...}}`, in
seconds since the run started) and the time scale to turn them into seed-seconds. One bar per
phase or map item, coloured by phase, in start order; the panels share the time axis.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["draw_gantt"]


def draw_gantt(
    runs: Mapping[str, Mapping[str, Any]], *, time_scale: float, path: Path, title: str
) -> Path:
    """Write the PNG to `path` and return it. `runs`: mode -> phases of its JSON summary."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write files only
    import matplotlib.pyplot as plt

    panels = [(mode, phases) for mode, phases in runs.items() if phases]
    heights = [max(1, len(phases)) for _, phases in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(9, 1.2 + 0.075 * sum(heights)),
        sharex=True,
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    bases = sorted({key.split("[", 1)[0] for _, phases in panels for key in phases})
    cmap = plt.get_cmap("tab20")
    colour = {base: cmap(i % 20) for i, base in enumerate(bases)}
    for ax, (mode, phases) in zip(axes[:, 0], panels, strict=True):
        mapped = {key.split("[", 1)[0] for key in phases if "[" in key}
        spans = sorted(
            (
                (float(p["started"]) / time_scale, float(p["finished"]) / time_scale, key)
                for key, p in phases.items()
                if p.get("started") is not None
                and p.get("finished") is not None
                and key not in mapped  # a map's own record spans its items: draw the items
            ),
        )
        end = max((finish for _, finish, _ in spans), default=0.0)
        for row, (start, finish, key) in enumerate(spans):
            ax.barh(
                row,
                max(finish - start, 0.05),
                left=start,
                height=0.8,
                color=colour[key.split("[", 1)[0]],
            )
        ax.set_yticks([])
        ax.invert_yaxis()
        ax.set_ylabel(f"{mode}\n{end:.0f} s", rotation=0, ha="right", va="center", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[-1, 0].set_xlabel("seed-seconds")
    from matplotlib.patches import Patch

    handles = [Patch(color=colour[b]) for b in bases]
    fig.suptitle(title, fontsize=10, y=0.995)
    fig.legend(
        handles,
        bases,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.965),
        ncol=6,
        fontsize=7,
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.9))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70)
    plt.close(fig)
    return path
