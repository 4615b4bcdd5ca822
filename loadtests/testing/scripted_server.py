"""A scripted OpenAI-compatible server on 127.0.0.1 whose answers can be switched good or bad.

It behaves like a correct engine by default and each ``Fault`` breaks one behaviour the smoke
checks look at (a tool-capable model answering in plain text, a missing finish_reason, usage
that does not add up, max_tokens or stop ignored, a 200 for a negative max_tokens...).

Text is made of whitespace-separated words and one word is one token, so usage is exact.
Answers: the first entry of ``replies`` whose key occurs in the last user message (case
insensitive), else counting ``1 2 3 ...``. A request with tools gets a ``calculate_circle_area``
call whose radius is the first number of the prompt.

    with ScriptedServer(models=["tiny"], api_key="k", replies={"muffins": "25 are left."}) as server:
        server.faults.add(Fault.IGNORE_STOP)
        ... requests to server.base_url ...

``Lie`` holds the lies aimed at the load-test gate (tests/loadtests/test_gate_lies.py): usage that
claims more than the stream carried, a trickling model list, streams that stall behind SSE
heartbeats or hang, a wrong model, a whitespace chunk sent ahead of the answer, non-OpenAI error
chunks, a connection cut mid-stream. An honest stream honours ``ignore_eos`` (exactly max_tokens words).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
import threading
import time
from enum import Enum
from typing import Any, AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

COUNTING_WORDS = [str(n) for n in range(1, 201)]
DEFAULT_RADIUS = 1.0
DIGITS_TO_LETTERS = str.maketrans("0123456789", "abcdefghij")


class Fault(str, Enum):
    EMPTY_CONTENT = "empty_content"  # non-streaming answers have content ""
    EMPTY_STREAM_CONTENT = "empty_stream_content"  # streams carry no content deltas
    NO_FINISH_REASON = "no_finish_reason"  # non-streaming finish_reason null
    NO_STREAM_FINISH_REASON = "no_stream_finish_reason"  # no chunk carries a finish_reason
    BAD_USAGE = "bad_usage"  # non-streaming total_tokens != prompt + completion
    UNDERCOUNT_USAGE = "undercount_usage"  # non-streaming usage counts 1 completion token for any answer
    BAD_STREAM_USAGE = "bad_stream_usage"  # streamed usage claims 0 completion tokens
    NO_STREAM_USAGE = "no_stream_usage"  # ignores stream_options.include_usage
    STREAM_NO_DONE = "stream_no_done"  # stream ends without data: [DONE]
    IGNORE_MAX_TOKENS = "ignore_max_tokens"
    IGNORE_STOP = "ignore_stop"
    ACCEPT_NEGATIVE_MAX_TOKENS = "accept_negative_max_tokens"  # 200 instead of 400
    SERVER_ERROR_ON_INVALID = "server_error_on_invalid"  # 500 instead of 400
    TOOL_PLAIN_TEXT = "tool_plain_text"  # answers a tool request in text (no tool parser)
    TOOL_ARGS_NOT_JSON = "tool_args_not_json"
    TOOL_ARGS_OBJECT = "tool_args_object"  # arguments as an object, not a JSON string
    TOOL_RADIUS_STRING = "tool_radius_string"
    TOOL_WRONG_NAME = "tool_wrong_name"
    TOOL_NO_ID = "tool_no_id"
    ECHO_AUTH_IN_ERRORS = "echo_auth_in_errors"  # every chat fails with 500, echoing the Authorization header


class Lie(str, Enum):
    """Lies aimed at the load-test gate's streams (chat with stream=true) and its preflight."""

    OVERCLAIM_USAGE = "overclaim_usage"  # sends at most 10 content chunks, usage claims max_tokens
    UNDERCLAIM_USAGE = "underclaim_usage"  # usage claims 1 completion token for any stream
    HALF_SERVER_ERRORS = "half_server_errors"  # every second chat request gets HTTP 500
    TRICKLE_MODELS = "trickle_models"  # GET /v1/models sends one byte every trickle_s, for ever
    STALL_AFTER_HEADERS = "stall_after_headers"  # streams send headers, then only SSE comments (heartbeats)
    HANG_EVERY_20TH = "hang_every_20th"  # every 20th stream sends its role chunk, then nothing
    WRONG_MODEL = "wrong_model"  # chunks name another model than the one asked for
    SHORT_DESPITE_IGNORE_EOS = "short_despite_ignore_eos"  # stops after 3 words (finish "stop") despite ignore_eos
    WHITESPACE_FIRST = "whitespace_first"  # a " " chunk at once, the answer first_token_delay_s later
    NON_OPENAI_ERROR_CHUNK = "non_openai_error_chunk"  # {"object": "error", ...} after 2 words, then [DONE]
    CLOSE_MID_STREAM = "close_mid_stream"  # the connection is cut after 3 words, with no [DONE]



class ChatRequest(BaseModel):
    model: str
    messages: list[dict[str, Any]]
    max_tokens: int | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    stop: str | list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    temperature: float | None = None
    seed: int | None = None
    ignore_eos: bool = False  # vLLM's extension: exactly max_tokens tokens


def _error(status: int, message: str, kind: str = "invalid_request_error") -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"message": message, "type": kind, "code": status}})


def _words(text: Any) -> list[str]:
    return text.split() if isinstance(text, str) else []


class ScriptedServer:
    """Serves on 127.0.0.1 at a free port while started; ``faults`` and ``replies`` may change between requests."""

    def __init__(
        self,
        models: list[str] | tuple[str, ...] = ("scripted-model",),
        api_key: str | None = None,
        replies: dict[str, str] | None = None,
        faults: set[Fault] | None = None,
    ) -> None:
        self.models = list(models)
        self.api_key = api_key
        self.replies = dict(replies or {})
        self.faults: set[Fault] = set(faults or ())
        self.model_faults: dict[str, set[Fault]] = {}  # faults of one model only, on top of ``faults``
        self.requests: list[dict[str, Any]] = []  # every chat request body received, for assertions
        self.delay_s = 0.0  # wait before each chat answer (to test client timeouts)
        # Like a reasoning parser that got only thinking text: the answer goes under this message key
        # (vLLM: "reasoning_content" or "reasoning") and content stays empty.
        self.reasoning_field: str | None = None
        # 1-based numbers of chat requests whose text differs (digits become letters): a GPU engine's
        # greedy output is not bit-exact across batches, so a repeated request may diverge.
        self.diverging_requests: set[int] = set()
        self.lies: set[Lie] = set()  # see Lie: aimed at the load-test gate
        self.token_delay_s = 0.0  # pause between streamed words
        self.first_token_delay_s = 0.0  # pause before the first streamed word (the TTFT the server really has)
        self.trickle_s = 0.5  # Lie.TRICKLE_MODELS: seconds between bytes
        self._chat_count = itertools.count(1)
        self._stream_count = itertools.count(1)
        self.app = self._build_app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the scripted server is not started")
        return f"http://127.0.0.1:{self.port}"

    def faults_for(self, model: str) -> set[Fault]:
        return self.faults | self.model_faults.get(model, set())

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, startup_timeout_s: float = 10.0) -> "ScriptedServer":
        # A short graceful shutdown: streams that hang on purpose must not keep stop() waiting.
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off",
                                timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="scripted-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + startup_timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the scripted server did not start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self.port = None

    def __enter__(self) -> "ScriptedServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the OpenAI-compatible API ---------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="slmkit scripted OpenAI-compatible server")

        @app.middleware("http")
        async def require_key(request: Request, call_next):  # type: ignore[no-untyped-def]
            if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
                return _error(401, "invalid API key", "authentication_error")
            return await call_next(request)

        @app.get("/v1/models")
        def list_models() -> Any:
            if Lie.TRICKLE_MODELS in self.lies:
                return StreamingResponse(self._trickle(), media_type="application/json")
            return {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "scripted"} for m in self.models]}

        @app.post("/v1/chat/completions")
        def chat_completions(body: ChatRequest, request: Request) -> Any:
            self.requests.append(body.model_dump(exclude_none=True))
            time.sleep(self.delay_s)  # a sync endpoint runs in a worker thread: sleeping blocks only this request
            return self._answer(body, request)

        return app

    def _answer(self, body: ChatRequest, request: Request) -> Any:
        if body.model not in self.models:
            return _error(404, f"model {body.model!r} not found", "not_found_error")
        if Lie.HALF_SERVER_ERRORS in self.lies and next(self._chat_count) % 2 == 0:
            return _error(500, "internal error (scripted)", "server_error")
        faults = self.faults_for(body.model)
        if Fault.ECHO_AUTH_IN_ERRORS in faults:
            return _error(500, f"internal error handling request with {request.headers.get('authorization')}", "server_error")
        max_tokens = body.max_tokens
        if max_tokens is not None and max_tokens < 1:
            if Fault.SERVER_ERROR_ON_INVALID in faults:
                return _error(500, "internal error", "server_error")
            if Fault.ACCEPT_NEGATIVE_MAX_TOKENS not in faults:
                return _error(400, f"max_tokens must be at least 1, got {max_tokens}")
            max_tokens = None
        if Fault.IGNORE_MAX_TOKENS in faults:
            max_tokens = None
        prompt = next((m.get("content") for m in reversed(body.messages) if m.get("role") == "user"), "") or ""
        prompt_tokens = sum(len(_words(m.get("content"))) for m in body.messages)
        if body.tools and body.tool_choice != "none" and not body.stream:
            return self._tool_answer(body.model, prompt, prompt_tokens, faults)
        stops = [] if Fault.IGNORE_STOP in faults else ([body.stop] if isinstance(body.stop, str) else body.stop or [])
        diverge = len(self.requests) in self.diverging_requests
        text, finish_reason = self._generate(prompt, max_tokens, stops, diverge, body.ignore_eos)
        if body.stream and (self.lies or self.token_delay_s or self.first_token_delay_s):
            events = self._lying_stream(body.model, text, finish_reason, prompt_tokens, max_tokens)
            return StreamingResponse(events, media_type="text/event-stream")
        if body.stream:
            include_usage = bool((body.stream_options or {}).get("include_usage"))
            events = self._stream_events(body.model, text, finish_reason, prompt_tokens, include_usage, faults)
            return StreamingResponse(events, media_type="text/event-stream")
        content = "" if Fault.EMPTY_CONTENT in faults else text
        usage = _usage(prompt_tokens, len(_words(content)))
        if Fault.BAD_USAGE in faults:
            usage["total_tokens"] += 7
        if Fault.UNDERCOUNT_USAGE in faults:
            usage = _usage(prompt_tokens, 1)
        message = {"role": "assistant", "content": content}
        if self.reasoning_field:
            message = {"role": "assistant", "content": "", self.reasoning_field: content}
        return {
            "id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()), "model": body.model,
            "choices": [{
                "index": 0, "message": message,
                "finish_reason": None if Fault.NO_FINISH_REASON in faults else finish_reason,
            }],
            "usage": usage,
        }

    def _generate(self, prompt: str, max_tokens: int | None, stops: list[str], diverge: bool = False,
                  ignore_eos: bool = False) -> tuple[str, str]:
        """The scripted text, cut at max_tokens words or at the first stop string, and why it ended."""
        lowered = prompt.lower()
        reply = next((text for key, text in self.replies.items() if key.lower() in lowered), None)
        words = reply.split() if reply is not None else COUNTING_WORDS
        if ignore_eos and max_tokens is not None and len(words) < max_tokens:
            words = list(itertools.islice(itertools.cycle(words), max_tokens + 1))  # no EOS: the text goes on
            reply = None
        if diverge:
            words = [word.translate(DIGITS_TO_LETTERS) for word in words]
        limit = len(words) if max_tokens is None else max_tokens
        text, finish_reason = " ".join(words[:limit]), ("length" if len(words) > limit else "stop")
        if reply is not None and len(words) <= limit:
            text = reply  # keep the reply's own layout (code blocks need their newlines)
        cuts = [text.find(s) for s in stops if s and s in text]
        if cuts:
            text, finish_reason = text[: min(cuts)], "stop"
        return text, finish_reason

    def _tool_answer(self, model: str, prompt: str, prompt_tokens: int, faults: set[Fault]) -> dict[str, Any]:
        number = re.search(r"\d+(?:\.\d+)?", prompt)
        radius: Any = float(number.group()) if number else DEFAULT_RADIUS
        if Fault.TOOL_PLAIN_TEXT in faults:
            content = f"The area of a circle with radius {radius:g} is {3.14159 * radius * radius:.2f}."
            message: dict[str, Any] = {"role": "assistant", "content": content}
            finish_reason = "stop"
        else:
            if Fault.TOOL_RADIUS_STRING in faults:
                radius = "five"
            arguments: Any = {"radius": radius}
            if Fault.TOOL_ARGS_OBJECT not in faults:
                arguments = json.dumps(arguments)
            if Fault.TOOL_ARGS_NOT_JSON in faults:
                arguments = "{radius: 5"
            call: dict[str, Any] = {
                "id": "call_scripted_1", "type": "function",
                "function": {"name": "circle_area" if Fault.TOOL_WRONG_NAME in faults else "calculate_circle_area",
                             "arguments": arguments},
            }
            if Fault.TOOL_NO_ID in faults:
                del call["id"]
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            content, finish_reason = json.dumps(arguments), "tool_calls"
        return {
            "id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": _usage(prompt_tokens, len(_words(content))),
        }

    def _stream_events(
        self, model: str, text: str, finish_reason: str, prompt_tokens: int, include_usage: bool, faults: set[Fault]
    ) -> Iterator[str]:
        def event(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> str:
            chunk: dict[str, Any] = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk",
                                     "created": int(time.time()), "model": model, "choices": choices}
            if usage is not None:
                chunk["usage"] = usage
            return f"data: {json.dumps(chunk)}\n\n"

        words = [] if Fault.EMPTY_STREAM_CONTENT in faults else text.split()
        yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        key = self.reasoning_field or "content"
        for i, word in enumerate(words):
            yield event([{"index": 0, "delta": {key: word if i == 0 else " " + word}, "finish_reason": None}])
        last = None if Fault.NO_STREAM_FINISH_REASON in faults else finish_reason
        yield event([{"index": 0, "delta": {}, "finish_reason": last}])
        if include_usage and Fault.NO_STREAM_USAGE not in faults:
            completion = 0 if Fault.BAD_STREAM_USAGE in faults else len(words)
            yield event([], _usage(prompt_tokens, completion))
        if Fault.STREAM_NO_DONE not in faults:
            yield "data: [DONE]\n\n"


    async def _trickle(self) -> AsyncIterator[bytes]:
        body = json.dumps({"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]})
        for ch in itertools.cycle(body.encode()):  # never ends: a client needs its own deadline
            yield bytes([ch])
            await asyncio.sleep(self.trickle_s)

    async def _lying_stream(self, model: str, text: str, finish_reason: str, prompt_tokens: int,
                            max_tokens: int | None) -> AsyncIterator[str]:
        """A chat stream that tells the lies in ``self.lies`` (usage always included, like vLLM when asked)."""
        lies = self.lies
        shown = "other-model" if Lie.WRONG_MODEL in lies else model

        def event(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> str:
            chunk: dict[str, Any] = {"id": "chatcmpl-scripted", "object": "chat.completion.chunk",
                                     "created": int(time.time()), "model": shown, "choices": choices}
            if usage is not None:
                chunk["usage"] = usage
            return f"data: {json.dumps(chunk)}\n\n"

        def delta(content: str) -> str:
            return event([{"index": 0, "delta": {"content": content}, "finish_reason": None}])

        words = text.split()
        if Lie.SHORT_DESPITE_IGNORE_EOS in lies:
            words, finish_reason = words[:3], "stop"
        claimed = len(words)
        if Lie.OVERCLAIM_USAGE in lies:
            claimed, words = max_tokens or len(words), words[:10]
        if Lie.UNDERCLAIM_USAGE in lies:
            claimed = 1
        yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        if Lie.STALL_AFTER_HEADERS in lies or (Lie.HANG_EVERY_20TH in lies and next(self._stream_count) % 20 == 0):
            while True:  # heartbeats only; ends when the client leaves or the server stops
                await asyncio.sleep(0.2)
                yield ": keep-alive\n\n"
        if Lie.WHITESPACE_FIRST in lies:
            yield delta(" ")
        await asyncio.sleep(self.first_token_delay_s)
        for i, word in enumerate(words):
            if i and self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
            if Lie.NON_OPENAI_ERROR_CHUNK in lies and i == 2:
                yield f"data: {json.dumps({'object': 'error', 'message': 'engine crashed (scripted)', 'code': 500})}\n\n"
                yield "data: [DONE]\n\n"
                return
            if Lie.CLOSE_MID_STREAM in lies and i == 3:
                raise ConnectionAbortedError("scripted: connection cut mid-stream")  # uvicorn drops the connection
            yield delta(word if i == 0 else " " + word)
        yield event([{"index": 0, "delta": {}, "finish_reason": finish_reason}])
        yield event([], _usage(prompt_tokens, claimed))
        yield "data: [DONE]\n\n"


class _QuietScriptedCuts(logging.Filter):
    """Lie.CLOSE_MID_STREAM cuts connections on purpose: keep uvicorn from logging each as a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, ConnectionAbortedError) and str(exc).startswith("scripted:"))


logging.getLogger("uvicorn.error").addFilter(_QuietScriptedCuts())


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


def main(argv: list[str] | None = None) -> int:
    """Serve in the foreground (127.0.0.1 only), e.g. to try the smoke suite by hand."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m loadtests.testing.scripted_server", description=main.__doc__)
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--model", action="append", metavar="NAME", help="served model (repeatable; default scripted-model)")
    parser.add_argument("--api-key-file", metavar="PATH", help="require this bearer key")
    parser.add_argument("--fault", action="append", default=[], choices=[f.value for f in Fault], help="break one behaviour (repeatable)")
    parser.add_argument("--reply", action="append", default=[], metavar="KEYWORD=TEXT", help="answer prompts containing KEYWORD with TEXT")
    ns = parser.parse_args(argv)
    replies = {}
    for item in ns.reply:
        keyword, sep, text = item.partition("=")
        if not sep or not keyword:
            parser.error(f"--reply {item!r}: expected KEYWORD=TEXT")
        replies[keyword] = text.replace("\\n", "\n")
    api_key = None
    if ns.api_key_file:
        with open(ns.api_key_file, encoding="utf-8") as handle:
            api_key = handle.read().strip()
    server = ScriptedServer(models=ns.model or ["scripted-model"], api_key=api_key, replies=replies,
                            faults={Fault(f) for f in ns.fault})
    uvicorn.run(server.app, host="127.0.0.1", port=ns.port, log_level="warning")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
