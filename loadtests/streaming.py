"""One streamed OpenAI-compatible request, measured from our own clock, believing only what arrived.

Locust stops its timer at the response headers, which is neither TTFT nor latency for a stream, so we
time every output chunk ourselves and report (vLLM's definitions, with TTFT made robust):
TTFT = first chunk with non-whitespace output - send; E2EL = last chunk - send;
TPOT = (E2EL - TTFT) / (N - 1), N counted from that first visible chunk; ITL = gaps between output chunks.
N comes from the server's `usage` when the stream bears it out (`usage_agrees`), else from the chunks.

Every request has a wall-clock deadline (the profile's request_timeout_s) for the whole exchange, so
a server that trickles bytes or sends SSE heartbeats without tokens fails instead of holding the run.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from typing import Any

import gevent

# Chunk fields that carry generated output (reasoning and tool calls are tokens too).
_DELTA_FIELDS = ("content", "reasoning_content", "reasoning", "tool_calls")
REQUEST_ID_HEADER = "x-request-id"

# Tokenization slack of the usage check. Bounds from the stream: each chunk carrying output holds at
# least one token; each token (but special ones such as EOS or think markers, which decode to nothing)
# decodes to at least one UTF-8 byte. Usage outside [chunks, bytes] by more than this slack is a lie.
USAGE_SLACK_TOKENS = 2
USAGE_SLACK_RATIO = 0.05


class StreamDeadline(Exception):
    """The request's wall-clock deadline passed before the answer was complete."""


def new_record(request_id: str, worker: str, model: str, endpoint: str, scheduled_at: float | None) -> dict[str, Any]:
    return {
        "id": request_id, "worker": worker, "model": model, "endpoint": endpoint,
        "scheduled_at": scheduled_at, "sent_at": None, "queue_delay_ms": None,
        "status": "failed", "http_status": None, "error": None,
        "headers_ms": None, "ttft_ms": None, "e2el_ms": None, "tpot_ms": None, "itl_ms": [],
        "output_tokens": None, "output_tokens_source": None, "prompt_tokens": None,
        "content_chunks": 0, "output_bytes": 0, "usage_completion_tokens": None, "usage_agrees": None,
        "response_model": None, "model_mismatch": False, "max_tokens": None, "ignore_eos": False, "output_length_ok": None,
        "finish_reason": None,
    }


def output_text(choice: dict) -> str:
    """The generated text a chunk's choice carries (tool calls as their name and argument text)."""
    if "text" in choice:  # /v1/completions
        return choice["text"] if isinstance(choice["text"], str) else ""
    delta = choice.get("delta") or {}
    parts = []
    for field in _DELTA_FIELDS:
        value = delta.get(field)
        if isinstance(value, str):
            parts.append(value)
        elif field == "tool_calls" and isinstance(value, list):  # partial calls: their name and argument text
            parts.append("".join(_tool_call_text(c) for c in value))
    return "".join(parts)


def _tool_call_text(call: Any) -> str:
    fn = (call.get("function") or {}) if isinstance(call, dict) else {}
    return f"{fn.get('name') or ''}{fn.get('arguments') or ''}" or "\x00"  # a call with no text is still output


def has_output(choice: dict) -> bool:
    return bool(output_text(choice))


def stream_allows(tokens: int, chunks: int, output_bytes: int) -> bool:
    """Whether `tokens` output tokens fit what the stream carried, within the tokenization slack."""
    low = chunks - USAGE_SLACK_TOKENS - USAGE_SLACK_RATIO * chunks
    high = output_bytes + USAGE_SLACK_TOKENS + USAGE_SLACK_RATIO * output_bytes
    return low <= tokens <= high


def error_message(resp) -> str:
    """The OpenAI-style error message of a failed response, else its status line."""
    try:
        body = json.loads(resp.text or "")
        err = body.get("error", body)
        message = err.get("message") if isinstance(err, dict) else str(err)
        return f"HTTP {resp.status_code}: {message}"[:300]
    except (ValueError, AttributeError, TypeError):
        return f"HTTP {resp.status_code}: {(resp.text or '')[:200]}"


def chunk_problem(event: Any) -> str | None:
    """Why a data: line is not an OpenAI stream chunk (error events of any shape included), else None."""
    if not isinstance(event, dict):
        return f"not an OpenAI stream chunk: {json.dumps(event)[:200]}"
    if event.get("error"):
        err = event["error"]
        return f"error event in stream: {err.get('message', err) if isinstance(err, dict) else err}"[:300]
    if event.get("object") == "error" or not isinstance(event.get("choices"), list):
        # vLLM's older {"object": "error", "message": ...}, a bare {"detail": ...}, anything else
        return f"not an OpenAI stream chunk: {json.dumps(event)[:200]}"
    return None


def _discard_connection(raw) -> None:
    """Close the socket of a broken stream instead of returning it to the pool (the next request
    would inherit a dead connection and fail for the gate's reason, not the server's)."""
    pool, sock = getattr(raw, "_pool", None), getattr(raw, "_sock", None)
    if sock is not None:
        with contextlib.suppress(Exception):
            if pool is not None:
                pool.release_socket(sock)
            else:
                sock.close()
        raw._sock = raw._pool = None


def stream_request(session, path: str, body: dict, headers: dict, record: dict, label: str,
                   deadline_s: float | None = None) -> dict:
    """POST `body` with stream=True through Locust's FastHttpSession and fill `record` in place.

    The request's Locust row is rewritten to show E2EL instead of Locust's header time; TTFT and TPOT
    are not fired as extra requests (they would count in Locust's RPS): the LLM tab shows them.
    The whole exchange must end within `deadline_s` seconds (wall clock), else it fails.
    """
    t0 = time.perf_counter()
    record["sent_at"] = time.time()
    record["max_tokens"], record["ignore_eos"] = body.get("max_tokens"), bool(body.get("ignore_eos"))
    if record["scheduled_at"] is not None:
        record["queue_delay_ms"] = max(0.0, (record["sent_at"] - record["scheduled_at"]) * 1000)
    state = {"chunk_times": [], "blank_chunks": 0, "last_chunk": None, "done": False}
    timer = gevent.Timeout(deadline_s, StreamDeadline) if deadline_s else None
    # The record's id travels as x-request-id: the ONNX server logs it (the gateway preserves it), so a
    # line of requests.jsonl leads to that request's server log lines (docs/monitoring.md#logs).
    headers = {**headers, REQUEST_ID_HEADER: record["id"]}
    try:
        if timer:
            timer.start()
        with session.request("POST", path, json=body, headers=headers, stream=True, catch_response=True, name=label) as resp:
            record["headers_ms"] = (time.perf_counter() - t0) * 1000
            record["http_status"] = resp.status_code or None
            if resp.status_code != 200:
                record["error"] = error_message(resp) if resp.status_code else f"connection failed: {_cause(resp)}"
                resp.failure(record["error"])
                return record
            raw = resp._response  # geventhttpclient response: readline returns each SSE line as it arrives
            try:
                _read_events(raw, record, state)
                finish(record, t0, state)
            except gevent.GreenletExit:
                _stopped(record, t0, deadline_s, state)
                _discard_connection(raw)
                raise
            except Exception as exc:  # noqa: BLE001 - a cut chunked body (HTTPParseError), socket errors, bad JSON, the deadline
                _failed(record, exc, deadline_s, state)
            if record["status"] == "ok":
                resp.request_meta["response_time"] = record["e2el_ms"]
                resp.request_meta["response_length"] = record["output_tokens"]
                resp.success()
            else:
                _discard_connection(raw)
                resp.failure(record["error"])
    except gevent.GreenletExit:
        if record["status"] != "incomplete" and not record["error"]:
            _stopped(record, t0, deadline_s, state)
        raise
    except Exception as exc:  # noqa: BLE001 - before the headers: connect errors, the deadline
        _failed(record, exc, deadline_s, state)
    finally:
        if timer:
            timer.close()
    return record


def _failed(record: dict, exc: Exception, deadline_s: float | None, state: dict) -> None:
    """Every failure carries a reason, never null."""
    record["status"] = "failed"
    if isinstance(exc, StreamDeadline):
        record["error"] = f"deadline exceeded: no complete answer within {deadline_s:g} s (request_timeout_s)"
    else:
        record["error"] = f"{_stream_position(state)}{type(exc).__name__}: {exc or 'no detail'}"[:300]


def _stopped(record: dict, t0: float, deadline_s: float | None, state: dict) -> None:
    """The run ended while this request was open: incomplete, unless it was out of time anyway."""
    if deadline_s and time.perf_counter() - t0 >= deadline_s - 0.05:
        _failed(record, StreamDeadline(), deadline_s, state)
    else:
        record["status"], record["error"] = "incomplete", "stopped by the end of the run"


def _cause(resp) -> str:
    error = getattr(resp, "error", None) or (getattr(resp, "request_meta", None) or {}).get("exception")
    return f"{type(error).__name__}: {error}" if error else "no response from the server"


def _stream_position(state: dict) -> str:
    n = len(state["chunk_times"]) + state["blank_chunks"]
    return f"stream cut after {n} output chunk(s): " if n else ""


def _read_events(raw, record: dict, state: dict) -> None:
    asked = record["model"]
    while True:
        line = raw.readline(b"\n")
        if not line:
            return
        line = line.strip()
        if not line.startswith(b"data:"):
            continue  # blank separators, ": heartbeat" comments, event: lines
        data = line[5:].strip()
        if data == b"[DONE]":
            state["done"] = True
            return
        now = time.perf_counter()
        state["last_chunk"] = now
        event = json.loads(data)
        if problem := chunk_problem(event):
            record["error"] = problem
            return
        if event.get("model") != asked and not record["model_mismatch"]:
            record["model_mismatch"], record["response_model"] = True, event.get("model")
        elif record["response_model"] is None:
            record["response_model"] = event.get("model")
        if event.get("usage"):
            record["usage_completion_tokens"] = event["usage"].get("completion_tokens")
            record["prompt_tokens"] = event["usage"].get("prompt_tokens")
        for choice in event["choices"]:
            text = output_text(choice) if isinstance(choice, dict) else ""
            if text:
                record["content_chunks"] += 1
                record["output_bytes"] += len(text.encode())
                if state["chunk_times"] or text.strip():
                    state["chunk_times"].append(now)
                else:
                    state["blank_chunks"] += 1  # whitespace before the answer: not the first token
            if isinstance(choice, dict) and choice.get("finish_reason"):
                record["finish_reason"] = choice["finish_reason"]


def finish(record: dict, t0: float, state: dict) -> None:
    if record["error"]:
        return
    chunk_times = state["chunk_times"]
    if not state["done"]:
        record["error"] = (f"{_stream_position(state) or 'stream ended with no output: '}"
                           "the connection closed before data: [DONE]")
        return
    if not chunk_times:
        record["error"] = "stream carried only whitespace" if state["blank_chunks"] else "stream carried no output"
        return
    record["ttft_ms"] = (chunk_times[0] - t0) * 1000
    record["e2el_ms"] = ((state["last_chunk"] or chunk_times[-1]) - t0) * 1000
    record["itl_ms"] = [round((b - a) * 1000, 3) for a, b in itertools.pairwise(chunk_times)]
    claimed = record["usage_completion_tokens"]
    if isinstance(claimed, int) and not isinstance(claimed, bool):
        record["usage_agrees"] = stream_allows(claimed, record["content_chunks"], record["output_bytes"])
    elif claimed is not None:
        record["usage_agrees"] = False  # a usage that is not a token count
    if record["usage_agrees"]:
        record["output_tokens"], record["output_tokens_source"] = claimed, "usage"
    else:
        # No usage, or usage the stream contradicts: count what arrived (one token per output chunk).
        record["output_tokens"] = record["content_chunks"]
        record["output_tokens_source"] = "estimated" if claimed is None else "stream"
    if record["ignore_eos"] and isinstance(record["max_tokens"], int):
        record["output_length_ok"] = (claimed == record["max_tokens"] if record["usage_agrees"]
                                      else stream_allows(record["max_tokens"], record["content_chunks"], record["output_bytes"]))
    n = record["output_tokens"] - state["blank_chunks"]  # tokens from the first visible one on
    if n > 1:
        record["tpot_ms"] = (record["e2el_ms"] - record["ttft_ms"]) / (n - 1)
    record["status"] = "ok"
