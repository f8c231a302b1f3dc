"""Benchmark sections: one shape for every workload, printed with rich or written as Markdown.

A section is a dict: `name`, `title`, `command` (what produced it), `columns`, `rows` (lists of
strings), `notes` (the modelling assumptions, shown under the table), `missed` (targets not
met, one line each; empty when all met), `data` (the raw figures for the JSON file) and
optionally `images` (paths of PNGs written beside the JSON).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

__all__ = ["README_END", "README_START", "markdown", "print_section", "update_readme"]

README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


def print_section(section: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(120, Console().width))
    table = Table(title=section["title"], title_justify="left")
    for i, column in enumerate(section["columns"]):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in section["rows"]:
        styled = [f"[red]{cell}[/red]" if cell.startswith("MISSED") else cell for cell in row]
        table.add_row(*styled)
    console.print(table)
    for note in section.get("notes", []):
        console.print(f"  {note}", highlight=False, markup=False)
    for line in section.get("missed", []):
        console.print(f"  [red]MISSED[/red] {line}", highlight=False)


def markdown(section: dict[str, Any], *, image_dir: str | None = None) -> str:
    lines = [f"### {section['title']}", "", f"`{section['command']}`", ""]
    lines.append("| " + " | ".join(section["columns"]) + " |")
    lines.append("|" + "---|" * len(section["columns"]))
    lines += [
        "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
        for row in section["rows"]
    ]
    lines.append("")
    lines += [f"- {note}" for note in section.get("notes", [])]
    if section.get("missed"):
        lines.append("- Targets missed: " + "; ".join(section["missed"]) + ".")
    if image_dir is not None:
        for image in section.get("images", []):
            name = Path(image).name
            lines += ["", f"![{section['name']} Gantt]({image_dir}/{name})"]
    return "\n".join(lines).rstrip() + "\n"


def update_readme(readme: Path, body: str) -> bool:
    """Replace what lies between the bench markers; False when the markers are missing."""
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(README_START) + r".*?" + re.escape(README_END), re.DOTALL)
    if not pattern.search(text):
        return False
    replaced = pattern.sub(lambda _m: f"{README_START}\n{body.rstrip()}\n{README_END}", text)
    readme.write_text(replaced, encoding="utf-8")
    return True
