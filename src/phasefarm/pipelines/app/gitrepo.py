"""The app's git repository, driven with real `git` subprocesses.

Commits are made with plumbing (`hash-object`, `update-index` on a private index file,
`write-tree`, `commit-tree`, `update-ref`) from the exact bytes a phase wrote, so a commit holds
that phase's versions even when a later phase has already rewritten the same file; the work tree
is then reset to the new commit. Author, committer and dates are fixed: the same run gives the
same commit ids. Each phase commit carries a `Phasefarm-Phase:` trailer, which is how a resumed
run knows what is committed already.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from phasefarm.errors import PhasefarmError

__all__ = ["TRAILER", "GitError", "GitRepo", "enclosing_work_tree", "git_available"]

TRAILER = "Phasefarm-Phase"
_TRAILER_LINE = re.compile(rf"^{TRAILER}: (\S+)$", re.MULTILINE)
FIXED_DATE = "2001-01-01T00:00:00+0000"
IDENTITY = {
    "GIT_AUTHOR_NAME": "phasefarm",
    "GIT_AUTHOR_EMAIL": "phasefarm@localhost",
    "GIT_AUTHOR_DATE": FIXED_DATE,
    "GIT_COMMITTER_NAME": "phasefarm",
    "GIT_COMMITTER_EMAIL": "phasefarm@localhost",
    "GIT_COMMITTER_DATE": FIXED_DATE,
}
BRANCH = "main"


class GitError(PhasefarmError):
    """A git command failed (its stderr is in the message)."""


def git_available() -> bool:
    return shutil.which("git") is not None


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(IDENTITY)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env.update(extra or {})
    return env


def enclosing_work_tree(folder: Path) -> Path | None:
    """The top of the git work tree `folder` (or its nearest existing parent) is in, if any."""
    probe = folder
    while not probe.exists():
        probe = probe.parent
    done = subprocess.run(
        ["git", "rev-parse", "--show-toplevel"],
        cwd=probe,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


class GitRepo:
    """The only writer of the repository's branch in a run (the head is cached)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._head: str | None = None

    def git(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", *args],
            cwd=self.root,
            env=_env(env),
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise GitError(f"git {args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def init(self) -> None:
        if not (self.root / ".git" / "HEAD").is_file():  # .git/phasefarm may exist already
            self.root.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", "-b", BRANCH)

    def head(self) -> str | None:
        if self._head is None and (self.root / ".git" / "HEAD").is_file():
            try:
                found = self.git("rev-parse", "-q", "--verify", f"refs/heads/{BRANCH}").strip()
            except GitError:
                found = ""
            self._head = found or None
        return self._head

    def trailers(self) -> list[str]:
        """The `Phasefarm-Phase` values on the branch, oldest first."""
        if self.head() is None:
            return []
        log = self.git("log", "--reverse", "--format=%B%x00", BRANCH)
        found: list[str] = []
        for message in log.split("\x00"):
            match = _TRAILER_LINE.search(message)
            if match:
                found.append(match.group(1))
        return found

    def log(self) -> list[tuple[str, str]]:
        """(commit id, subject) on the branch, oldest first."""
        if self.head() is None:
            return []
        lines = self.git("log", "--reverse", "--format=%H %s", BRANCH).splitlines()
        return [(line[:40], line[41:]) for line in lines]

    def commit_files(self, files: dict[str, Path], subject: str, body: str, tag: str) -> str:
        """Commit HEAD's tree plus `files` (path in the repo -> file holding its bytes)."""
        parent = self.head()
        index = self.root / ".git" / "phasefarm-index"
        index.unlink(missing_ok=True)
        env = {"GIT_INDEX_FILE": str(index)}
        if parent is not None:
            self.git("read-tree", parent, env=env)
        if files:
            paths = sorted(files)
            shas = self.git("hash-object", "-w", "--", *(str(files[p]) for p in paths), env=env)
            lines = [f"100644 {sha}\t{path}" for sha, path in zip(shas.split(), paths, strict=True)]
            self.git(
                "update-index", "--add", "--index-info", stdin="\n".join(lines) + "\n", env=env
            )
        tree = self.git("write-tree", env=env).strip()
        index.unlink(missing_ok=True)
        message = (
            f"{subject}\n\n{body.strip()}\n\n{TRAILER}: {tag}\n"
            if body.strip()
            else (f"{subject}\n\n{TRAILER}: {tag}\n")
        )
        args = ["commit-tree", tree, "-F", "-"]
        if parent is not None:
            args[2:2] = ["-p", parent]
        commit = self.git(*args, stdin=message).strip()
        self.git("update-ref", f"refs/heads/{BRANCH}", commit, *([parent] if parent else []))
        self._head = commit
        self.sync_work_tree()
        return commit

    def sync_work_tree(self) -> None:
        """Make the work tree the branch's last commit (a crash may have left it behind)."""
        if self.head() is not None:
            self.git("reset", "-q", "--hard", BRANCH)

    def show(self, path: str, rev: str = BRANCH) -> str | None:
        try:
            return self.git("show", f"{rev}:{path}")
        except GitError:
            return None

    def tree_paths(self, rev: str = BRANCH) -> list[str]:
        if self.head() is None:
            return []
        return self.git("ls-tree", "-r", "--name-only", rev).splitlines()
