"""`AppProject`: the output folder of one app run, as the phases see it (a service).

It ties together the stash (work between phases), the git repository, the committer and the
deploy queue, and gives a phase the app as it stands after a given roadmap phase.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from phasefarm import PhaseContext
from phasefarm.pipelines.app.committer import Committer, Progress
from phasefarm.pipelines.app.deploy import DeployQueue
from phasefarm.pipelines.app.gitrepo import GitRepo
from phasefarm.pipelines.app.roadmap import Roadmap
from phasefarm.pipelines.app.schemas import Blueprint
from phasefarm.pipelines.app.stash import Stash
from phasefarm.pipelines.app.validate import find_node

__all__ = ["AppProject"]


class AppProject:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.stash = Stash(out)
        self.git = GitRepo(out)
        self.committer = Committer(self.stash, self.git, self.roadmap)
        self.deploy = DeployQueue(out, out / "preview")
        self.node = find_node()
        self._roadmap: Roadmap | None = None

    def blueprint(self) -> Blueprint | None:
        data = self.stash.load_model("blueprint")
        return None if data is None else Blueprint.model_validate(data)

    def roadmap(self) -> Roadmap | None:
        if self._roadmap is None:
            blueprint = self.blueprint()
            if blueprint is not None:
                self._roadmap = Roadmap.from_blueprint(blueprint)
        return self._roadmap

    def start(self, blueprint: Blueprint) -> None:
        """Keep the blueprint (the repository is made by the first commit, off this path)."""
        self.stash.save_model("blueprint", blueprint)
        self._roadmap = Roadmap.from_blueprint(blueprint)

    def view(self, number: int) -> dict[str, str]:
        """Every file planned by phases 1..number, at its newest version from those phases."""
        roadmap = self.roadmap()
        assert roadmap is not None
        files: dict[str, str] = {}
        for path in sorted(roadmap.planned_through(number)):
            own = self.stash.read_version(number, path)
            if own is not None:
                files[path] = own
                continue
            found = self.stash.latest(path, before=number)
            if found is not None:
                files[path] = found[1]
        return files

    async def settle(self, ctx: PhaseContext | None) -> Progress:
        """Commit what can be committed, deploy it, and report progress."""

        def commit() -> tuple[list[int], Progress]:  # one trip to a worker thread
            return self.committer.advance(), self.committer.progress()

        made, progress = await asyncio.to_thread(commit)
        roadmap = self.roadmap()
        if made and roadmap is not None:
            await self.deploy.request(p for number in made for p in roadmap.phase_files(number))
        if ctx is not None:
            ctx.emit("app.progress", **progress.as_event())
        return progress

    def settled_view(self) -> dict[str, str]:
        """The app as the phase commits leave it: each file at its newest ok phase's version."""
        roadmap = self.roadmap()
        assert roadmap is not None
        files: dict[str, str] = {}
        for number, status in sorted(self.committer.statuses().items()):
            if status != "ok":
                continue
            for path in roadmap.phase_files(number):
                content = self.stash.read_version(number, path)
                if content is not None:
                    files[path] = content
        return files

    async def aclose(self) -> None:
        return None
