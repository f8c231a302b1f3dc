"""`open_store(url)`: a RunStore from the `--store` option.

- `None`: the default, `.phasefarm/runs.sqlite3` in the current folder;
- `sqlite:///relative/path.db`, `sqlite:////absolute/path.db` (SQLAlchemy's spelling: what follows
  `sqlite:///` is the path), or a bare path;
- `memory:`: a fresh in-memory store (gone when the process ends);
- `postgres://...` / `postgresql://...`: a Postgres database (needs `phasefarm[postgres]`).
"""

from __future__ import annotations

import re
from pathlib import Path

from phasefarm.errors import StoreError
from phasefarm.store.base import RunStore
from phasefarm.store.memory import MemoryStore
from phasefarm.store.postgres import PostgresStore
from phasefarm.store.sqlite import SQLiteStore

__all__ = ["DEFAULT_STORE", "open_store", "store_path"]

DEFAULT_STORE = Path(".phasefarm") / "runs.sqlite3"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def store_path(url: str | None) -> Path | None:
    """The file an SQLite store URL names, None for a non-file store; StoreError if unusable."""
    if url is None:
        return Path.cwd() / DEFAULT_STORE
    url = url.strip()
    if not url:
        raise StoreError("empty store URL")
    if url == "memory:" or url.startswith("memory:"):
        return None
    match = _SCHEME.match(url)
    scheme = match[1].lower() if match and "://" in url else None
    if scheme is None:
        return Path(url).expanduser()
    if scheme == "sqlite":
        rest = url[len("sqlite://") :]
        if not rest.startswith("/"):
            raise StoreError(
                f"bad store URL {url!r}: use sqlite:///relative.db or sqlite:////abs.db"
            )
        path = rest[1:]
        if not path:
            raise StoreError(f"bad store URL {url!r}: no file path after sqlite:///")
        return Path(path).expanduser()
    if scheme in ("postgres", "postgresql"):
        return None
    raise StoreError(
        f"unknown store URL scheme {scheme!r} in {url!r} (use sqlite:///path or memory:)"
    )


def open_store(url: str | None = None, *, create: bool = True) -> RunStore:
    """The store `url` names (see the module docstring). StoreError if it cannot be used.

    `create=False` is for commands that only read or resume: a missing file is a StoreError
    ("no store at PATH") instead of a new empty store left behind.
    """
    path = store_path(url)
    if path is not None:
        return SQLiteStore(path, create=create)
    assert url is not None
    if url.strip().startswith("memory:"):
        return MemoryStore()
    return PostgresStore(url.strip(), create=create)
