"""What the app job keeps between phases and across a crash, in `DIR/.git/phasefarm/`.

Phases of the run get each other's work through here, not through arguments: a concept reads
the earlier concepts, a file call reads the previous version of its file, the committer reads
the versions of a phase. Everything is written before the phase that made it returns, so a
phase re-run after `kill -9` finds its work done and makes no model call again. It lives inside
`.git`, so it is never part of the app, its commits or its preview.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from phasefarm.pipelines.app.workspace import write_file

__all__ = ["Stash"]


class Stash:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.root = out / ".git" / "phasefarm"

    def _read_json(self, rel: str) -> Any:
        path = self.root / rel
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def _write_json(self, rel: str, value: Any) -> None:
        write_file(self.root, rel, json.dumps(value, indent=1, sort_keys=True).encode())

    # -- blueprint and concepts ---------------------------------------------------------

    def save_model(self, name: str, value: BaseModel) -> None:
        self._write_json(f"{name}.json", value.model_dump(mode="json"))

    def load_model(self, name: str) -> dict[str, Any] | None:
        data = self._read_json(f"{name}.json")
        return data if isinstance(data, dict) else None

    # -- file versions: versions/<phase>/<path> -----------------------------------------

    def version_path(self, number: int | str, path: str) -> Path:
        return self.root / "versions" / str(number) / path

    def write_version(self, number: int | str, path: str, content: str) -> None:
        write_file(self.root, f"versions/{number}/{path}", content.encode("utf-8"))

    def read_version(self, number: int | str, path: str) -> str | None:
        target = self.version_path(number, path)
        return target.read_text(encoding="utf-8") if target.is_file() else None

    def latest(self, path: str, before: int) -> tuple[int, str] | None:
        """The newest version of `path` written by a phase before `before`."""
        for number in range(before - 1, 0, -1):
            content = self.read_version(number, path)
            if content is not None:
                return number, content
        return None

    # -- outcomes: records/<phase>.json -------------------------------------------------

    def record(self, number: int, **outcome: Any) -> None:
        self._write_json(f"records/{number}.json", outcome)

    def outcome(self, number: int) -> dict[str, Any] | None:
        data = self._read_json(f"records/{number}.json")
        return data if isinstance(data, dict) else None
