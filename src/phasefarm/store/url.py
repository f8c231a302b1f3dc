"""`open_store(url)`: a RunStore from the `--store` option.

- `None`: the default, `.phasefarm/runs.sqlite3` in the current folder;
- `sqlite:///relative/path.db`, `sqlite:////absolute/path.db` (SQLAlchemy's spelling: what follows
  `sqlite:///` is the path), or a bare path; `?synchronous=normal` trades power-loss safety of
  the last commits for speed (see `SQLiteStore`). `sqlite:` and `sqlite:path` (no `//`) are
  refused, not taken as a file named so;
- `memory:`: a fresh in-memory store (gone when the process ends);
- `postgres://...` / `postgresql://...`: a Postgres database (needs `phasefarm[postgres]`).
"""

from __future__ import annotations

import re
from pathlib import Path

from phasefarm.errors import StoreRefused
from phasefarm.store.base import RunStore
from phasefarm.store.memory import MemoryStore
from phasefarm.store.postgres import PostgresStore
from phasefarm.store.sqlite import SQLiteStore

__all__ = ["DEFAULT_STORE", "SYNCHRONOUS", "open_store", "sqlite_synchronous", "store_path"]

DEFAULT_STORE = Path(".phasefarm") / "runs.sqlite3"

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_KNOWN_SCHEMES = ("sqlite", "postgres", "postgresql", "file")
SYNCHRONOUS = ("full", "normal")


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


def sqlite_synchronous(url: str | None) -> str:
    """The `synchronous` setting an SQLite URL asks for (`?synchronous=normal`), default full."""
    if url is None or "?" not in url or not url.strip().lower().startswith("sqlite:"):
        return "full"
    query = url.split("?", 1)[1]
    options = dict(part.partition("=")[::2] for part in query.split("&") if part)
    unknown = sorted(set(options) - {"synchronous"})
    if unknown:
        raise StoreRefused(f"bad store URL {url!r}: unknown option(s) {', '.join(unknown)}")
    value = options.get("synchronous", "full").lower()
    if value not in SYNCHRONOUS:
        raise StoreRefused(f"bad store URL {url!r}: synchronous must be full or normal")
    return value


def store_path(url: str | None) -> Path | None:
    """The file an SQLite store URL names, None for a non-file store; StoreError if unusable."""
    if url is None:
        return Path.cwd() / DEFAULT_STORE
    url = url.strip()
    if not url:
        raise StoreRefused("empty store URL")
    if url == "memory:" or url.startswith("memory:"):
        return None
    match = _SCHEME.match(url)
    scheme = match[1].lower() if match and "://" in url else None
    if scheme is None:
        if match and match[1].lower() in _KNOWN_SCHEMES:
            raise StoreRefused(
                f"bad store URL {url!r}: use sqlite:///relative.db, sqlite:////abs.db, "
                "a plain path or postgres://..."
            )
        return Path(url).expanduser()
    if scheme == "sqlite":
        rest = _without_query(url)[len("sqlite://") :]
        if not rest.startswith("/"):
            raise StoreRefused(
                f"bad store URL {url!r}: use sqlite:///relative.db or sqlite:////abs.db"
            )
        path = rest[1:]
        if not path:
            raise StoreRefused(f"bad store URL {url!r}: no file path after sqlite:///")
        return Path(path).expanduser()
    if scheme in ("postgres", "postgresql"):
        return None
    raise StoreRefused(
        f"unknown store URL scheme {scheme!r} in {url!r} (use sqlite:///path or memory:)"
    )


def open_store(url: str | None = None, *, create: bool = True) -> RunStore:
    """The store `url` names (see the module docstring). StoreError if it cannot be used.

    `create=False` is for commands that only read or resume: a missing file is a StoreError
    ("no store at PATH") instead of a new empty store left behind.
    """
    path = store_path(url)
    if path is not None:
        return SQLiteStore(path, create=create, synchronous=sqlite_synchronous(url))
    assert url is not None
    if url.strip().startswith("memory:"):
        return MemoryStore()
    return PostgresStore(url.strip(), create=create)
