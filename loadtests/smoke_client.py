"""A small OpenAI-compatible HTTP client for the smoke checks.

Raw httpx rather than the openai SDK on purpose: the checks must see exactly what the server
sent (a missing ``finish_reason``, a 200 where a 4xx belongs, ``arguments`` that are not JSON),
and the SDK smooths some of that over or raises before we can report it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from loadtests.deadline import Deadline, fetch, iter_bytes, iter_lines
from loadtests.tls import untrusted


class EndpointError(Exception):
    """The endpoint as a whole is unusable (unreachable, key rejected, no models): one-line reason."""


@dataclass
class ChatAnswer:
    """What one chat completion came back with, streaming or not, normalised for the checks."""

    status_code: int
    latency_ms: float
    content: str = ""
    # Text a reasoning parser split off the answer (vLLM: reasoning_content / reasoning).
    reasoning: str = ""
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    tool_calls: list[Any] = field(default_factory=list)
    # Streaming only: did the stream end with ``data: [DONE]``; non-streaming: always True.
    completed: bool = True
    error_body: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


def normalise_host(host: str) -> str:
    """Return the server root (``scheme://host[:port][/prefix]``) from a URL, accepting a trailing ``/v1``."""
    parts = urlsplit(host.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--host {host!r}: expected an http(s) URL such as http://127.0.0.1:8000")
    if parts.query or parts.fragment:
        raise ValueError(f"--host {host!r}: a server URL has no query or fragment")
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        path = path[: -len("/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"


class OpenAIEndpoint:
    """Talks to one OpenAI-compatible server; never follows redirects, so traffic stays on that host.
    Each request must finish within `timeout_s` of wall clock (a trickling server cannot stretch it)."""

    def __init__(self, host: str, api_key: str | None, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=normalise_host(host) + "/v1",
            headers=headers,
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "OpenAIEndpoint":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def list_models(self) -> list[str]:
        """The served model ids; EndpointError with a one-line reason when the endpoint is unusable."""
        try:
            resp = fetch(self._client, "GET", "/models", self._timeout_s)
        except httpx.HTTPError as exc:
            raise EndpointError(untrusted(exc) or f"endpoint unreachable: GET /v1/models: {type(exc).__name__}: {exc}") from exc
        if resp.status_code in (401, 403):
            raise EndpointError(f"API key rejected: GET /v1/models answered {resp.status_code}")
        if resp.status_code != 200:
            raise EndpointError(f"GET /v1/models answered {resp.status_code}: {_error_text(resp)}")
        try:
            data = resp.json()["data"]
            return [str(entry["id"]) for entry in data]
        except (ValueError, KeyError, TypeError) as exc:
            raise EndpointError(f"GET /v1/models: not an OpenAI model list: {_snippet(resp.text)}") from exc

    def chat(self, body: dict[str, Any]) -> ChatAnswer:
        """One non-streaming chat completion. Transport errors propagate as httpx.HTTPError."""
        started = time.perf_counter()
        resp = fetch(self._client, "POST", "/chat/completions", self._timeout_s, json={**body, "stream": False})
        latency_ms = (time.perf_counter() - started) * 1000
        if not 200 <= resp.status_code < 300:
            return ChatAnswer(resp.status_code, latency_ms, error_body=_error_text(resp))
        try:
            payload = resp.json()
            choice = payload["choices"][0]
            message = choice.get("message") or {}
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            return ChatAnswer(resp.status_code, latency_ms, completed=False, error_body=_snippet(resp.text))
        return ChatAnswer(
            status_code=resp.status_code,
            latency_ms=latency_ms,
            content=message.get("content") or "",
            reasoning=_reasoning(message),
            finish_reason=choice.get("finish_reason"),
            usage=payload.get("usage"),
            tool_calls=message.get("tool_calls") or [],
        )

    def chat_stream(self, body: dict[str, Any]) -> ChatAnswer:
        """One streaming chat completion, read to the end (server-sent events, ``data: [DONE]``)."""
        request = {**body, "stream": True, "stream_options": {"include_usage": True}}
        started = time.perf_counter()
        pieces: list[str] = []
        thoughts: list[str] = []
        answer = ChatAnswer(status_code=0, latency_ms=0.0, completed=False)
        deadline = Deadline(self._timeout_s, "POST /v1/chat/completions (stream)")
        with self._client.stream("POST", "/chat/completions", json=request, timeout=deadline.timeout()) as resp:
            answer.status_code = resp.status_code
            if not 200 <= resp.status_code < 300:
                body = b"".join(iter_bytes(resp, deadline))  # an error body is held to the deadline too
                answer.error_body = _error_text(httpx.Response(resp.status_code, content=body))
            else:
                for line in iter_lines(resp, deadline):
                    if not line.startswith("data:"):
                        continue  # blank separators, comments, event: lines
                    data = line[len("data:"):].strip()
                    if data == "[DONE]":
                        answer.completed = True
                        break
                    try:
                        chunk = json.loads(data)
                    except ValueError:
                        answer.error_body = f"stream chunk is not JSON: {_snippet(data)}"
                        break
                    if "error" in chunk:
                        answer.error_body = f"error event in stream: {_snippet(json.dumps(chunk['error']))}"
                        break
                    if chunk.get("usage"):
                        answer.usage = chunk["usage"]
                    for choice in chunk.get("choices") or []:
                        delta = choice.get("delta") or {}
                        pieces.append(delta.get("content") or "")
                        thoughts.append(_reasoning(delta))
                        if choice.get("finish_reason"):
                            answer.finish_reason = choice["finish_reason"]
        answer.latency_ms = (time.perf_counter() - started) * 1000
        answer.content = "".join(pieces)
        answer.reasoning = "".join(thoughts)
        return answer


def _reasoning(message: dict[str, Any]) -> str:
    value = message.get("reasoning_content") or message.get("reasoning") or ""
    return value if isinstance(value, str) else ""


def _error_text(resp: httpx.Response) -> str:
    """The message of an OpenAI-style error body ({"error": {"message": ...}}), else the body itself."""
    try:
        message = resp.json()["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return _snippet(resp.text)
    return _snippet(str(message))


def _snippet(text: str, limit: int = 200) -> str:
    """A short single-line excerpt of a body, for reasons that must fit on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."
