"""Commits in roadmap order, whatever order the phases finish in.

Each app phase ends by writing its outcome (`ok` or `failed`) to the stash; then `advance()`
commits every phase it can: walking the roadmap from phase 1, a committed phase is passed, an
ok phase is committed, a failed or skipped one (it depends on a failed phase) is passed without
a commit, and the walk stops at the first phase not settled yet. A later phase that finished
first waits there, and is committed by whichever phase settles the gap. Chaining commit phases
in the engine would instead skip every later commit after one failure.

Resume-safe: what is committed is read back from git (the trailer), outcomes from the stash,
so after `kill -9` no phase is committed twice and none is forgotten (`advance()` also runs
when the job's services are built, for a run whose last phase ended just before the kill).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from phasefarm.pipelines.app.gitrepo import GitRepo
from phasefarm.pipelines.app.roadmap import Roadmap
from phasefarm.pipelines.app.stash import Stash

__all__ = ["GITIGNORE", "Committer", "Progress"]

GITIGNORE = "preview/\n"


@dataclass(frozen=True)
class Progress:
    done: int
    failed: int
    skipped: int
    total: int

    @property
    def complete(self) -> bool:
        """Every phase settled: succeeded, failed or skipped."""
        return self.total > 0 and self.done + self.failed + self.skipped == self.total

    def as_event(self) -> dict[str, int]:
        return {
            "done": self.done,
            "failed": self.failed,
            "skipped": self.skipped,
            "total": self.total,
        }


class Committer:
    def __init__(self, stash: Stash, git: GitRepo, roadmap: Callable[[], Roadmap | None]) -> None:
        self.stash = stash
        self.git = git
        self._roadmap = roadmap
        self._lock = threading.Lock()  # commits come from phase bodies, in worker threads
        self._committed: set[str] | None = None  # trailers on the branch, read once

    def committed(self) -> set[str]:
        if self._committed is None:
            self._committed = set(self.git.trailers())
        return self._committed

    def _start(self, subject: str, body: str) -> None:
        """The repository and its first commit (the ignore file), once (lock held)."""
        self.git.init()
        if self.git.head() is None:
            self.stash.write_version(0, ".gitignore", GITIGNORE)
            self.git.commit_files(
                {".gitignore": self.stash.version_path(0, ".gitignore")},
                subject=subject,
                body=body,
                tag="start",
            )

    def commit(self, files: dict[str, Path], subject: str, body: str, tag: str) -> None:
        """A commit tagged `tag`, unless the branch has one already (after a crash)."""
        with self._lock:
            if tag not in self.committed():
                self.git.commit_files(files, subject=subject, body=body, tag=tag)
                self.committed().add(tag)

    def statuses(self) -> dict[int, str]:
        """ok / failed / skipped per settled phase (unsettled phases are absent)."""
        roadmap = self._roadmap()
        if roadmap is None:
            return {}
        found: dict[int, str] = {}
        for number in range(1, roadmap.count + 1):
            outcome = self.stash.outcome(number)
            if outcome is not None:
                found[number] = str(outcome.get("status"))
        for number, status in list(found.items()):
            if status != "failed":
                continue
            cascade = self.stash.outcome(number) or {}
            doomed = (
                set(range(number + 1, roadmap.count + 1))
                if cascade.get("all_later")
                else roadmap.dependents(number)
            )
            for later in doomed:
                if found.get(later) != "failed":
                    found[later] = "skipped"
        return found

    def progress(self) -> Progress:
        statuses = self.statuses()
        roadmap = self._roadmap()
        values = list(statuses.values())
        return Progress(
            done=values.count("ok"),
            failed=values.count("failed"),
            skipped=values.count("skipped"),
            total=roadmap.count if roadmap else 0,
        )

    def advance(self) -> list[int]:
        """Commit every phase that can be committed now; returns their numbers."""
        roadmap = self._roadmap()
        if roadmap is None:
            return []
        blueprint = self.stash.load_model("blueprint") or {}
        with self._lock:
            self._start(
                f"Start {blueprint.get('title', 'the app')}", str(blueprint.get("description", ""))
            )
            statuses = self.statuses()
            committed = self.committed()
            made: list[int] = []
            for number in range(1, roadmap.count + 1):
                if str(number) in committed:
                    continue
                status = statuses.get(number)
                if status is None:
                    break
                if status != "ok":
                    continue
                outcome = self.stash.outcome(number) or {}
                files = {
                    path: self.stash.version_path(number, path)
                    for path in roadmap.phase_files(number)
                }
                self.git.commit_files(
                    files,
                    subject=f"Phase {number}: {roadmap.names[number - 1]}",
                    body=str(outcome.get("summary", "")),
                    tag=str(number),
                )
                committed.add(str(number))
                made.append(number)
            return made
