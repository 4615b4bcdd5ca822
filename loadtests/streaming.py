"""One streamed OpenAI-compatible request, measured from our own clock.

Locust stops its timer at the response headers, which is neither TTFT nor latency for a stream, so we
time every content chunk ourselves and report (vLLM's definitions):
TTFT = first content chunk - send; E2EL = last chunk - send; TPOT = (E2EL - TTFT) / (N - 1);
ITL = gaps between content chunks. N comes from the server's `usage`, else it is estimated from chunks.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import gevent

# Chunk fields that carry generated output (reasoning and tool calls are tokens too).
_DELTA_FIELDS = ("content", "reasoning_content", "reasoning", "tool_calls")


def new_record(request_id: str, worker: str, model: str, endpoint: str, scheduled_at: float | None) -> dict[str, Any]:
    return {
        "id": request_id, "worker": worker, "model": model, "endpoint": endpoint,
        "scheduled_at": scheduled_at, "sent_at": None, "queue_delay_ms": None,
        "status": "failed", "http_status": None, "error": None,
        "headers_ms": None, "ttft_ms": None, "e2el_ms": None, "tpot_ms": None, "itl_ms": [],
        "output_tokens": None, "output_tokens_source": None, "prompt_tokens": None,
        "content_chunks": 0, "finish_reason": None,
    }


def has_output(choice: dict) -> bool:
    if "text" in choice:  # /v1/completions
        return bool(choice["text"])
    delta = choice.get("delta") or {}
    return any(delta.get(f) for f in _DELTA_FIELDS)


def error_message(resp) -> str:
    """The OpenAI-style error message of a failed response, else its status line."""
    try:
        body = json.loads(resp.text or "")
        err = body.get("error", body)
        message = err.get("message") if isinstance(err, dict) else str(err)
        return f"HTTP {resp.status_code}: {message}"[:300]
    except (ValueError, AttributeError, TypeError):
        return f"HTTP {resp.status_code}: {(resp.text or '')[:200]}"


def stream_request(session, path: str, body: dict, headers: dict, record: dict, label: str) -> dict:
    """POST `body` with stream=True through Locust's FastHttpSession and fill `record` in place.

    The request's Locust row is rewritten to show E2EL instead of Locust's header time; TTFT and TPOT
    are not fired as extra requests (they would count in Locust's RPS): the LLM tab shows them.
    """
    t0 = time.perf_counter()
    record["sent_at"] = time.time()
    if record["scheduled_at"] is not None:
        record["queue_delay_ms"] = max(0.0, (record["sent_at"] - record["scheduled_at"]) * 1000)
    chunk_times: list[float] = []
    last_chunk = None
    done = False
    try:
        with session.request("POST", path, json=body, headers=headers, stream=True, catch_response=True, name=label) as resp:
            record["headers_ms"] = (time.perf_counter() - t0) * 1000
            record["http_status"] = resp.status_code or None
            if resp.status_code != 200:
                record["error"] = error_message(resp) if resp.status_code else f"connection failed: {getattr(resp, 'error', 'unknown error')}"
                resp.failure(record["error"])
                return record
            raw = resp._response  # geventhttpclient response: readline returns each SSE line as it arrives
            while True:
                line = raw.readline(b"\n")
                if not line:
                    break
                line = line.strip()
                if not line.startswith(b"data:"):
                    continue
                data = line[5:].strip()
                if data == b"[DONE]":
                    done = True
                    break
                now = time.perf_counter()
                last_chunk = now
                event = json.loads(data)
                if event.get("error"):
                    err = event["error"]
                    record["error"] = f"error event in stream: {err.get('message', err) if isinstance(err, dict) else err}"[:300]
                    break
                if event.get("usage"):
                    record["output_tokens"] = event["usage"].get("completion_tokens")
                    record["prompt_tokens"] = event["usage"].get("prompt_tokens")
                for choice in event.get("choices") or ():
                    if has_output(choice):
                        chunk_times.append(now)
                    if choice.get("finish_reason"):
                        record["finish_reason"] = choice["finish_reason"]
            finish(record, t0, chunk_times, last_chunk, done)
            if record["status"] == "ok":
                resp.request_meta["response_time"] = record["e2el_ms"]
                resp.request_meta["response_length"] = record["output_tokens"]
                resp.success()
            else:
                resp.failure(record["error"])
    except gevent.GreenletExit:
        # The run ended while this stream was still open: not the server's fault.
        record["status"], record["error"] = "incomplete", "stopped by the end of the run"
        raise
    except (OSError, ValueError, gevent.Timeout) as exc:  # socket errors, timeouts, malformed JSON
        record["status"], record["error"] = "failed", f"{type(exc).__name__}: {exc}"[:300]
    return record


def finish(record: dict, t0: float, chunk_times: list[float], last_chunk: float | None, done: bool) -> None:
    if record["error"]:
        return
    if not done:
        record["error"] = "stream ended before data: [DONE]"
        return
    if not chunk_times:
        record["error"] = "stream carried no output"
        return
    record["ttft_ms"] = (chunk_times[0] - t0) * 1000
    record["e2el_ms"] = ((last_chunk or chunk_times[-1]) - t0) * 1000
    record["itl_ms"] = [round((b - a) * 1000, 3) for a, b in itertools.pairwise(chunk_times)]
    record["content_chunks"] = len(chunk_times)
    if record["output_tokens"] is not None:
        record["output_tokens_source"] = "usage"
    else:
        record["output_tokens"], record["output_tokens_source"] = len(chunk_times), "estimated"
    n = record["output_tokens"]
    if n and n > 1:
        record["tpot_ms"] = (record["e2el_ms"] - record["ttft_ms"]) / (n - 1)
    record["status"] = "ok"
