"""Slow and idle connections are timed out and capped: /health answers with 1100 sockets at a 1024 file limit."""

from __future__ import annotations

import resource
import socket
import time

import httpx
import pytest

from tests.fixtures.onnx_fixtures import start_onnx_server
from tests.onnx_server.raw_http import connect, head, read_response

FILE_LIMIT = 1024
SOCKETS = 1100
PARTIAL_HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # never finished


def lower_file_limit() -> None:  # runs in the server's process before exec
    resource.setrlimit(resource.RLIMIT_NOFILE, (FILE_LIMIT, FILE_LIMIT))


@pytest.fixture
def own_file_limit():
    """This process holds the 1100 client sockets: give it room (and restore the limit after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = SOCKETS + 512
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.fail(f"the test needs an open-file hard limit of at least {wanted} (ulimit -Hn is {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, wanted), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def closed_by_server(sock: socket.socket, deadline: float) -> bool:
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        return sock.recv(1024) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_health_answers_under_a_socket_flood_and_slow_heads_are_closed(tiny_onnx_model_dir, tmp_path,
                                                                       own_file_limit):
    server = start_onnx_server(tiny_onnx_model_dir, tmp_path, extra_args=["--header-timeout", "3",
                                                                          "--idle-timeout", "1"],
                               preexec_fn=lower_file_limit)
    sockets: list[socket.socket] = []
    try:
        starting = next(e for e in server.log_entries() if e["msg"] == "starting")
        assert starting["open_file_limit"] == FILE_LIMIT and starting["max_connections"] == FILE_LIMIT // 2
        silent = connect(server.base_url)  # connects and never sends a byte
        for _ in range(SOCKETS):  # slowloris: each starts a request head and never finishes it
            try:
                sock = connect(server.base_url, timeout=5)
                sock.sendall(PARTIAL_HEAD)
                sockets.append(sock)
            except OSError:  # the server may close a socket before the head is sent: it is making room
                pass
        health = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                health = httpx.get(server.base_url + "/health", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None and health.status_code == 200 and health.json() == {"status": "ok"}

        # Every flood socket is closed: made room for (cap) or out of time for its head (3 s).
        deadline = time.monotonic() + 30
        still_open = [s for s in sockets if not closed_by_server(s, deadline)]
        assert not still_open, f"{len(still_open)} of {len(sockets)} slow sockets still open"
        assert closed_by_server(silent, deadline)
        assert server.process.poll() is None

        kept = connect(server.base_url)  # a finished request's idle keep-alive connection ends too (1 s)
        kept.sendall(head("GET", "/health", {}))
        assert read_response(kept).status == 200
        assert closed_by_server(kept, time.monotonic() + 20)

        warnings = [e for e in server.log_entries() if e["msg"] == "connection limit reached"]
        assert warnings and warnings[0]["max_connections"] == FILE_LIMIT // 2
    finally:
        for sock in sockets:
            sock.close()
        server.stop()

