"""`phasefarm serve` against malformed HTTP below the application: broken request lines,
oversized headers, garbage bytes, a client that stops half way. The server answers a 4xx or
closes that connection, changes nothing, and keeps serving (issue 16, item 5; the application
level is tests/test_web_security.py)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from web_support import Server, serve


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve(tmp_path_factory.mktemp("web-raw")) as running:
        yield running


def send_raw(server: Server, data: bytes) -> bytes:
    """Send `data` on a fresh connection and read what comes back until the server closes it
    or 10 s pass."""
    host, port = server.base.removeprefix("http://").split(":")
    answer = b""
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        try:
            # the server may answer and close before it has read everything (a huge header)
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # broken pipe, reset, not connected
            pass
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:  # reset, or the 10 s timeout
            pass
    return answer


def status_of(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1."):
        return None
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"\x00\xff\xfe garbage\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
        b"POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n{}",
        b"POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b'POST /api/runs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{"job"',
    ],
    ids=[
        "garbage",
        "no-path",
        "bad-version",
        "huge-header",
        "negative-length",
        "bad-chunk",
        "body-cut-short",
    ],
)
def test_malformed_http_gets_a_4xx_or_a_closed_connection(
    server: Server, request_bytes: bytes
) -> None:
    before = server.runs()
    answer = send_raw(server, request_bytes)
    status = status_of(answer)
    assert status is None or 400 <= status < 500, answer[:200]
    assert b"Traceback" not in answer
    assert server.runs() == before  # nothing started
    with server.client() as client:  # and it keeps serving
        assert client.get("/api/runs").status_code == 200
