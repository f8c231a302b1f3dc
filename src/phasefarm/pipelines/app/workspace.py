"""Workspace safety: every generated path is checked before a byte is written.

`safe_relpath` normalizes a path a model gave and refuses absolute paths, `..`, drive letters,
NUL bytes, backslashes, anything under `.git` and the folders the job keeps for itself.
`write_file` writes inside a root only: no component of the target may be a symbolic link
(a link could point anywhere), the resolved target must stay inside the root, and the bytes
go in with `phasefarm.files.atomic_write`, so a reader never sees half a file.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from phasefarm.errors import BadOutput
from phasefarm.files import atomic_write

__all__ = ["RESERVED", "UnsafePath", "safe_relpath", "write_file"]

RESERVED = (".git", "preview")  # git's own folder, and where the deploy queue copies the app
_DRIVE = re.compile(r"^[A-Za-z]:")


class UnsafePath(BadOutput):
    """A generated path that would leave the workspace or touch what is not the app's."""


def safe_relpath(path: str) -> str:
    """The normalized relative POSIX path, or UnsafePath saying why not."""
    if not isinstance(path, str) or not path.strip():
        raise UnsafePath("empty path")
    if "\x00" in path:
        raise UnsafePath(f"path {path!r} contains a NUL byte")
    if "\\" in path:
        raise UnsafePath(f"path {path!r} contains a backslash")
    if _DRIVE.match(path):
        raise UnsafePath(f"path {path!r} starts with a drive letter")
    if path.startswith("/"):
        raise UnsafePath(f"path {path!r} is absolute")
    parts = path.split("/")
    if ".." in parts:
        raise UnsafePath(f"path {path!r} goes up with '..'")
    normal = posixpath.normpath(path)
    if normal in ("", "."):
        raise UnsafePath(f"path {path!r} names no file")
    first = normal.split("/")[0]
    if first.lower() in RESERVED or ".git" in (p.lower() for p in normal.split("/")):
        raise UnsafePath(f"path {path!r} is under {first}/, which the job keeps for itself")
    return normal


def _check_inside(root: Path, target: Path) -> None:
    current = root
    for part in target.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            raise UnsafePath(f"{current.relative_to(root)} is a symbolic link: not written")
    resolved_root = root.resolve()
    parent = target.parent.resolve()
    if parent != resolved_root and resolved_root not in parent.parents:
        raise UnsafePath(f"{target.relative_to(root)} resolves outside {root}")


def write_file(root: Path, relpath: str, data: bytes) -> Path:
    """Write `data` at root/relpath (checked first, nothing written when refused)."""
    rel = safe_relpath(relpath)
    target = root / rel
    _check_inside(root, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _check_inside(root, target)  # a link could have appeared among the folders just made
    atomic_write(target, data)
    return target
