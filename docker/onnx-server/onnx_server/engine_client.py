"""The HTTP process's handle on the engine process: submit, stream back, cancel, tokenize.

Liveness: the engine process sends ("heartbeat", t) every HEARTBEAT_SECONDS from a thread of its own;
`stalled` is true once none has arrived for `heartbeat_timeout` seconds (a frozen or wedged engine), and
/health, /ready and admission follow it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .engine import ModelInfo, Sampling
from .errors import APIError
from .kv_cache import fits
from .metrics import ServerMetrics
from .worker import serve_engine

log = logging.getLogger("onnx_server.engine")
# stop(): the engine process has this long to exit, then it is killed and given as long again.
ENGINE_STOP_SECONDS = 5.0


@dataclass
class Event:
    kind: str  # "delta" | "done" | "error"
    text: str = ""
    finish_reason: str | None = None
    completion_tokens: int = 0
    status: int = 500  # errors: the HTTP status a non-streaming request answers with
    code: str = "generation_failed"


@dataclass
class Job:
    prompt_tokens: list[int]
    sampling: Sampling
    arrival: float  # time.monotonic() when the request arrived
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    id: int = 0
    generated: int = 0
    last_token_at: float | None = None
    finished: bool = False
    aborted: bool = False  # ended for the client before the engine finished (see EngineClient.abort)


class EngineClient:
    def __init__(self, model_dir: Path, max_concurrency: int, metrics: ServerMetrics, log_level: str = "info",
                 on_release: Callable[[], None] | None = None, kv_cache_tokens: int | None = None,
                 heartbeat_timeout: float = 10.0) -> None:
        self.model_dir = model_dir
        self.max_concurrency = max_concurrency
        self.metrics = metrics
        self.log_level = log_level
        self.kv_cache_tokens = kv_cache_tokens
        self.on_release = on_release or (lambda: None)
        self.info: ModelInfo | None = None
        self._jobs: dict[int, Job] = {}
        self._calls: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._closing = False
        self._process = None
        self.on_engine_exit: Callable[[], None] | None = None
        self.heartbeat_timeout = heartbeat_timeout
        self.last_heartbeat = time.monotonic()
        self.gone = False

    @property
    def ready(self) -> bool:
        return self.info is not None and not self.stalled

    @property
    def stalled(self) -> bool:
        """Loaded, but the engine process has not been heard from for heartbeat_timeout seconds."""
        return self.info is not None and time.monotonic() - self.last_heartbeat > self.heartbeat_timeout

    @property
    def running_jobs(self) -> list[Job]:
        return list(self._jobs.values())

    async def start(self) -> ModelInfo:
        """Start the engine process and wait for the model; raises RuntimeError when it cannot load."""
        self._loop = asyncio.get_running_loop()
        ctx = multiprocessing.get_context("spawn")  # no fork of a process that holds threads
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=serve_engine, name="onnx-engine", daemon=True,
                                    args=(str(self.model_dir), self.max_concurrency, child, self.log_level,
                                          self.kv_cache_tokens))
        self._process.start()
        child.close()
        self._loaded: asyncio.Future = self._loop.create_future()
        threading.Thread(target=self._read, name="engine-reader", daemon=True).start()
        info = await self._loaded
        self.last_heartbeat = time.monotonic()
        self.info = info
        return info

    async def stop(self, timeout: float = ENGINE_STOP_SECONDS) -> None:
        """Ask the engine process to finish; kill it after `timeout` s (a stopped process ignores SIGTERM).
        Safe when it never started."""
        if self._process is None:
            return
        self._closing = True
        try:
            self._send(("shutdown",))
        except (OSError, ValueError):
            pass
        await asyncio.to_thread(self._process.join, timeout)
        if self._process.is_alive():
            log.warning("engine process did not stop within %.0f s; killing it", timeout)
            self._process.kill()
            await asyncio.to_thread(self._process.join, timeout)

    # -- requests
    async def tokenize(self, kind: str, payload) -> list[int]:
        if self.gone:
            raise APIError(503, "the engine process exited; the server is restarting", code="engine_down",
                           headers={"Retry-After": "5"})
        call_id = next(self._ids)
        future = self._loop.create_future()
        self._calls[call_id] = future
        self._send(("tokenize", call_id, kind, payload))
        return await future

    def submit(self, job: Job) -> None:
        """Hand the job to the engine; 503 + Retry-After when its KV reservation does not fit the budget now."""
        if self.gone:
            raise APIError(503, "the engine process exited; the server is restarting", code="engine_down",
                           headers={"Retry-After": "5"})
        info = self.info
        reservations = [len(j.prompt_tokens) + j.sampling.max_tokens for j in self._jobs.values()]
        reservation = len(job.prompt_tokens) + job.sampling.max_tokens
        if info and not fits(reservations + [reservation], info.max_sequences, info.kv_cache_tokens,
                             info.context_length):
            raise APIError(503, f"KV cache budget exhausted: {sum(reservations)} of {info.kv_cache_tokens} tokens "
                                f"reserved by {len(reservations)} running requests, this one needs {reservation}; "
                                "retry later", code="overloaded", headers={"Retry-After": "1"})
        job.id = next(self._ids)
        self._jobs[job.id] = job
        self.metrics.prompt_tokens.labels(self.metrics.model_name).inc(len(job.prompt_tokens))
        self._send(("generate", job.id, job.prompt_tokens, job.sampling))

    def cancel(self, job: Job) -> None:
        if not job.finished and not self.gone:
            try:
                self._send(("cancel", job.id))
            except (OSError, ValueError):  # the engine went away meanwhile: _engine_gone ends the job
                pass

    def abort(self, job: Job, event: Event) -> None:
        """End a job for its client now (shutdown deadline); the engine is told to stop it. The slot is
        released when the engine confirms, as for any cancel."""
        if not job.finished and not job.aborted:
            job.aborted = True
            job.events.put_nowait(event)
            self.cancel(job)

    def _send(self, message: tuple) -> None:
        with self._send_lock:
            self._conn.send(message)

    # -- messages from the engine (reader thread -> event loop)
    def _read(self) -> None:
        while True:
            try:
                batch = [self._conn.recv()]
                while len(batch) < 256 and self._conn.poll():  # one loop wake-up for what is already there
                    batch.append(self._conn.recv())
            except (EOFError, OSError):
                self._loop.call_soon_threadsafe(self._engine_gone)
                return
            self._loop.call_soon_threadsafe(self._dispatch_all, batch)

    def _dispatch_all(self, batch: list[tuple]) -> None:
        for message in batch:
            self._dispatch(message)

    def _dispatch(self, message: tuple) -> None:
        kind = message[0]
        if kind == "heartbeat":
            self.last_heartbeat = time.monotonic()
        elif kind == "texts":  # one decode step: a token for each running job
            for job_id, text, at in message[1]:
                self._on_text(job_id, text, at)
        elif kind == "end":
            self._on_end(*message[1:])
        elif kind == "failed":
            _, job_id, error, generated = message
            self._finish(job_id, Event("error", text=f"generation failed: {error}", completion_tokens=generated))
        elif kind == "tokens":
            _, call_id, tokens, error = message
            future = self._calls.pop(call_id, None)
            if future and not future.done():
                if error is None:
                    future.set_result(tokens)
                else:
                    future.set_exception(APIError(400, f"cannot tokenize the prompt: {error}"))
        elif kind == "ready":
            self._loaded.set_result(message[1])
        elif kind == "load_failed":
            self._loaded.set_exception(RuntimeError(message[1]))

    def _on_text(self, job_id: int, text: str, at: float) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if at >= 0:  # a generated token (at < 0: held-back text released at the end)
            m = self.metrics
            if job.last_token_at is None:
                m.observe_ttft(at - job.arrival)
            else:
                m.observe_itl(at - job.last_token_at)
            job.last_token_at = at
            job.generated += 1
            m.generation_tokens.labels(m.model_name).inc()
        if text:
            job.events.put_nowait(Event("delta", text=text))

    def _on_end(self, job_id: int, finish_reason: str, generated: int) -> None:
        if finish_reason != "cancelled":
            self.metrics.observe_e2e(time.monotonic() - self._jobs[job_id].arrival)
        self._finish(job_id, Event("done", finish_reason=finish_reason, completion_tokens=generated))

    def _finish(self, job_id: int, event: Event) -> None:
        job = self._jobs.pop(job_id, None)
        if job is None:
            return
        job.finished = True
        job.events.put_nowait(event)
        self.on_release()  # the generation slot is free only now: the engine has stopped this job

    def _engine_gone(self) -> None:
        if not self._loaded.done():
            self._loaded.set_exception(RuntimeError("the engine process exited while loading the model"))
        self.gone = True
        if self._closing:
            return
        log.error("engine process exited (code %s); failing %d running requests", self._process.exitcode,
                  len(self._jobs))
        self.info = None
        if self.on_engine_exit:  # first: queued requests must not be handed the slots freed below
            self.on_engine_exit()
        for job_id in list(self._jobs):
            self._finish(job_id, Event("error", text="the engine process exited"))
        for future in self._calls.values():
            if not future.done():
                future.set_exception(APIError(503, "the engine process exited", code="engine_down"))
