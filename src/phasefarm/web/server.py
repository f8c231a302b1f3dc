"""`phasefarm serve`: bind, print the URL with a fresh token, serve until Ctrl-C."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import uvicorn

from phasefarm.errors import UsageError
from phasefarm.web.app import create_app
from phasefarm.web.runs import RunManager

__all__ = ["WS_MAX", "serve"]

# uvicorn's own cap on one WebSocket frame; the app answers smaller oversized messages with a
# 4413 close and a reason (app.MESSAGE_MAX)
WS_MAX = 64 * 1024


def serve(*, store_url: str | None, host: str, port: int, out_root: Path) -> None:
    """Serve the dashboard; prints `phasefarm serve: URL` (with the token) once listening."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {port}")
    if out_root.exists() and not out_root.is_dir():
        raise UsageError(f"--out {out_root} exists and is not a folder")
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        # listening before the URL is printed: a client that reads it can connect at once
        # (connections wait in the backlog until uvicorn accepts them)
        sock.listen(128)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    token = secrets.token_urlsafe(24)
    manager = RunManager(store_url, out_root)
    app = create_app(manager, token, bind_host=host)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    print(f"phasefarm serve: http://{shown}:{bound}/?token={token}", flush=True)
    print(f"runs started here write into {manager.out_root}; Ctrl-C stops", flush=True)
    config = uvicorn.Config(
        app,
        log_level="warning",
        ws_max_size=WS_MAX,
        ws="websockets-sansio",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[sock])
