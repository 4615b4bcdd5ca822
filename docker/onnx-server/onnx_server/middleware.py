"""Pure ASGI middleware (streams pass through untouched): request id, API key, readiness, request body
limits, access log, metrics.

The body is read here, before the app sees it, whatever its framing: a chunked body has no Content-Length,
so the 16 MiB limit is counted while reading, and the whole body must arrive within the body timeout.
Either failure answers at once (413 / 408) and closes the connection, so the rest is never read."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
import uuid

from .errors import APIError, error_body
from .logs import request_id_var

log = logging.getLogger("onnx_server.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
OPEN_PATHS = {"/health", "/ready", "/metrics"}
# Far above any context window in JSON (128k tokens ~ 1 MB of text); stops memory abuse before parsing.
MAX_BODY_BYTES = 16 * 2**20


class ServerMiddleware:
    def __init__(self, app, state) -> None:
        self.app = app
        self.state = state  # ServerState: settings, metrics, model

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        arrival = time.monotonic()  # the engine process stamps tokens on the same clock
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        scope.setdefault("state", {}).update(arrival=arrival, request_id=request_id)
        path = scope.get("path", "")
        status_holder = {"status": 500, "started": False}

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode())]
            await send(message)

        try:
            rejection = None if path in OPEN_PATHS else self._reject(headers)
            if rejection is None and path not in OPEN_PATHS and scope.get("method") in ("POST", "PUT", "PATCH"):
                read = await self._read_body(receive)
                if isinstance(read, APIError):
                    rejection = read
                elif read is None:  # the client left while sending
                    scope["state"]["client_gone"] = True
                    return
                else:
                    receive = _replay(read, receive)
            if rejection:
                extra = dict(rejection.headers)
                if scope.get("method") in ("POST", "PUT", "PATCH"):
                    extra["connection"] = "close"  # a body may follow unread: never read it to discard it
                await _send_json(send_with_id, rejection.status, rejection.body(), extra)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception as exc:  # a bug, not bad input: 500 with the request id, traceback to the log only
            log.exception("unhandled error: %s", type(exc).__name__)
            if not status_holder["started"]:
                await _send_json(send_with_id, 500, error_body(500, "internal server error", code="internal_error"),
                                 {})
        finally:
            status = status_holder["status"]
            if scope.get("state", {}).get("client_gone"):
                status = 499  # nginx's "client closed request": the client left before the answer
            if path.startswith("/v1/"):
                self.state.metrics.count_request(status)
            if path not in OPEN_PATHS:
                log.info("request", extra={"method": scope.get("method"), "path": path, "status": status,
                                           "duration_ms": round((time.monotonic() - arrival) * 1000, 2),
                                           **scope["state"].get("log_fields", {})})
            request_id_var.reset(token)

    def _reject(self, headers: dict[str, str]) -> APIError | None:
        key = self.state.settings.api_key
        if key is not None:
            supplied = headers.get("authorization", "")
            scheme, _, value = supplied.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(),
                                                                     key.get_secret_value().encode()):
                return APIError(401, "invalid or missing API key (send Authorization: Bearer <key>)",
                                code="invalid_api_key", headers={"www-authenticate": "Bearer"})
        length = headers.get("content-length", "0")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _too_large(f"request body of {length} bytes")
        return self.state.unavailable()

    async def _read_body(self, receive) -> bytes | APIError | None:
        """The whole body, or the error to answer (413, 408), or None when the client left."""
        timeout = self.state.settings.body_timeout
        body = bytearray()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    body += message.get("body", b"")
                    if len(body) > MAX_BODY_BYTES:
                        return _too_large("request body")
                    if not message.get("more_body", False):
                        return bytes(body)
        except TimeoutError:
            return APIError(408, f"request body not received within {timeout:g} s", code="request_timeout",
                            headers={"connection": "close"})


def _too_large(what: str) -> APIError:
    # Connection: close: the rest of the body is never read (uvicorn closes once the answer is sent).
    return APIError(413, f"{what} exceeds the limit of {MAX_BODY_BYTES} bytes", code="request_too_large",
                    headers={"connection": "close"})


def _replay(body: bytes, receive):
    """The app's receive: the body read above in one message, then the client's own messages."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send_json(send, status: int, body: dict, extra_headers: dict[str, str]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra_headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
