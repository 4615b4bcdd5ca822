"""A streaming OpenAI-compatible server with known delays: the ground truth the validator is checked against.

`python -m loadtests reference-server --port 8000 --ttft-ms 200 --itl-ms 20 --tokens 64`

Every request gets its first content token `ttft_ms` after it arrives, then one token every `itl_ms`.
Tokens are schedule-anchored (deadline = arrival + ttft + i * itl) so sleeps never accumulate drift:
a client that measures correctly sees TTFT = ttft_ms and TPOT = itl_ms. One token is one word,
so usage counts agree with a word-level tokenizer. The natural answer is `--tokens` long (then EOS);
`max_tokens` caps it and `ignore_eos` makes it exactly `max_tokens`.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class ServerBehaviour:
    model: str = "reference-model"
    ttft_ms: float = 200.0
    itl_ms: float = 20.0
    tokens: int = 64
    error_rate: float = 0.0
    usage: bool = True
    api_key: str | None = None
    seed: int = 0
    max_concurrent: int | None = None  # like a full batch: more streams wait for a slot, so TTFT grows with load


class StreamOptions(BaseModel):
    include_usage: bool = False


class CompletionRequest(BaseModel):
    """The fields the server honours; unknown OpenAI fields (temperature, ...) are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[dict] | None = None
    prompt: str | list[str] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    ignore_eos: bool = False
    stop: str | list[str] | None = None


def openai_error(status: int, message: str, type_: str, code: str | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": type_, "param": None, "code": code}})


def prompt_words(req: CompletionRequest) -> int:
    if req.messages is not None:
        text = " ".join(str(m.get("content", "")) for m in req.messages)
    elif isinstance(req.prompt, list):
        text = " ".join(req.prompt)
    else:
        text = req.prompt or ""
    return len(text.split())


def output_length(req: CompletionRequest, natural: int) -> tuple[int, bool]:
    """Tokens to emit, and whether a stop sequence ended the answer (it is not emitted, as in OpenAI)."""
    cap = req.max_completion_tokens or req.max_tokens
    n = natural if cap is None else cap if req.ignore_eos else min(cap, natural)
    stops = [req.stop] if isinstance(req.stop, str) else (req.stop or [])
    if stops:
        text = ""
        for i in range(n):
            text += token(i)
            if any(s and s in text for s in stops):
                return i, True
    return n, False


def create_app(behaviour: ServerBehaviour) -> FastAPI:
    app = FastAPI(title="slmkit reference server", docs_url=None, redoc_url=None)
    rng = random.Random(behaviour.seed)
    slots = asyncio.Semaphore(behaviour.max_concurrent) if behaviour.max_concurrent else None
    created = int(time.time())

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return openai_error(400, f"invalid request: {where}: {first.get('msg', 'bad value')}", "invalid_request_error")

    @app.middleware("http")
    async def require_api_key(request: Request, call_next):
        if behaviour.api_key and request.url.path.startswith("/v1/"):
            given = request.headers.get("authorization", "")
            if not secrets.compare_digest(given.encode(), f"Bearer {behaviour.api_key}".encode()):
                return openai_error(401, "invalid or missing API key", "authentication_error", "invalid_api_key")
        return await call_next(request)

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/reference/stats")
    async def reference_stats() -> dict:
        return {"token_lateness": LATENESS.summary()}

    @app.get("/v1/models")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": behaviour.model, "object": "model", "created": created, "owned_by": "slmkit"}]}

    async def complete(req: CompletionRequest, chat: bool):
        arrived = time.perf_counter()
        if req.model != behaviour.model:
            return openai_error(404, f"model {req.model!r} does not exist", "invalid_request_error", "model_not_found")
        if chat and not req.messages:
            return openai_error(400, "messages must be a non-empty list", "invalid_request_error")
        if not chat and req.prompt is None:
            return openai_error(400, "prompt is required", "invalid_request_error")
        if behaviour.error_rate and rng.random() < behaviour.error_rate:
            return openai_error(500, "injected error (reference server --error-rate)", "server_error")
        n_out, stopped = output_length(req, behaviour.tokens)
        usage = {"prompt_tokens": prompt_words(req), "completion_tokens": n_out, "total_tokens": prompt_words(req) + n_out}
        finish = "stop" if stopped or (n_out == behaviour.tokens and not req.ignore_eos) else "length"
        ids = {"id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex[:16]}", "created": int(time.time()), "model": behaviour.model}
        if req.stream:
            want_usage = behaviour.usage and bool(req.stream_options and req.stream_options.include_usage)
            events = stream_events(behaviour, arrived, n_out, chat, ids, finish, usage if want_usage else None, slots)
            return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        if slots:
            async with slots:
                await asyncio.sleep((behaviour.ttft_ms + (n_out - 1) * behaviour.itl_ms) / 1000)
        else:
            await asyncio.sleep(max(0.0, arrived + (behaviour.ttft_ms + (n_out - 1) * behaviour.itl_ms) / 1000 - time.perf_counter()))
        text = "".join(token(i) for i in range(n_out))
        body = {**ids, "object": "chat.completion" if chat else "text_completion"}
        if chat:
            body["choices"] = [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}]
        else:
            body["choices"] = [{"index": 0, "text": text, "finish_reason": finish}]
        if behaviour.usage:
            body["usage"] = usage
        return body

    @app.post("/v1/chat/completions")
    async def chat_completions(req: CompletionRequest):
        return await complete(req, chat=True)

    @app.post("/v1/completions")
    async def completions(req: CompletionRequest):
        return await complete(req, chat=False)

    return app


class Lateness:
    """How late the server emitted tokens against their deadlines. Benchmarks read it (GET /reference/stats)
    to tell a late server from a client that measures badly: the truth is only the truth while this is ~0."""

    def __init__(self) -> None:
        self.samples: collections.deque[float] = collections.deque(maxlen=200_000)

    def add(self, late_s: float) -> None:
        self.samples.append(max(0.0, late_s) * 1000)

    def summary(self) -> dict:
        values = sorted(self.samples)
        if not values:
            return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
        return {"count": len(values), "p50_ms": values[len(values) // 2], "p99_ms": values[int(len(values) * 0.99)], "max_ms": values[-1]}


LATENESS = Lateness()


def token(i: int) -> str:
    return f"w{i} "


def sse(payload: dict | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


async def stream_events(b: ServerBehaviour, arrived: float, n_out: int, chat: bool, ids: dict, finish: str, usage: dict | None,
                        slots: asyncio.Semaphore | None = None) -> AsyncIterator[bytes]:
    if slots is None:
        async for event in _events(b, arrived, n_out, chat, ids, finish, usage):
            yield event
        return
    async with slots:  # queued time counts in TTFT, as in a server whose batch is full
        async for event in _events(b, time.perf_counter(), n_out, chat, ids, finish, usage):
            yield event


async def _events(b: ServerBehaviour, arrived: float, n_out: int, chat: bool, ids: dict, finish: str, usage: dict | None) -> AsyncIterator[bytes]:
    obj = "chat.completion.chunk" if chat else "text_completion"

    def chunk(content: str | None, finish_reason: str | None = None, role: bool = False) -> bytes:
        if chat:
            delta = {"role": "assistant", "content": ""} if role else ({"content": content} if content is not None else {})
            choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        else:
            choice = {"index": 0, "text": content or "", "finish_reason": finish_reason}
        return sse({**ids, "object": obj, "choices": [choice]})

    if chat:
        # Like vLLM: an empty role chunk comes first; TTFT must count the first *content* chunk.
        yield chunk(None, role=True)
    for i in range(n_out):
        deadline = arrived + (b.ttft_ms + i * b.itl_ms) / 1000
        delay = deadline - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        LATENESS.add(time.perf_counter() - deadline)
        yield chunk(token(i), finish if i == n_out - 1 else None)
    if n_out == 0:  # a stop sequence matched at once: only the finish reason
        yield chunk(None, finish)
    if usage is not None:
        yield sse({**ids, "object": obj, "choices": [], "usage": usage})
    yield sse("[DONE]")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests reference-server", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--model", default="reference-model", help="the one model id served")
    p.add_argument("--ttft-ms", type=float, default=200.0, help="delay from request arrival to the first content token")
    p.add_argument("--itl-ms", type=float, default=20.0, help="delay between output tokens")
    p.add_argument("--tokens", type=int, default=64, help="natural answer length in tokens (max_tokens caps it)")
    p.add_argument("--error-rate", type=float, default=0.0, help="fraction of requests answered with HTTP 500 (0..1)")
    p.add_argument("--no-usage", action="store_true", help="never report usage (clients must estimate tokens)")
    p.add_argument("--api-key", default=None, help="require `Authorization: Bearer KEY` (also env REFERENCE_API_KEY)")
    p.add_argument("--seed", type=int, default=0, help="seed of the error injection")
    p.add_argument("--max-concurrent", type=int, default=None, help="streams served at once; more wait (TTFT grows with load)")
    p.add_argument("--tls-cert", default=None, help="serve HTTPS with this PEM certificate (with --tls-key)")
    p.add_argument("--tls-key", default=None, help="the certificate's PEM private key")
    return p


def main(argv: list[str] | None = None) -> int:
    import os

    import uvicorn

    args = build_parser().parse_args(argv)
    if not 0.0 <= args.error_rate <= 1.0:
        raise SystemExit(f"--error-rate {args.error_rate}: must be between 0 and 1")
    if args.tokens < 1 or args.ttft_ms < 0 or args.itl_ms < 0:
        raise SystemExit("--tokens must be >= 1 and delays >= 0")
    behaviour = ServerBehaviour(
        model=args.model, ttft_ms=args.ttft_ms, itl_ms=args.itl_ms, tokens=args.tokens, error_rate=args.error_rate,
        usage=not args.no_usage, api_key=args.api_key or os.environ.get("REFERENCE_API_KEY"), seed=args.seed,
        max_concurrent=args.max_concurrent,
    )
    print(f"reference server on http://{args.host}:{args.port}: model {behaviour.model}, TTFT {behaviour.ttft_ms:g} ms, "
          f"ITL {behaviour.itl_ms:g} ms, {behaviour.tokens} tokens, error rate {behaviour.error_rate:g}, "
          f"usage {'on' if behaviour.usage else 'off'}, auth {'on' if behaviour.api_key else 'off'}", flush=True)
    if bool(args.tls_cert) != bool(args.tls_key):
        raise SystemExit("--tls-cert and --tls-key go together")
    uvicorn.run(create_app(behaviour), host=args.host, port=args.port, log_level="warning", access_log=False,
                timeout_keep_alive=30, ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
