"""Socket-level HTTP for the fault tests: bodies and timings no ordinary client sends (h11 parses the answer)."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import h11


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


def connect(base_url: str, timeout: float = 10.0) -> socket.socket:
    url = urlsplit(base_url)
    return socket.create_connection((url.hostname, url.port), timeout=timeout)


def head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: socket.socket) -> RawResponse | None:
    """The response the server sent, or None when the connection ended without one."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))  # h11 needs a request to pair
    conn.send(h11.EndOfMessage())
    status, headers, body = None, {}, b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            conn.receive_data(data)
            if not data and status is None:
                return None
            continue
        if isinstance(event, h11.Response):
            status = event.status_code
            headers = {k.decode().lower(): v.decode() for k, v in event.headers}
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
            return RawResponse(status, headers, body)


def send_chunked(sock: socket.socket, path: str, headers: dict[str, str], chunks, stop: threading.Event) -> int:
    """Send a chunked body until the chunks run out, the server closes, or `stop`; returns bytes sent."""
    sent = 0
    try:
        sock.sendall(head("POST", path, {**headers, "Transfer-Encoding": "chunked"}))
        for chunk in chunks:
            if stop.is_set():
                break
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        else:
            sock.sendall(b"0\r\n\r\n")
    except OSError:  # the server answered and closed: what the limit is for
        pass
    return sent
