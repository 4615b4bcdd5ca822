"""SIGTERM: drain within the pod's grace period, then exit 0.

1. Stop admitting: /ready answers 503 (the endpoint controller drops the pod), new /v1 requests and every
   queued one get 503 JSON `shutting_down` with Retry-After: 1. /health stays 200: the pod is not dead.
2. Running requests have `drain_seconds` to finish normally.
3. Those still running then end for their clients: a stream with an error event (`shutting_down`) and
   `[DONE]`, a non-streaming request with 503 JSON; the engine is told to stop them.
4. uvicorn then closes the connections, the lifespan stops the engine process, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

import uvicorn

from .engine_client import Event
from .errors import APIError

log = logging.getLogger("onnx_server")
POLL_SECONDS = 0.05
# After the drain, uvicorn's graceful shutdown (responses have ended by then: this is a backstop); then the
# lifespan stops the engine (engine_client.ENGINE_STOP_SECONDS, twice at most). The manifests' grace period
# budgets both (components/config/servers.py EXIT_AFTER_DRAIN_SECONDS).
SHUTDOWN_SECONDS = 5


async def drain(state, drain_seconds: float) -> None:
    state.draining = True
    engine, admission = state.engine, state.admission
    log.info("draining", extra={"drain_seconds": drain_seconds, "running": len(engine.running_jobs),
                                "waiting": admission.waiting})
    admission.close(APIError(503, "the server is shutting down; retry (another replica will answer)",
                             code="shutting_down", headers={"Retry-After": "1"}))
    deadline = time.monotonic() + drain_seconds
    while engine.running_jobs and time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
    left = [job for job in engine.running_jobs if not job.aborted]
    for job in left:
        engine.abort(job, Event("error", text=f"the server is shutting down: generation stopped after the "
                                              f"{drain_seconds:g} s drain period", status=503,
                                code="shutting_down"))
    log.info("drained", extra={"ended_early": len(left)})


class DrainingServer(uvicorn.Server):
    """uvicorn.Server whose first SIGTERM drains (see above) instead of cutting requests after a fixed wait;
    a second SIGTERM, or SIGINT, is uvicorn's own immediate shutdown."""

    def __init__(self, config: uvicorn.Config, state, drain_seconds: float) -> None:
        super().__init__(config)
        self._state = state
        self._drain_seconds = drain_seconds
        self._drain_requested = False
        self._drain_task: asyncio.Task | None = None

    def handle_exit(self, sig: int, frame) -> None:
        if sig == signal.SIGTERM and not self._drain_requested and not self.should_exit:
            self._drain_requested = True  # picked up by on_tick on the event loop (this is a signal handler)
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._drain_requested and self._drain_task is None:
            self._drain_task = asyncio.create_task(self._drain())
        return await super().on_tick(counter)

    async def _drain(self) -> None:
        try:
            await drain(self._state, self._drain_seconds)
        finally:
            self.should_exit = True
