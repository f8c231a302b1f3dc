"""Opt-in response cache on disk, keyed by model, task, messages and schema.

One JSON file (or PNG for images) per answer under `cache_dir`, named by the SHA-256 of the key.
Only validated answers are stored. The files hold the model's answer, its model name and token
counts, never a key (keys are not part of anything the cache sees).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from phasefarm.files import atomic_write
from phasefarm.llm.provider import Message, Usage

__all__ = ["CachedText", "ResponseCache", "cache_key"]

_VERSION = 1


def cache_key(
    *,
    kind: str,
    source: str,
    model: str,
    task: str,
    messages: Sequence[Message] = (),
    schema: str = "",
    extra: str = "",
) -> str:
    payload = json.dumps(
        {
            "v": _VERSION,
            "kind": kind,
            "source": source,
            "model": model,
            "task": task,
            "messages": [dict(m) for m in messages],
            "schema": schema,
            "extra": extra,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


@dataclass(frozen=True)
class CachedText:
    text: str
    usage: Usage
    model: str


class ResponseCache:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.directory)!r})"

    def _path(self, key: str, suffix: str) -> Path:
        return self.directory / key[:2] / f"{key}{suffix}"

    def _write(self, path: Path, data: bytes) -> None:
        atomic_write(path, data)

    def get_text(self, key: str) -> CachedText | None:
        path = self._path(key, ".json")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            found = CachedText(
                text=str(data["text"]),
                usage=Usage(int(data["prompt_tokens"]), int(data["completion_tokens"])),
                model=str(data["model"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None
        self.hits += 1
        return found

    def put_text(self, key: str, text: str, usage: Usage, model: str) -> None:
        record = {
            "text": text,
            "model": model,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
        }
        self._write(self._path(key, ".json"), json.dumps(record, ensure_ascii=False).encode())

    def get_image(self, key: str) -> bytes | None:
        try:
            data = self._path(key, ".png").read_bytes()
        except OSError:
            self.misses += 1
            return None
        self.hits += 1
        return data

    def put_image(self, key: str, png: bytes) -> None:
        self._write(self._path(key, ".png"), png)
