"""Admission control: at most N requests generate, at most M wait; beyond that 503 + Retry-After.

A waiting request whose client leaves is cancelled (app.py races the wait against the disconnect), so its
place is freed at once. When the server can no longer serve (engine gone, shutting down) `close()` answers
every waiter and every later request with the same error.
"""

from __future__ import annotations

import asyncio
from collections import deque
from contextlib import asynccontextmanager

from .errors import APIError
from .metrics import ServerMetrics


class Admission:
    def __init__(self, max_running: int, max_waiting: int, metrics: ServerMetrics) -> None:
        if max_running < 1 or max_waiting < 0:
            raise ValueError("max_running must be >= 1 and max_waiting >= 0")
        self.max_running = max_running
        self.max_waiting = max_waiting
        self.running = 0
        self._waiters: deque[asyncio.Future] = deque()
        self._metrics = metrics
        self._closed: APIError | None = None

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        if self._closed is not None:
            raise self._closed
        if self.running < self.max_running and not self._waiters:
            self._set_running(self.running + 1)
            return
        if len(self._waiters) >= self.max_waiting:
            raise APIError(503, f"server overloaded: {self.running} requests running and {self.waiting} waiting; "
                                "retry later", code="overloaded", headers={"Retry-After": "1"})
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._publish()
        try:
            await waiter  # release() hands its slot over: running is already counted for us
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()  # the slot was handed to us just as the client left
            self._publish()
            raise
        self._publish()

    def close(self, error: APIError) -> None:
        """Refuse from now on: every waiter and every new request get `error`."""
        self._closed = error
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(error)
        self._publish()

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # slot passes straight to the next waiter
                self._publish()
                return
        self._set_running(self.running - 1)

    @asynccontextmanager
    async def slot(self):
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    def _set_running(self, value: int) -> None:
        self.running = value
        self._publish()

    def _publish(self) -> None:
        self._metrics.running.labels(self._metrics.model_name).set(self.running)
        self._metrics.waiting.labels(self._metrics.model_name).set(len(self._waiters))
