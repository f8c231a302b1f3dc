"""The dashboard's routes: pages, the JSON API, the event WebSocket and generated files.

Security (docs/web.md): every route but /static needs the token printed with the URL (a
cookie set on the first visit, or `Authorization: Bearer`, `X-Phasefarm-Token` or `?token=`
for other clients): missing 401, wrong 403, nothing changed. Requests that change something and
the WebSocket also need a same-host Origin (when the client sends one) and a known Host
(against DNS rebinding). Bodies and WebSocket messages are size-limited. Generated files are
served from the run's own folder only (files.py), in a sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterator, Mapping
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from phasefarm.errors import UsageError
from phasefarm.store.eventlog import events_json
from phasefarm.web.files import CONTENT_POLICY, safe_file
from phasefarm.web.runs import RunManager, UnknownRun, parse_request
from phasefarm.web.stream import event_batches

__all__ = ["BODY_MAX", "MESSAGE_MAX", "create_app", "token_cookie"]

BODY_MAX = 16 * 1024  # bytes of a form or JSON body
MESSAGE_MAX = 4 * 1024  # bytes of a WebSocket message from a client
PAGE_POLICY = (
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
STATIC = files("phasefarm.web").joinpath("static")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def token_cookie(conn: HTTPConnection) -> str:
    """The cookie's name: one per port, as browsers share cookies between the ports of a host
    and two servers may run side by side."""
    return f"phasefarm_token_{conn.url.port or 80}"


class Refused(Exception):
    """A request turned away: HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse(
        {"error": reason}, status_code=status, headers={"Cache-Control": "no-store"}
    )


def create_app(manager: RunManager, token: str, *, bind_host: str = "127.0.0.1") -> Starlette:
    """The Starlette app; `token` is the secret printed in the URL."""

    def check_token(conn: HTTPConnection) -> None:
        given = (
            conn.headers.get("x-phasefarm-token")
            or _bearer(conn.headers.get("authorization"))
            or conn.query_params.get("token")
            or conn.cookies.get(token_cookie(conn))
        )
        if not given:
            raise Refused(401, "a token is needed: open the URL that `phasefarm serve` printed")
        if not secrets.compare_digest(given.encode(), token.encode()):
            raise Refused(403, "wrong token")

    def check_origin(conn: HTTPConnection) -> None:
        host = conn.headers.get("host", "")
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if bind_host in ("127.0.0.1", "localhost", "::1") and name not in LOCAL_HOSTS:
            raise Refused(403, f"unexpected Host {host!r}")
        origin = conn.headers.get("origin")
        if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
            raise Refused(403, f"cross-origin request from {origin!r} refused")

    def guarded(handler: Any, *, changes: bool = False) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                check_token(request)
                if changes:
                    check_origin(request)
                return await handler(request)  # type: ignore[no-any-return]
            except Refused as exc:
                return _error(exc.status, exc.reason)
            except UnknownRun as exc:
                return _error(404, str(exc))
            except UsageError as exc:  # a bad form field, a job's own option check
                return _error(400, str(exc))

        return endpoint

    async def page(request: Request) -> Response:
        name = "run.html" if "run_id" in request.path_params else "index.html"
        if "token" in request.query_params:
            # first visit from the printed URL: keep the token in a cookie, drop it from the bar
            response: Response = RedirectResponse(request.url.path, 303)
            response.set_cookie(
                token_cookie(request), token, httponly=True, samesite="strict", path="/"
            )
            return response
        if "run_id" in request.path_params:
            manager.describe(request.path_params["run_id"])
        return Response(
            STATIC.joinpath(name).read_bytes(),
            media_type="text/html",
            headers={
                "Content-Security-Policy": PAGE_POLICY,
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def list_runs(request: Request) -> Response:
        return JSONResponse({"runs": manager.summaries(), "jobs": manager.jobs()})

    async def show_run(request: Request) -> Response:
        return JSONResponse(manager.summary(request.path_params["run_id"]))

    async def start_run(request: Request) -> Response:
        fields = await _form(request)
        run_id = await manager.start(parse_request(fields))
        return JSONResponse({"run_id": run_id, "url": f"/runs/{run_id}"}, status_code=201)

    async def cancel_run(request: Request) -> Response:
        await _form(request)  # the body, if any, is size-checked like any other
        run_id = request.path_params["run_id"]
        if not manager.cancel(run_id):
            return _error(409, f"run {run_id} is not running in this server")
        return JSONResponse({"run_id": run_id, "cancelling": True}, status_code=202)

    async def run_file(request: Request) -> Response:
        out = manager.describe(request.path_params["run_id"]).get("out")
        found = safe_file(out, request.path_params["path"]) if isinstance(out, str) else None
        if found is None:
            return _error(404, "no such file in this run's output folder")
        return FileResponse(
            found,
            headers={
                "Content-Security-Policy": CONTENT_POLICY,
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def events_socket(websocket: WebSocket) -> None:
        try:
            check_token(websocket)
            check_origin(websocket)
            manager.describe(websocket.path_params["run_id"])
        except Refused as exc:
            await websocket.send_denial_response(_error(exc.status, exc.reason))
            return
        except UnknownRun as exc:
            await websocket.send_denial_response(_error(404, str(exc)))
            return
        await websocket.accept()
        await _serve_events(manager, websocket, websocket.path_params["run_id"])

    return Starlette(
        routes=[
            Route("/", guarded(page)),
            Route("/runs/{run_id}", guarded(page)),
            Route("/api/runs", guarded(list_runs)),
            Route("/api/runs", guarded(start_run, changes=True), methods=["POST"]),
            Route("/api/runs/{run_id}", guarded(show_run)),
            Route("/api/runs/{run_id}/cancel", guarded(cancel_run, changes=True), methods=["POST"]),
            Route("/runs/{run_id}/files/{path:path}", guarded(run_file)),
            WebSocketRoute("/api/runs/{run_id}/events", events_socket),
            Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        ],
        lifespan=_lifespan(manager),
    )


def _lifespan(manager: RunManager) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await manager.aclose()

    return lifespan


def _bearer(value: str | None) -> str | None:
    if value and value.lower().startswith("bearer "):
        return value[7:].strip()
    return None


async def _form(request: Request) -> Mapping[str, str]:
    """A small urlencoded or JSON body as a dict of strings; Refused (413, 400, 415) otherwise."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_MAX:
            raise Refused(413, f"request body over {BODY_MAX} bytes")
    if not body:
        return {}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if kind == "application/json":
            data = json.loads(text)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}
        if kind == "application/x-www-form-urlencoded":
            return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=True))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(400, f"malformed {kind or 'request'} body: {exc}") from None
    raise Refused(415, "send application/json or application/x-www-form-urlencoded")


async def _serve_events(manager: RunManager, websocket: WebSocket, run_id: str) -> None:
    """One subscription: the client's first message says the last seq it saw; later messages
    are checked like the first (a bad one closes the socket with a 44xx code and a reason)."""
    try:
        after = await _subscription(websocket, await websocket.receive())
        if after is None:
            return
        sender = asyncio.create_task(_send_events(manager, websocket, run_id, after))
        watcher = asyncio.create_task(_watch(websocket))
        done, pending = await asyncio.wait({sender, watcher}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            with contextlib.suppress(WebSocketDisconnect, RuntimeError):
                task.result()
    except WebSocketDisconnect:
        return


async def _send_events(manager: RunManager, websocket: WebSocket, run_id: str, after: int) -> None:
    run = {**manager.summary(run_id), "graph": await manager.graph(run_id)}
    await websocket.send_json({"type": "hello", "run": run})
    last = after
    async for batch in event_batches(manager.store, manager.live_events, run_id, after):
        last = batch[-1]["seq"]
        await websocket.send_text(events_json({"type": "events", "events": batch}))
    await websocket.send_json({"type": "end", "last_seq": last, "run": manager.summary(run_id)})
    await websocket.close(1000)


async def _watch(websocket: WebSocket) -> None:
    """Read what the client sends while events flow: until it leaves or sends something bad."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        if await _subscription(websocket, message, again=True) is None:
            return


async def _subscription(
    websocket: WebSocket, message: Mapping[str, Any], *, again: bool = False
) -> int | None:
    """The `after` of a subscribe message (a later one is ignored: one subscription per
    socket), or None after closing the socket on bad input."""
    if message["type"] == "websocket.disconnect":
        return None
    raw = message.get("text")
    if raw is None:
        raw = (message.get("bytes") or b"").decode("utf-8", "replace")
    if len(raw.encode()) > MESSAGE_MAX:
        await _refuse(websocket, 4413, f"message over {MESSAGE_MAX} bytes")
        return None
    try:
        data: Any = json.loads(raw)
    except ValueError:
        await _refuse(websocket, 4400, "malformed message: not JSON")
        return None
    if again and isinstance(data, dict) and data.get("type") == "ping":
        return 0
    after = data.get("after", -1) if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("type") != "subscribe":
        await _refuse(websocket, 4400, 'expected {"type": "subscribe", "after": SEQ}')
        return None
    if isinstance(after, bool) or not isinstance(after, int) or after < -1:
        await _refuse(websocket, 4400, "after must be an integer >= -1")
        return None
    return int(after)


async def _refuse(websocket: WebSocket, code: int, reason: str) -> None:
    await websocket.send_json({"type": "error", "error": reason})
    await websocket.close(code, reason)
