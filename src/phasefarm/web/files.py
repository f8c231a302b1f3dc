"""Serving a run's generated files (the site, the app preview) from its own output folder only.

A requested path is refused (None: the route answers 404, saying nothing about what exists)
when it is absolute, has an empty, `.` or `..` part, a backslash or a NUL, or when any part
below the run's folder is a symbolic link, even one pointing back inside. The path arrives
percent-decoded once by the server; a doubly encoded `%252e%252e` is a literal name `%2e%2e`,
which does not exist. Last, the resolved file must still be inside the resolved folder.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["CONTENT_POLICY", "safe_file"]

# generated pages are model output: run them in a sandbox with an opaque origin, so a script
# in them can neither read the dashboard's pages nor use its cookie to start or cancel jobs
CONTENT_POLICY = "sandbox allow-scripts allow-forms allow-popups"


def safe_file(root: str | Path, relative: str) -> Path | None:
    """The regular file `relative` names inside `root` (a folder's index.html for a folder),
    or None if there is none or the path is refused."""
    if "\x00" in relative or "\\" in relative or relative.startswith("/"):
        return None
    parts = relative.split("/")
    if parts and parts[-1] == "":
        parts[-1] = "index.html"  # "", "sub/"
    if any(part in ("", ".", "..") for part in parts):
        return None
    try:
        base = Path(root).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    current = base
    for part in parts:
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except (OSError, ValueError):
            return None
        if stat.S_ISLNK(mode):
            return None
    if stat.S_ISDIR(mode):
        current = current / "index.html"
        try:
            mode = os.lstat(current).st_mode
        except OSError:
            return None
    if not stat.S_ISREG(mode):
        return None
    if not current.resolve().is_relative_to(base):
        return None
    return current
