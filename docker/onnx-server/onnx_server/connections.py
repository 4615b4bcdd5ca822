"""Connection guards uvicorn 0.54 lacks: a deadline for the request head and a cap on open connections.

uvicorn times out only idle keep-alive connections (`timeout_keep_alive`, armed after a response): a
connection that sends nothing, or a head one byte at a time, is held for ever, and enough of them exhaust
the open-file limit until even /health cannot be accepted. Its `limit_concurrency` answers 503 to every
new request once the cap is reached, /health included. So:

- head deadline: from the moment a connection opens (or its previous response ends) the next request
  head must be complete within `header_timeout` s, or the connection is closed;
- connection cap: at most `max_connections` open (never more than half the open-file limit, leaving room
  for accept bursts, the engine pipe and the model files). One over the cap, the connection idle longest
  (no request in progress: waiting for a head, or kept alive) is closed; only when every connection is
  busy with a request is the new one closed instead.
"""

from __future__ import annotations

import logging
import resource
import time

from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("onnx_server.connections")
# At most one "cap reached" line per this many seconds: a flood must not flood the log too.
LOG_EVERY_SECONDS = 10.0
# The listen backlog: how many connections one accept burst takes before the cap can act on them.
BACKLOG = 128


def open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one (as Go and nginx do) and return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def effective_cap(max_connections: int, file_limit: int) -> int:
    return max(8, min(max_connections, file_limit // 2))


def guarded_protocol(header_timeout: float, max_connections: int) -> type[H11Protocol]:
    """An H11Protocol class (uvicorn's `http=` option) enforcing the two guards above."""

    class GuardedH11Protocol(H11Protocol):
        _last_log = 0.0

        def connection_made(self, transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._idle_since = time.monotonic()
            self._head_timer = None
            self._arm_head_deadline()
            # Connections already closing stay in the set until the loop's next turn: not counted.
            if sum(1 for c in self.connections if not c.transport.is_closing()) > max_connections:
                self._make_room()

        def connection_lost(self, exc) -> None:
            self._cancel_head_deadline()
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self._busy():  # the head is complete: the request runs (the body has its own deadline)
                self._cancel_head_deadline()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self._busy():
                self._idle_since = time.monotonic()
                self._arm_head_deadline()

        def _busy(self) -> bool:
            return self.cycle is not None and not self.cycle.response_complete

        def _arm_head_deadline(self) -> None:
            self._cancel_head_deadline()
            self._head_timer = self.loop.call_later(header_timeout, self._head_deadline_passed)

        def _cancel_head_deadline(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_deadline_passed(self) -> None:
            self._head_timer = None
            if not self._busy() and not self.transport.is_closing():
                self.transport.close()

        def _make_room(self) -> None:
            idle = [c for c in self.connections
                    if c is not self and isinstance(c, GuardedH11Protocol) and not c._busy()
                    and not c.transport.is_closing()]
            victim = min(idle, key=lambda c: c._idle_since) if idle else self
            victim.transport.close()
            now = time.monotonic()
            if now - GuardedH11Protocol._last_log >= LOG_EVERY_SECONDS:
                GuardedH11Protocol._last_log = now
                log.warning("connection limit reached", extra={
                    "open_connections": len(self.connections), "max_connections": max_connections,
                    "closed": "oldest idle connection" if victim is not self else "new connection (all busy)"})

    return GuardedH11Protocol
