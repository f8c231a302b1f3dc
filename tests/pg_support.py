"""A private, real Postgres server for the store tests: started once per test session.

It listens only on a Unix socket in its own temporary folder (no TCP port to collide with), and
is stopped when the test process exits. Tests that need it are skipped when Postgres's server
binaries or psycopg are not installed. Postgres refuses to run as root: as root the server runs
as the `postgres` user.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PORT = 5439
_counter = itertools.count()


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def _server_binary(name: str) -> str | None:
    """On PATH, or where Debian's postgresql packages put it (not on PATH by default)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    return str(candidates[0]) if candidates else None


@functools.cache
def _cluster() -> str | None:
    """The folder of the running server's socket, or None if Postgres is not available."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None
    initdb, pg_ctl = _server_binary("initdb"), _server_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        return None
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            return None
    root = Path(tempfile.mkdtemp(prefix="phasefarm-pg-"))
    root.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(root, user.pw_uid, user.pw_gid)
    data = root / "data"
    subprocess.run(
        _as_server_user([initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    options = f"-k {root} -c listen_addresses='' -p {PORT} -c fsync=off"
    subprocess.run(
        _as_server_user(
            [pg_ctl, "-D", str(data), "-o", options, "-w", "-l", str(root / "log"), "start"]
        ),
        check=True,
        capture_output=True,
    )

    def stop() -> None:
        subprocess.run(
            _as_server_user([pg_ctl, "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)

    atexit.register(stop)
    return str(root)


def new_database() -> str:
    """The URL of a fresh, empty database on the test server (skips the test without one)."""
    socket_dir = _cluster()
    if socket_dir is None:
        if os.environ.get("PHASEFARM_REQUIRE_POSTGRES"):
            pytest.fail("Postgres server binaries or psycopg not installed, and CI requires them")
        pytest.skip("Postgres server binaries or psycopg not installed")
    import psycopg

    name = f"t{os.getpid()}_{next(_counter)}"
    admin = f"postgresql://postgres@/postgres?host={socket_dir}&port={PORT}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@/{name}?host={socket_dir}&port={PORT}"
