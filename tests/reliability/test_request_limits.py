"""Requests are bounded before they are read, measured on real sockets against a real
uvicorn server (the one `imageserver serve` runs, with the same options) in a thread."""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from imageserver.clock import system_clock
from imageserver.server.app import create_app
from imageserver.server.background import close_services
from imageserver.server.bootstrap import bootstrap
from imageserver.server.cli import http_server_options
from imageserver.work.context import AppContext
from tests.conftest import ADMIN_PASSWORD, make_settings

HEADER_TIMEOUT = 1.0
MB = 1024 * 1024


@dataclass
class Live:
    port: int
    ctx: AppContext


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Live]:
    tmp = tmp_path_factory.mktemp("live")
    (tmp / "imageserver.db").write_bytes(sqlite_template.read_bytes())
    settings = make_settings(
        tmp,
        f"sqlite:///{tmp / 'imageserver.db'}",
        host="127.0.0.1",
        port=free_port(),
        http_header_timeout_seconds=HEADER_TIMEOUT,
    )
    ctx = bootstrap(settings, clock=system_clock).ctx
    config = uvicorn.Config(
        create_app(ctx, background=False),
        log_config=None,
        access_log=False,
        **http_server_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    yield Live(settings.port, ctx)
    server.should_exit = True
    thread.join(10)
    close_services(ctx)
    ctx.engine.dispose()


def rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def temp_handles() -> set[str]:
    """Open files of this process in the temp folder (spooled uploads are unlinked ones)."""
    found = set()
    tmp = os.path.realpath(tempfile.gettempdir())
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(tmp) and "pytest" not in target:
            found.add(target)
    return found


def read_response(sock: socket.socket, timeout: float) -> tuple[int, dict[str, str], bytes]:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"closed before a response: {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def connect(live: Live) -> socket.socket:
    return socket.create_connection(("127.0.0.1", live.port), timeout=5)


def send_until_refused(sock: socket.socket, total: int, chunk: bytes) -> int:
    """Push up to `total` bytes; stop at the first error or once a response is readable."""
    sent = 0
    sock.settimeout(5)
    try:
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    return sent


def login_token(live: Live) -> str:
    body = json.dumps({"username": "admin", "password": ADMIN_PASSWORD}).encode()
    with connect(live) as sock:
        sock.sendall(
            b"POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        status, _, payload = read_response(sock, 10)
    assert status == 200, payload
    token: str = json.loads(payload)["access_token"]
    return token


def test_a_200_mb_login_body_is_refused_before_it_is_read(live: Live) -> None:
    before = rss()
    with connect(live) as sock:
        start = time.monotonic()
        sock.sendall(
            b"POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b'Content-Length: %d\r\n\r\n{"username": "' % (200 * MB)
        )
        status, headers, body = read_response(sock, 5)
        elapsed = time.monotonic() - start
        sent = send_until_refused(sock, 200 * MB, b"a" * MB)
    assert status == 413 and json.loads(body)["error"]["code"] == "too_large"
    assert headers["connection"] == "close"
    assert elapsed < 1.0, elapsed
    assert sent < 50 * MB, sent  # the server closed the connection: the rest is never read
    assert rss() - before < 20 * MB


def test_a_chunked_login_body_is_cut_off_at_the_limit(live: Live) -> None:
    before = rss()
    limit = live.ctx.settings.json_body_max_bytes
    piece = b"a" * (64 * 1024)
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    with connect(live) as sock:
        sock.sendall(
            b"POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = send_until_refused(sock, 200 * MB, chunk)
        status, headers, body = read_response(sock, 5)
    assert status == 413, body
    assert headers["connection"] == "close"
    assert sent < limit + 16 * MB, sent  # cut near the limit, never the 200 MB
    assert rss() - before < 20 * MB


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic YTpi"])
def test_an_unauthenticated_400_mb_upload_is_refused_before_its_body(
    live: Live, authorization: str | None
) -> None:
    handles, before = temp_handles(), rss()
    auth = b"" if authorization is None else b"Authorization: %s\r\n" % authorization.encode()
    with connect(live) as sock:
        start = time.monotonic()
        sock.sendall(
            b"POST /photos/search/image HTTP/1.1\r\nHost: t\r\n%s"
            b"Content-Type: multipart/form-data; boundary=xx\r\n"
            b'Content-Length: %d\r\n\r\n--xx\r\nContent-Disposition: form-data; name="image"; '
            b'filename="a.jpg"\r\n\r\n' % (auth, 400 * MB)
        )
        # The answer may come (and the server close) before this first megabyte is out:
        # a refused write is the server doing its job, the answer is still readable.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(b"\xff" * MB)
        status, headers, body = read_response(sock, 5)
        elapsed = time.monotonic() - start
        during = temp_handles()
        sent = send_until_refused(sock, 400 * MB, b"\xff" * MB)
    assert status == 401 and headers["www-authenticate"] == "Bearer", body
    assert elapsed < 1.0, elapsed
    assert sent < 50 * MB, sent
    assert during - handles == set()  # nothing spooled to a temporary file
    assert rss() - before < 20 * MB


def test_an_authenticated_upload_over_the_limit_is_refused_before_its_body(live: Live) -> None:
    token = login_token(live)
    before = rss()
    with connect(live) as sock:
        start = time.monotonic()
        sock.sendall(
            b"POST /photos/search/image HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
            b"Content-Type: multipart/form-data; boundary=xx\r\n"
            b"Content-Length: %d\r\n\r\n" % (token.encode(), 400 * MB)
        )
        status, _, body = read_response(sock, 5)
        elapsed = time.monotonic() - start
    assert status == 413 and json.loads(body)["error"]["code"] == "too_large"
    assert elapsed < 1.0
    assert rss() - before < 20 * MB


@pytest.mark.parametrize("trickle", [False, True])
def test_a_half_sent_header_is_closed_within_the_timeout(live: Live, trickle: bool) -> None:
    with connect(live) as sock:
        start = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n")
        closed_at = None
        sock.settimeout(0.2)
        while time.monotonic() - start < HEADER_TIMEOUT + 3:
            try:
                if sock.recv(1024) == b"":
                    closed_at = time.monotonic() - start
                    break
            except TimeoutError:
                if trickle:  # one header byte now and then never buys more time
                    try:
                        sock.sendall(b"X")
                    except OSError:
                        closed_at = time.monotonic() - start
                        break
            except OSError:
                closed_at = time.monotonic() - start
                break
    assert closed_at is not None, "still open"
    assert HEADER_TIMEOUT * 0.8 <= closed_at <= HEADER_TIMEOUT + 1.0, closed_at


def test_a_keep_alive_connection_serves_requests_after_a_pause(live: Live) -> None:
    with connect(live) as sock:
        for _ in range(2):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            status, _, _ = read_response(sock, 5)
            assert status in (200, 503)
            time.sleep(HEADER_TIMEOUT / 2)
