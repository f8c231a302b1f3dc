"""Serving an ASGI app with uvicorn in a daemon thread on a loopback address (the fake servers'
lifecycle: bind, start, wait until it answers, stop)."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time

import uvicorn
from starlette.types import ASGIApp

from phasefarm.testing.fake_faults import log_config

__all__ = ["LoopbackServer"]

START_TIMEOUT_S = 10.0


class LoopbackServer:
    """`app` on `host:port` (port 0: the OS picks one); only loopback addresses are accepted."""

    def __init__(self, app: ASGIApp, *, host: str, port: int, name: str) -> None:
        if not ipaddress.ip_address(socket.gethostbyname(host)).is_loopback:
            raise ValueError(f"the fake server only listens on loopback, not {host!r}")
        self.app, self.host, self.name = app, host, name
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    @property
    def listening(self) -> bool:
        return self._socket is not None

    @property
    def port(self) -> int:
        if self._socket is None:
            raise RuntimeError("the server is not started")
        return int(self._socket.getsockname()[1])

    def start(self) -> None:
        """Bind, serve in a thread and return once uvicorn says it has started."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port))
        sock.listen(1024)
        self._socket = sock
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            lifespan="off",
            access_log=False,
            backlog=1024,
            log_config=log_config(),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name=self.name, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the {self.name} server did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Ask uvicorn to exit, wait for its thread (bounded) and close the socket."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=START_TIMEOUT_S)
        if self._socket is not None:
            self._socket.close()
        self._server = None
        self._thread = None
