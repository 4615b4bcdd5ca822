"""The FastAPI application: OpenAI routes plus /health, /ready and /metrics."""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import asynccontextmanager
from typing import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.background import BackgroundTask

from .admission import Admission
from .engine import ModelInfo, Sampling
from .engine_client import EngineClient, Event, Job
from .errors import APIError, error_response, install_error_handlers
from .metrics import ServerMetrics
from .middleware import ServerMiddleware
from .responses import DONE, ResponseShape, sse
from .schemas import ChatCompletionRequest, CompletionRequest, SamplingFields
from .settings import Settings
from .token_bytes import max_prompt_bytes

log = logging.getLogger("onnx_server")
# How often a non-streaming request checks whether its client is still there.
DISCONNECT_POLL_SECONDS = 0.25
# How often the heartbeat watchdog looks (it only logs; /health reads the heartbeat itself).
WATCHDOG_SECONDS = 0.5


class ServerState:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = ServerMetrics(settings.served_model_name)
        self.admission = Admission(settings.max_concurrency, settings.max_queue, self.metrics)
        self.engine = EngineClient(settings.model_dir, settings.max_concurrency, self.metrics, settings.log_level,
                                   on_release=self.admission.release, kv_cache_tokens=settings.kv_cache_tokens,
                                   heartbeat_timeout=settings.engine_heartbeat_timeout)
        self.draining = False  # set by drain.py on SIGTERM
        self.max_prompt_bytes: int | None = None  # prompt text that cannot fit the context (token_bytes.py)

    @property
    def ready(self) -> bool:
        return self.engine.ready and not self.draining

    def unavailable(self) -> APIError | None:
        """Why /v1 requests are refused right now, or None."""
        if self.draining:
            return APIError(503, "the server is shutting down; retry (another replica will answer)",
                            code="shutting_down", headers={"Retry-After": "1", "connection": "close"})
        if self.engine.stalled:
            return APIError(503, f"the engine process has not answered for over "
                                 f"{self.settings.engine_heartbeat_timeout:g} s; retry later",
                            code="engine_stalled", headers={"Retry-After": "5"})
        if self.engine.info is None:
            return APIError(503, "model is loading; retry when /ready answers 200", code="not_ready",
                            headers={"Retry-After": "5"})
        return None


def create_app(settings: Settings, on_load_failure: Callable[[Exception], None] | None = None) -> FastAPI:
    state = ServerState(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        tasks = [asyncio.create_task(_load(state, on_load_failure)), asyncio.create_task(_watch_heartbeat(state))]
        yield
        for task in tasks:
            task.cancel()
        await state.engine.stop()

    app = FastAPI(title="onnx-server", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = state
    install_error_handlers(app)
    app.add_middleware(ServerMiddleware, state=state)

    @app.get("/health")
    async def health():
        # Liveness: the HTTP loop answers and the engine process beats (while loading: the process lives).
        if state.engine.stalled or state.engine.gone:
            reason = "exited" if state.engine.gone else \
                f"sent no heartbeat for over {settings.engine_heartbeat_timeout:g} s"
            return error_response(503, f"the engine process {reason}",
                                  code="engine_down" if state.engine.gone else "engine_stalled")
        return {"status": "ok"}

    @app.get("/ready")
    async def ready():
        problem = state.unavailable()
        if problem is not None:
            return error_response(503, problem.message, code=problem.code)
        return {"status": "ready", "model": settings.served_model_name}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{
            "id": settings.served_model_name, "object": "model", "created": int(time.time()),
            "owned_by": "onnx-server", "max_model_len": state.engine.info.context_length}]}

    @app.post("/v1/chat/completions")
    async def chat(body: ChatCompletionRequest, request: Request):
        _check_request(state, body)
        messages = [{"role": m.role, "content": m.text()} for m in body.messages]
        _check_prompt_bytes(state, sum(len(m["content"].encode()) for m in messages), "messages")
        prompt = await state.engine.tokenize("chat", messages)
        return await _serve(state, request, body, prompt, "chat", param="messages")

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request):
        _check_request(state, body)
        if isinstance(body.prompt, str):
            _check_prompt_bytes(state, len(body.prompt.encode()), "prompt")
            prompt = await state.engine.tokenize("text", body.prompt)
        else:
            vocab = state.engine.info.vocab_size
            bad = [t for t in body.prompt if not 0 <= t < vocab]
            if bad:
                raise APIError(400, f"prompt token ids must be in [0, {vocab}); got {bad[0]}", param="prompt",
                               code="invalid_value")
            prompt = list(body.prompt)
        return await _serve(state, request, body, prompt, "text", param="prompt")

    return app


async def _load(state: ServerState, on_failure: Callable[[Exception], None] | None) -> None:
    started = time.monotonic()
    log.info("loading model", extra={"model_dir": str(state.settings.model_dir)})

    def engine_exited() -> None:
        state.admission.close(APIError(503, "the engine process exited; the server is restarting",
                                       code="engine_down", headers={"Retry-After": "5"}))
        if on_failure:
            on_failure(RuntimeError("engine process exited"))

    state.engine.on_engine_exit = engine_exited
    try:
        info = await state.engine.start()
        state.max_prompt_bytes = await asyncio.to_thread(max_prompt_bytes, state.settings.model_dir,
                                                         info.context_length)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.error("model load failed: %s", exc)
        if on_failure:
            on_failure(exc)
        return
    log.info("model ready", extra={"model": state.settings.served_model_name, "context_length": info.context_length,
                                   "max_prompt_bytes": state.max_prompt_bytes,
                                   "load_seconds": round(time.monotonic() - started, 2)})


async def _watch_heartbeat(state: ServerState) -> None:
    """Log when the engine stops beating and when it beats again (the probes read the state directly)."""
    stalled = False
    while True:
        await asyncio.sleep(WATCHDOG_SECONDS)
        if state.engine.stalled != stalled:
            stalled = state.engine.stalled
            silent = round(time.monotonic() - state.engine.last_heartbeat, 1)
            if stalled:
                log.error("engine heartbeat missed", extra={"silent_seconds": silent,
                                                            "running": len(state.engine.running_jobs)})
            else:
                log.warning("engine heartbeat resumed")


def _check_request(state: ServerState, body: SamplingFields) -> None:
    if body.model != state.settings.served_model_name:
        raise APIError(404, f"The model `{body.model}` does not exist; this server serves "
                            f"`{state.settings.served_model_name}`", param="model", code="model_not_found")
    body.reject_unsupported()
    vocab = state.engine.info.vocab_size
    if body.top_k > vocab:  # onnxruntime-genai refuses it inside the engine
        raise APIError(400, f"top_k must be at most the vocabulary size ({vocab}); got {body.top_k}",
                       param="top_k", code="invalid_value")


def _check_prompt_bytes(state: ServerState, size: int, param: str) -> None:
    """Refuse, before tokenizing, text too long to fit the context whatever the tokenizer makes of it."""
    limit = state.max_prompt_bytes
    if limit is not None and size > limit:
        raise APIError(400, f"This model's maximum context length is {state.engine.info.context_length} tokens; "
                            f"the prompt has {size} bytes of text, more than the {limit} bytes that many tokens "
                            "can hold.", param=param, code="context_length_exceeded")


def _sampling(info: ModelInfo, body: SamplingFields, prompt_len: int, param: str) -> Sampling:
    limit = info.context_length
    if prompt_len >= limit:
        raise APIError(400, f"This model's maximum context length is {limit} tokens; the prompt has {prompt_len} "
                            "tokens, leaving none to generate.", param=param, code="context_length_exceeded")
    if body.max_tokens is not None and prompt_len + body.max_tokens > limit:
        raise APIError(400, f"This model's maximum context length is {limit} tokens; you requested "
                            f"{prompt_len + body.max_tokens} tokens ({prompt_len} in the prompt, {body.max_tokens} "
                            "for the completion).", param="max_tokens", code="context_length_exceeded")
    return Sampling(max_tokens=body.max_tokens or limit - prompt_len, temperature=body.temperature,
                    top_p=body.top_p, top_k=body.top_k, seed=body.seed, stops=tuple(body.stop),
                    ignore_eos=body.ignore_eos)


async def _serve(state: ServerState, request: Request, body: SamplingFields, prompt: list[int], kind: str,
                 param: str):
    if not prompt:
        raise APIError(400, "the prompt is empty after tokenization", param=param, code="invalid_value")
    sampling = _sampling(state.engine.info, body, len(prompt), param)
    request.state.log_fields = {"prompt_tokens": len(prompt), "stream": body.stream}
    if not await _admit(state, request):  # 503 + Retry-After when the queue is full
        request.state.client_gone = True
        return Response(status_code=499)  # left while queued: nobody to answer
    job = Job(prompt_tokens=prompt, sampling=sampling, arrival=request.state.arrival)
    try:
        state.engine.submit(job)  # the slot is released when the engine reports the job's end
    except BaseException:
        state.admission.release()
        raise
    shape = ResponseShape(kind, state.settings.served_model_name, body.include_usage)
    if body.stream:
        return StreamingResponse(_stream(state, job, shape, request), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache"},
                                 background=BackgroundTask(state.engine.cancel, job))
    return await _complete(state, job, shape, request)


async def _admit(state: ServerState, request: Request) -> bool:
    """Wait for a generation slot; False when the client left first (its place in the queue is freed)."""
    acquire = asyncio.ensure_future(state.admission.acquire())
    gone = asyncio.ensure_future(_until_disconnected(request))
    try:
        await asyncio.wait({acquire, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not acquire.done():
            acquire.cancel()
            await asyncio.gather(acquire, return_exceptions=True)
    if acquire.cancelled():
        return False
    acquire.result()  # raises the 503 when refused
    return True


async def _until_disconnected(request: Request) -> None:
    # The body is read: the next ASGI message is the disconnect, whenever it comes.
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _complete(state: ServerState, job: Job, shape: ResponseShape, request: Request):
    async def watch_client() -> None:
        while not await request.is_disconnected():
            await asyncio.sleep(DISCONNECT_POLL_SECONDS)
        request.state.client_gone = True
        state.engine.cancel(job)  # the engine stops at its next token and frees the slot

    watcher = asyncio.create_task(watch_client())
    parts: list[str] = []
    try:
        while True:
            event: Event = await job.events.get()
            if event.kind == "delta":
                parts.append(event.text)
            elif event.kind == "error":
                headers = {"Retry-After": "1"} if event.status == 503 else None
                raise APIError(event.status, event.text, code=event.code, headers=headers)
            elif event.finish_reason == "cancelled":
                return Response(status_code=499)  # nobody is listening any more
            else:
                _log_usage(request, event)
                return JSONResponse(shape.full("".join(parts), event.finish_reason, len(job.prompt_tokens),
                                               event.completion_tokens))
    finally:
        watcher.cancel()
        state.engine.cancel(job)  # no-op when finished


async def _stream(state: ServerState, job: Job, shape: ResponseShape, request: Request):
    try:
        first = shape.first_chunk()
        if first:
            yield first
        while True:
            event: Event = await job.events.get()
            if event.kind == "delta":
                yield shape.delta_chunk(event.text)
            elif event.kind == "error":
                # Headers are sent: the failure travels as an error event, never as a silent end.
                yield sse({"error": {"message": event.text, "type": "server_error", "param": None,
                                     "code": event.code}})
                yield DONE
                return
            else:
                _log_usage(request, event)
                yield shape.finish_chunk(event.finish_reason)
                if shape.include_usage:
                    yield shape.usage_chunk(len(job.prompt_tokens), event.completion_tokens)
                yield DONE
                return
    except asyncio.CancelledError:
        request.state.client_gone = True
        raise
    finally:
        state.engine.cancel(job)


def _log_usage(request: Request, event: Event) -> None:
    request.state.log_fields = {**getattr(request.state, "log_fields", {}),
                                "completion_tokens": event.completion_tokens, "finish_reason": event.finish_reason}
