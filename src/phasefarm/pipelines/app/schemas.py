"""The JSON schemas of the app job: what each model call must answer.

Every constraint an answer must meet is in the schema sent to the model (lengths, patterns,
enums, exact counts); `blueprint_schema(n)` and `concept_schema(paths)` are built per call so
the count of phases and the paths a concept may name are part of the contract. What a schema
cannot say (no path twice in one phase, reserved folders) is checked in `roadmap.py`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

__all__ = [
    "MAX_PHASES",
    "PATH_PATTERN",
    "AppPath",
    "Blueprint",
    "CheckReport",
    "FileContent",
    "FilePlan",
    "Palette",
    "PhaseConcept",
    "Problem",
    "RoadmapPhase",
    "View",
    "blueprint_schema",
    "concept_schema",
]

MAX_PHASES = 10
MAX_FILE_CHARS = 60_000
# Relative, lower-case, no dot-folders (so no `.git`), no `..`, no drive letter, one of the
# four kinds of file a static app without a build step is made of. (Not under preview/ is in
# the description only: look-ahead is not in the regex dialect every server accepts; the code
# refuses it, see workspace.py.)
PATH_PATTERN = r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*\.(html|css|js|json)$"
_HEX = r"^#[0-9a-f]{6}$"
_SLUG = r"^[a-z][a-z0-9-]{0,23}$"

AppPath = Annotated[str, Field(pattern=PATH_PATTERN, max_length=120)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Palette(_Model):
    """Colours as #rrggbb; text must read on background and surface."""

    background: str = Field(pattern=_HEX)
    surface: str = Field(pattern=_HEX)
    text: str = Field(pattern=_HEX)
    muted: str = Field(pattern=_HEX)
    accent: str = Field(pattern=_HEX)


class View(_Model):
    """One screen of the app, reached at `#/<id>`; its module is `js/views/<id>.js`."""

    id: str = Field(pattern=_SLUG, description="lower-case id, used in the URL and file name")
    title: str = Field(min_length=1, max_length=40)
    purpose: str = Field(min_length=1, max_length=300)


class RoadmapPhase(_Model):
    name: str = Field(min_length=1, max_length=60)
    description: str = Field(min_length=1, max_length=400)
    files: list[AppPath] = Field(
        min_length=1,
        max_length=6,
        description="files this phase creates or changes, each once; not under preview/",
    )


class Blueprint(_Model):
    title: str = Field(min_length=1, max_length=60)
    description: str = Field(min_length=1, max_length=400)
    palette: Palette
    views: list[View] = Field(min_length=1, max_length=8)
    user_flow: list[str] = Field(min_length=1, max_length=8)
    architecture: str = Field(min_length=1, max_length=1200)
    pitfalls: list[str] = Field(min_length=0, max_length=8)
    roadmap: list[RoadmapPhase] = Field(min_length=1, max_length=MAX_PHASES)


def blueprint_schema(phases: int) -> type[Blueprint]:
    """The blueprint with a roadmap of exactly `phases` phases (the user's --phases)."""
    model: type[Blueprint] = create_model(
        "Blueprint",
        __base__=Blueprint,
        roadmap=(list[RoadmapPhase], Field(min_length=phases, max_length=phases)),
    )
    return model


class FilePlan(_Model):
    path: str
    purpose: str = Field(min_length=1, max_length=300)
    changes: str = Field(min_length=1, max_length=800)


class PhaseConcept(_Model):
    """The plan of one roadmap phase (its name and files are the roadmap's)."""

    summary: str = Field(min_length=1, max_length=200, description="one line: the commit message")
    files: list[FilePlan]


def concept_schema(paths: list[str]) -> type[PhaseConcept]:
    """A concept that plans exactly the roadmap's files of its phase, each by an enum path."""
    file_plan: type[FilePlan] = create_model(
        "FilePlan",
        __base__=FilePlan,
        path=(Literal[tuple(paths)], ...),  # type: ignore[arg-type]
    )
    model: type[PhaseConcept] = create_model(
        "PhaseConcept",
        __base__=PhaseConcept,
        files=(list[file_plan], Field(min_length=len(paths), max_length=len(paths))),  # type: ignore[valid-type]
    )
    return model


class FileContent(_Model):
    """The whole new content of one file."""

    content: str = Field(min_length=1, max_length=MAX_FILE_CHARS)


class Problem(_Model):
    file: str = Field(pattern=PATH_PATTERN, max_length=120)
    problem: str = Field(min_length=1, max_length=400)
    fix: str = Field(min_length=1, max_length=400)


class CheckReport(_Model):
    """Problems found (an empty list when there are none)."""

    problems: list[Problem] = Field(max_length=20)
