"""The deploy queue and the preview server.

`DeployQueue`: one deployer copies files of the work tree to `DIR/preview`, one deploy at a
time. A request that arrives while a deploy runs joins the next deploy, which carries the files
of every request folded into it; `request()` returns once a deploy holding all its files has
finished. (Note 000's mutex drops a deploy that finds the sandbox busy; here none is dropped.)

`PreviewServer`: serves the preview folder on 127.0.0.1 on a free port, in a thread.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Iterable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from phasefarm.pipelines.app.workspace import write_file

__all__ = ["DeployQueue", "PreviewServer"]


class DeployQueue:
    def __init__(self, source: Path, target: Path) -> None:
        self.source = source
        self.target = target
        self.deploys: list[frozenset[str]] = []  # the files of each deploy, in order
        self._pending: dict[str, None] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._worker: asyncio.Task[None] | None = None

    async def request(self, paths: Iterable[str]) -> None:
        """Deploy these files (with whatever else is waiting); return when they are live."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._pending.update(dict.fromkeys(paths))
        self._waiters.append(waiter)
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())
        await waiter

    async def _drain(self) -> None:
        while self._waiters:
            paths, waiters = list(self._pending), self._waiters
            self._pending, self._waiters = {}, []
            try:
                await asyncio.to_thread(self._copy, paths)
            except Exception as exc:
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(exc)
                continue
            self.deploys.append(frozenset(paths))
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def _copy(self, paths: list[str]) -> None:
        self.target.mkdir(parents=True, exist_ok=True)
        for path in sorted(paths):
            source = self.source / path
            if source.is_file():
                write_file(self.target, path, source.read_bytes())


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return None


class PreviewServer:
    """`with PreviewServer(folder) as server: server.url`."""

    def __init__(self, folder: Path, host: str = "127.0.0.1", port: int = 0) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        handler = functools.partial(_QuietHandler, directory=str(folder))
        self._server = ThreadingHTTPServer((host, port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def __enter__(self) -> PreviewServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
