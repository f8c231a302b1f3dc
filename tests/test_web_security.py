"""`phasefarm serve` turns bad requests away and keeps serving: tokens, Origin, Host, sizes,
malformed forms and WebSocket messages, paths outside a run's folder, secrets."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from web_support import Server, read_stream, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("web-security")) as running:
        yield running


@pytest.fixture(scope="module")
def finished_run(server: Server) -> str:
    run_id = server.start(job="demo", time_scale="0")
    assert server.wait_finished(run_id)["status"] == "succeeded"
    return run_id


def still_serving(server: Server) -> None:
    with server.client() as client:
        assert client.get("/api/runs").status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/"),
        ("GET", "/api/runs"),
        ("POST", "/api/runs"),
        ("GET", "/runs/x"),
        ("POST", "/api/runs/x/cancel"),
        ("GET", "/runs/x/files/index.html"),
    ],
)
@pytest.mark.parametrize(("token", "status"), [(None, 401), ("wrong-token", 403)])
def test_token_needed(server: Server, method: str, path: str, token: str | None, status: int):
    before = server.runs()
    with server.client(token) as client:
        response = client.request(
            method, path, json={"job": "demo", "brief": "x"} if method == "POST" else None
        )
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert server.runs() == before  # nothing started or cancelled


def test_token_in_url_becomes_a_cookie(server: Server):
    import httpx

    with httpx.Client(base_url=server.base) as client:
        response = client.get(f"/?token={server.token}")
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        page = client.get("/")  # the cookie alone opens the page
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert server.token not in page.text
        assert client.get("/static/run.js").status_code == 200  # static files need no token


def test_other_origin_and_host_refused(server: Server):
    before = server.runs()
    with server.client() as client:
        evil = client.post(
            "/api/runs",
            json={"job": "demo", "brief": "x"},
            headers={"Origin": "http://evil.example"},
        )
        rebound = client.post(
            "/api/runs",
            json={"job": "demo", "brief": "x"},
            headers={"Host": "evil.example:80"},
        )
    assert evil.status_code == 403 and "cross-origin" in evil.json()["error"]
    assert rebound.status_code == 403 and "Host" in rebound.json()["error"]
    assert server.runs() == before


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"x" * 20_000, "application/json", 413, "over 16384 bytes"),
        (b'{"job": "demo", "brief": ', "application/json", 400, "malformed"),
        (b"[1, 2]", "application/json", 400, "malformed"),
        (b"\xff\xfe", "application/json", 400, "malformed"),
        (b"job=demo&&brief", "application/x-www-form-urlencoded", 400, "malformed"),
        (b"job=demo", "text/plain", 415, "application/json"),
        (b'{"job": "nope", "brief": "x"}', "application/json", 400, "unknown job 'nope'"),
        (b'{"job": "demo", "brief": "  "}', "application/json", 400, "brief is empty"),
        (b'{"job": "demo", "brief": "x", "size": "0"}', "application/json", 400, "between 1"),
        (b'{"job": "demo", "brief": "x", "mode": "fast"}', "application/json", 400, "mode"),
        (b'{"job": "demo", "brief": "x", "time_scale": "-1"}', "application/json", 400, "time"),
        (b'{"job": "demo", "brief": "x", "evil": "1"}', "application/json", 400, "evil"),
        (b'{"job": "website", "brief": "x", "size": "99"}', "application/json", 400, "pages"),
    ],
)
def test_bad_forms(server: Server, body: bytes, content_type: str, status: int, says: str):
    before = server.runs()
    with server.client() as client:
        response = client.post("/api/runs", content=body, headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert says in response.json()["error"]
    assert server.runs() == before
    still_serving(server)


def test_urlencoded_form_starts_a_run(server: Server):
    with server.client() as client:
        response = client.post(
            "/api/runs",
            content=b"job=demo&brief=city+birds&time_scale=0&size=2",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 201, response.text
    run = server.wait_finished(response.json()["run_id"])
    # outline, tone, section (the map) and its 2 items, page
    assert (run["status"], run["total"]) == ("succeeded", 6)


def test_cancel(server: Server, finished_run: str):
    run_id = server.start(job="demo", time_scale="1")  # 4 + 5 + ... seconds: still running
    with server.client() as client:
        assert client.post(f"/api/runs/{run_id}/cancel").status_code == 202
        assert server.wait_finished(run_id)["status"] == "cancelled"
        again = client.post(f"/api/runs/{run_id}/cancel")
        assert again.status_code == 409 and "not running" in again.json()["error"]
        assert client.post(f"/api/runs/{finished_run}/cancel").status_code == 409
        assert client.post("/api/runs/nope/cancel").status_code == 404


def ws_url(server: Server, run_id: str, token: str | None) -> str:
    query = "" if token is None else f"?token={token}"
    return f"{server.ws}/api/runs/{run_id}/events{query}"


@pytest.mark.parametrize(
    ("token", "origin", "status"),
    [(None, None, 401), ("wrong", None, 403), ("ok", "http://evil.example", 403)],
)
def test_socket_needs_token_and_origin(
    server: Server, finished_run: str, token: str | None, origin: str | None, status: int
):
    token = server.token if token == "ok" else token
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(server, finished_run, token), origin=origin)  # type: ignore[arg-type]
    assert refused.value.response.status_code == status


def test_socket_unknown_run(server: Server):
    with pytest.raises(InvalidStatus) as refused:
        connect(ws_url(server, "no-such-run", server.token))
    assert refused.value.response.status_code == 404


@pytest.mark.parametrize(
    ("message", "code", "says"),
    [
        ("x" * 5000, 4413, "message over 4096 bytes"),
        ("{not json", 4400, "not JSON"),
        ('["subscribe"]', 4400, "expected"),
        ('{"type": "subscribe", "after": "7"}', 4400, "integer"),
        ('{"type": "subscribe", "after": -5}', 4400, "integer"),
        ('{"type": "subscribe", "after": true}', 4400, "integer"),
        (b"\x00\x01", 4400, "not JSON"),
    ],
)
def test_bad_socket_messages(
    server: Server, finished_run: str, message: str | bytes, code: int, says: str
):
    with connect(ws_url(server, finished_run, server.token)) as ws:
        ws.send(message)
        error = json.loads(ws.recv(timeout=10))
        assert error["type"] == "error" and says in error["error"]
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == code
    still_serving(server)


def test_huge_socket_message_closes_with_1009(server: Server, finished_run: str):
    with connect(ws_url(server, finished_run, server.token), max_size=None) as ws:
        ws.send("x" * 100_000)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
        assert ws.close_code == 1009
    still_serving(server)


def test_bad_message_while_streaming(server: Server):
    run_id = server.start(job="demo", time_scale="0.5")
    with connect(ws_url(server, run_id, server.token)) as ws:
        ws.send(json.dumps({"type": "subscribe", "after": -1}))
        ws.send("{oops")
        _, others = read_stream(ws)
        assert others[-1] == {"type": "error", "error": "malformed message: not JSON"}
        assert ws.close_code == 4400
    with server.client() as client:
        client.post(f"/api/runs/{run_id}/cancel")
    server.wait_finished(run_id)


def raw_get(server: Server, path: str) -> int:
    """A request with the path exactly as written (no client-side normalising)."""
    host, port = server.base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest("GET", path, skip_accept_encoding=True)
        conn.putheader("X-Phasefarm-Token", server.token)
        conn.endheaders()
        return conn.getresponse().status
    finally:
        conn.close()


def test_files_only_from_the_run_folder(server: Server, finished_run: str):
    out = Path(server.run(finished_run)["out"])
    (out / "sub").mkdir()
    (out / "sub" / "note.txt").write_text("inside", encoding="utf-8")
    secret = out.parent.parent / "secret.txt"
    secret.write_text("outside", encoding="utf-8")
    os.symlink(secret, out / "link-out.txt")
    os.symlink(out / "page.md", out / "link-in.md")
    os.symlink(out.parent.parent, out / "dir-link")
    os.symlink(out / "sub", out / "sub-link")  # a folder link pointing inside: refused too
    base = f"/runs/{finished_run}/files/"
    assert raw_get(server, base + "page.md") == 200
    assert raw_get(server, base + "sub/note.txt") == 200
    refused = [
        "../../secret.txt",
        "sub/../../../secret.txt",
        "%2e%2e/%2e%2e/secret.txt",
        "%2E%2E%2F%2E%2E%2Fsecret.txt",
        "..%2f..%2fsecret.txt",
        "%252e%252e/%252e%252e/secret.txt",
        "..%5c..%5csecret.txt",
        "%2fetc%2fpasswd",
        "/etc/passwd",
        "link-out.txt",
        "link-in.md",
        "dir-link/secret.txt",
        "sub-link/note.txt",
        "sub/%00note.txt",
        "./page.md",
        "sub//note.txt",
        "missing.html",
    ]
    for path in refused:
        assert raw_get(server, base + path) == 404, path
    other = server.start(job="demo", time_scale="0")
    server.wait_finished(other)
    # another run's file through this run's route: no
    assert raw_get(server, f"/runs/{other}/files/../{finished_run}/page.md") == 404
    with server.client() as client:
        response = client.get(base + "page.md")
    assert response.headers["content-security-policy"].startswith("sandbox")
    assert response.text.startswith("## ")
    still_serving(server)


def test_no_api_key_reaches_the_browser(tmp_path: Path, fake_openai):
    key = "sk-test-NEVER-IN-THE-BROWSER-1234567890"
    fake = fake_openai(keys=[key])
    env = {"OPENAI_API_KEY": key, "OPENAI_BASE_URL": fake.url}
    with serve(tmp_path, env=env) as server:
        run_id = server.start(job="website", provider="openai", time_scale="0", size="1")
        run = server.wait_finished(run_id, timeout=120)
        assert run["tokens"] > 0, run  # the model was called
        seen = [json.dumps(server.runs())]
        with server.client() as client:
            seen.append(client.get(f"/api/runs/{run_id}").text)
            seen.append(client.get(f"/runs/{run_id}/files/index.html").text)
        with connect(ws_url(server, run_id, server.token)) as ws:
            ws.send(json.dumps({"type": "subscribe", "after": -1}))
            events, others = read_stream(ws)
        seen.append(json.dumps(events) + json.dumps(others))
        assert len(events) > 20
        for text in seen:
            assert key not in text and key[8:] not in text


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--port", "70000"], "--port must be between 0 and 65535, got 70000"),
        (["--host", "256.1.1.1"], "cannot listen on 256.1.1.1:0"),
        (["--out", "a-file"], "--out a-file exists and is not a folder"),
    ],
)
def test_serve_refuses_bad_options(tmp_path: Path, options: list[str], says: str):
    import subprocess
    import sys

    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "phasefarm", "serve", "--store", "memory:", *options],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("phasefarm: error: ") and says in done.stderr
    assert len(done.stderr.splitlines()) == 1 and done.stdout == ""


def test_two_servers_side_by_side_keep_their_cookies(server: Server, tmp_path: Path):
    import httpx

    with serve(tmp_path) as second, httpx.Client(follow_redirects=True) as browser_like:
        # cookie jars ignore ports: one cookie name for both would let the second replace it
        for each in (server, second):
            assert browser_like.get(each.url).status_code == 200  # redirect followed
        for each in (server, second):
            assert browser_like.get(f"{each.base}/api/runs").status_code == 200
