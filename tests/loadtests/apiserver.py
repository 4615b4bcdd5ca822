"""A loopback HTTPS server that plays the Kubernetes API server's ConfigMap PATCH endpoint, for the
gate's result publisher: it records each request and answers with a fixed status."""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeApiServer:
    host: str
    port: int
    status: int
    requests: list[Seen] = field(default_factory=list)


def _handler(state: FakeApiServer):
    class Handler(BaseHTTPRequestHandler):
        def do_PATCH(self):  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.requests.append(Seen("PATCH", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            name = self.path.split("?")[0].rsplit("/", 1)[-1]
            if state.status == 200:
                patch = json.loads(body)
                answer = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **patch}
            else:
                answer = {"apiVersion": "v1", "kind": "Status", "status": "Failure", "code": state.status,
                          "reason": "Forbidden", "message": f"configmaps {name!r} is forbidden"}
            raw = json.dumps(answer).encode()
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args):
            pass

    return Handler


@contextlib.contextmanager
def fake_api_server(ca_dir: Path, status: int = 200) -> Iterator[FakeApiServer]:
    """Serves TLS with ca_dir's server.pem (for 127.0.0.1, signed by ca.pem)."""
    state = FakeApiServer("127.0.0.1", 0, status)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(ca_dir / "server.pem", ca_dir / "server.key")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
