"""The roadmap as a graph: which phase writes which file after which, and the phase keys.

A file several phases touch is written in roadmap order: phase k's version of a file waits for
(`needs`) the version of the latest earlier phase that touched it, and phase k as a whole
depends on those phases (if one fails, k is skipped). `waves` mode adds note 000's plan on top:
every implementation waits for the last concept, and a phase waits for every earlier phase it
overlaps with, as a whole. The same function feeds the run and `plan app`, so the plan is the
run's own graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from phasefarm.errors import BadOutput
from phasefarm.pipelines.app.schemas import Blueprint
from phasefarm.pipelines.app.workspace import UnsafePath, safe_relpath

__all__ = [
    "REVIEW_KEY",
    "Roadmap",
    "concept_key",
    "drop_repeated_paths",
    "file_key",
    "validate_key",
]

REVIEW_KEY = "review"


def concept_key(number: int) -> str:
    return f"concept[{number}]"


def file_key(number: int, path: str) -> str:
    return f"implement[{number}:{path}]"


def validate_key(number: int) -> str:
    return f"validate[{number}]"


def drop_repeated_paths(blueprint: Blueprint) -> tuple[Blueprint, list[str]]:
    """The blueprint with each phase's files listed once (a schema cannot say "unique" for
    us); the notes say what was dropped."""
    notes: list[str] = []
    phases = []
    for number, phase in enumerate(blueprint.roadmap, start=1):
        unique = list(dict.fromkeys(phase.files))
        if len(unique) < len(phase.files):
            repeated = sorted({p for p in phase.files if phase.files.count(p) > 1})
            notes.append(f"roadmap phase {number} listed {', '.join(repeated)} more than once")
        phases.append(phase.model_copy(update={"files": unique}))
    return blueprint.model_copy(update={"roadmap": phases}), notes


@dataclass(frozen=True)
class Roadmap:
    """Phases numbered from 1, each with its files in roadmap order."""

    names: tuple[str, ...]
    files: tuple[tuple[str, ...], ...]

    @classmethod
    def from_blueprint(cls, blueprint: Blueprint) -> Roadmap:
        """The roadmap, refused with BadOutput when a path is unsafe or named twice in a phase."""
        files: list[tuple[str, ...]] = []
        for number, phase in enumerate(blueprint.roadmap, start=1):
            seen: list[str] = []
            for raw in phase.files:
                try:
                    path = safe_relpath(raw)
                except UnsafePath as exc:
                    raise BadOutput(f"roadmap phase {number} ({phase.name}): {exc}") from None
                if path in seen:
                    raise BadOutput(f"roadmap phase {number} ({phase.name}) lists {path!r} twice")
                seen.append(path)
            files.append(tuple(seen))
        return cls(tuple(p.name for p in blueprint.roadmap), tuple(files))

    @property
    def count(self) -> int:
        return len(self.names)

    def phase_files(self, number: int) -> tuple[str, ...]:
        return self.files[number - 1]

    def previous(self, number: int, path: str) -> int | None:
        """The latest phase before `number` that touches `path`."""
        for earlier in range(number - 1, 0, -1):
            if path in self.files[earlier - 1]:
                return earlier
        return None

    def depends_on(self, number: int) -> list[int]:
        """Phases whose versions of files phase `number` builds on."""
        found = {self.previous(number, path) for path in self.phase_files(number)}
        return sorted(q for q in found if q is not None)

    def overlapping_before(self, number: int) -> list[int]:
        """Earlier phases sharing at least one file with phase `number`."""
        mine = set(self.phase_files(number))
        return [q for q in range(1, number) if mine & set(self.files[q - 1])]

    def planned_through(self, number: int) -> set[str]:
        """Every path planned by phases 1..number."""
        return {path for files in self.files[:number] for path in files}

    def dependents(self, number: int) -> set[int]:
        """Phases that depend on `number`, directly or not."""
        found: set[int] = set()
        for later in range(number + 1, self.count + 1):
            if any(q == number or q in found for q in self.depends_on(later)):
                found.add(later)
        return found

    def file_needs(self, number: int, path: str, mode: str) -> list[str]:
        needs = [concept_key(number)]
        previous = self.previous(number, path)
        if previous is not None:
            needs.append(file_key(previous, path))
        if mode == "waves":  # note 000's plan: all concepts first, overlapping phases in turn
            needs.append(concept_key(self.count))
            needs += [validate_key(q) for q in self.overlapping_before(number)]
        return list(dict.fromkeys(needs))

    def validate_needs(self, number: int) -> list[str]:
        own = [file_key(number, path) for path in self.phase_files(number)]
        return own + [validate_key(q) for q in self.depends_on(number)]
