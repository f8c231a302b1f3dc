"""Fixes made to a shared file after a later phase read it, carried into that phase's version.

`implement[k:path]` starts from the version of `path` written by the latest earlier phase j and
does not wait for `validate[j]`, whose fix rounds may then rewrite phase j's version (waiting
would put every shared file's check and fixes on the critical path). The version phase k read
is kept as its *base*; `validate[k]` (which runs after `validate[j]`) compares it with phase j's
final version and, when a fix came in between, merges it into phase k's version with
`git merge-file` (a three-way merge: base, j's final version, k's version). A merge with
conflicts leaves phase k's version as it was and says so; its validation checks it either way.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from phasefarm.pipelines.app.stash import Stash

__all__ = ["carry_fixes", "merge_three"]


def merge_three(ours: str, base: str, theirs: str) -> str | None:
    """`theirs`'s change from `base` applied to `ours`; None when the changes conflict."""
    with tempfile.TemporaryDirectory(prefix="phasefarm-merge-") as tmp:
        names = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            path = Path(tmp) / name
            path.write_text(text, encoding="utf-8")
            names.append(str(path))
        done = subprocess.run(
            ["git", "merge-file", "-p", *names], capture_output=True, text=True, check=False
        )
    return done.stdout if done.returncode == 0 else None


def carry_fixes(stash: Stash, number: int, paths: list[str]) -> tuple[list[str], list[str]]:
    """Merge into phase `number`'s files the fixes earlier phases made after it read them:
    (paths merged, paths whose merge conflicted and were left as they were)."""
    merged: list[str] = []
    conflicts: list[str] = []
    for path in paths:
        base = stash.read_base(number, path)
        found = stash.latest(path, before=number)
        ours = stash.read_version(number, path)
        if base is None or found is None or ours is None or found[1] == base:
            continue
        result = merge_three(ours, base, found[1])
        if result is None:
            conflicts.append(path)
        else:
            stash.write_version(number, path, result)
            merged.append(path)
        stash.write_base(number, path, found[1])  # carried (or tried) once, also after a crash
    return merged, conflicts
