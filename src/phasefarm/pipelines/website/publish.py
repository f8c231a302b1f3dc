"""Writing the site: a draft folder inside `--out`, then file-by-file atomic publication.

Nothing is ever written outside `--out`: every path is resolved and refused (BadOutput) if it
leaves the folder. The `assemble` phase writes the whole site into a fresh draft folder
(`.phasefarm-draft-*`) inside `--out`; the `check` phase verifies the draft and only then moves
each file into place with `os.replace` (atomic per file) and writes the manifest last. A run
that dies half-way leaves a draft, never a half-written page at a published path; a site that
fails its check stays a draft, and the error says where it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict

from phasefarm.errors import BadOutput
from phasefarm.files import atomic_write

__all__ = [
    "DRAFT_PREFIX",
    "MANIFEST",
    "SiteDraft",
    "SiteReport",
    "inside",
    "publish",
    "recover_draft",
    "write_draft",
]

DRAFT_PREFIX = ".phasefarm-draft-"
MANIFEST = ".phasefarm-site.json"


class SiteDraft(BaseModel):
    """What `assemble` wrote: the draft folder (relative to `--out`) and each file's sha256."""

    model_config = ConfigDict(frozen=True)

    draft: str
    files: dict[str, str]


class SiteReport(BaseModel):
    """The published site."""

    model_config = ConfigDict(frozen=True)

    out: str
    files: list[str]
    pages: list[str]
    images: int
    removed: list[str]


def inside(root: Path, relative: str, *, base: Path | None = None) -> Path:
    """`root / relative`, refusing absolute paths, `..`, backslashes and symlink escapes.

    `base` is `root.resolve()` when the caller already has it (one resolve per folder, not
    per file).
    """
    pure = PurePosixPath(relative)
    if (
        not relative
        or not pure.parts
        or "\\" in relative
        or "\x00" in relative
        or pure.is_absolute()
        or any(part in {"..", ""} for part in pure.parts)
    ):
        raise BadOutput(f"refusing to write {relative!r}: not a plain path inside the site")
    base = base or root.resolve()
    # The parent is resolved (a symlinked folder could lead elsewhere); the file itself is
    # then a plain name in it.
    parent = (base / pure.parent).resolve() if pure.parent != PurePosixPath(".") else base
    if not parent.is_relative_to(base):
        raise BadOutput(f"refusing to write {relative!r}: it resolves outside {root}")
    target = parent / pure.name
    if target.is_symlink() and not target.resolve().is_relative_to(base):
        raise BadOutput(f"refusing to write {relative!r}: it is a link out of {root}")
    return target


def write_draft(out: Path, files: dict[str, bytes]) -> SiteDraft:
    """Write `files` into a new draft folder inside `out`."""
    out.mkdir(parents=True, exist_ok=True)
    base = out.resolve()
    for relative in files:  # every path is checked before anything is written
        inside(out, relative, base=base)
    # Drafts of earlier attempts (a crash mid-write, a site that failed its check) go: only one
    # run writes into a folder at a time, and only folders with our prefix are touched.
    for stale in base.glob(f"{DRAFT_PREFIX}*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
    draft = Path(tempfile.mkdtemp(prefix=DRAFT_PREFIX, dir=base))
    digests: dict[str, str] = {}
    # No fsync per file: a draft is only published after `check` has re-read every file and
    # compared its sha256, so a file cut short by a crash is caught there, not published.
    for relative, data in sorted(files.items()):
        target = draft / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        digests[relative] = hashlib.sha256(data).hexdigest()
    return SiteDraft(draft=draft.name, files=digests)


def recover_draft(out: Path, draft: SiteDraft) -> Path:
    """The draft folder, complete again after a publish that was cut short.

    If a crash stopped `publish` half-way, some files were already moved into `out`: those
    whose content is exactly what was rendered are copied back, so the check sees the whole
    site and publishing again is harmless. Anything else missing stays missing (and the check
    says so).
    """
    base = out.resolve()
    folder = inside(out, draft.draft, base=base)
    for relative, digest in draft.files.items():
        staged = folder / relative
        if staged.exists():
            continue
        published = inside(out, relative, base=base)
        if published.is_file() and hashlib.sha256(published.read_bytes()).hexdigest() == digest:
            staged.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(published, staged)
    return folder


def _previous_files(out: Path) -> list[str]:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = data.get("files") if isinstance(data, dict) else None
    return [f for f in files if isinstance(f, str)] if isinstance(files, list) else []


def publish(out: Path, draft: SiteDraft) -> SiteReport:
    """Move a checked draft's files into `out`; remove files only an earlier site of ours wrote."""
    base = out.resolve()
    source = inside(out, draft.draft, base=base)
    for relative in sorted(draft.files):
        target = inside(out, relative, base=base)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(source / relative, target)
    removed: list[str] = []
    for relative in _previous_files(out):
        if relative in draft.files:
            continue
        try:
            stale = inside(out, relative, base=base)
        except BadOutput:
            continue  # a tampered manifest must not make us delete anything outside
        if stale.is_file():
            stale.unlink()
            removed.append(relative)
    manifest = json.dumps({"files": sorted(draft.files), "sha256": draft.files}, indent=1)
    atomic_write(out / MANIFEST, (manifest + "\n").encode("utf-8"))
    shutil.rmtree(source, ignore_errors=True)
    files = sorted(draft.files)
    return SiteReport(
        out=str(out),
        files=files,
        pages=[f for f in files if f.endswith(".html")],
        images=sum(1 for f in files if f.endswith(".png")),
        removed=removed,
    )
