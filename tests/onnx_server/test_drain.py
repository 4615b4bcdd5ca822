"""SIGTERM drains: admission stops (503 JSON + Retry-After), running requests finish or end with an error,
queued ones are answered, and the process exits 0. The engine is frozen (SIGSTOP) to hold requests in
flight for as long as each step needs, however fast the machine is."""

from __future__ import annotations

import json
import signal
import threading

import httpx

from tests.fixtures.onnx_fixtures import engine_frozen, start_onnx_server
from tests.fixtures.tiny_model import build_tiny_model
from tests.onnx_server.test_concurrency import gauge, wait_for


def medium(tmp_path, *args: str):
    # The engine is frozen to hold requests in flight: a long heartbeat timeout keeps that from reading as a stall.
    return start_onnx_server(build_tiny_model(size="medium"), tmp_path, api_key="k-drain",
                             extra_args=[*args, "--engine-heartbeat-timeout", "120"])


def long_stream(server, request_id: str):
    return httpx.stream("POST", server.base_url + "/v1/completions", timeout=60,
                        headers={**server.headers, "x-request-id": request_id},
                        json={"model": server.model, "prompt": "hello", "max_tokens": 1900, "ignore_eos": True,
                              "stream": True, "stream_options": {"include_usage": True}})


def post(server, request_id: str, **body) -> httpx.Response:
    return httpx.post(server.base_url + "/v1/completions", timeout=60,
                      headers={**server.headers, "x-request-id": request_id},
                      json={"model": server.model, "prompt": [5, 6, 7], "max_tokens": 4, **body})


def in_thread(results: dict, key: str, call) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.update({key: call()}))
    thread.start()
    return thread


def events(lines) -> list:
    return [line[len("data: "):] for line in lines if line.startswith("data: ")]


def assert_shutting_down(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "shutting_down"
    assert response.headers["retry-after"] == "1"


def test_sigterm_lets_running_streams_finish_and_refuses_the_rest(tmp_path):
    server = medium(tmp_path, "--drain-seconds", "60", "--max-concurrency", "1", "--max-queue", "2")
    try:
        results: dict = {}
        with long_stream(server, "drain-finishes") as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("data: {")
            with engine_frozen(server):  # the stream cannot end before the checks below
                queued = in_thread(results, "queued", lambda: post(server, "drain-queued"))
                assert wait_for(lambda: gauge(server, "num_requests_waiting") == 1)
                server.process.send_signal(signal.SIGTERM)
                assert wait_for(lambda: httpx.get(server.base_url + "/ready").status_code == 503)
                assert httpx.get(server.base_url + "/ready").json()["error"]["code"] == "shutting_down"
                assert httpx.get(server.base_url + "/health").status_code == 200  # draining is not dead
                assert_shutting_down(post(server, "drain-new"))
                queued.join(timeout=30)
                assert_shutting_down(results["queued"])
            rest = events(lines)  # the engine runs again: the stream ends normally
        assert rest[-1] == "[DONE]"
        usage = json.loads(rest[-2])["usage"]
        assert usage["completion_tokens"] == 1900
        assert json.loads(rest[-3])["choices"][0]["finish_reason"] == "length"
        assert not any('"error"' in e for e in rest)
        assert server.process.wait(timeout=30) == 0
        entries = server.log_entries()
        drained = next(e for e in entries if e["msg"] == "drained")
        assert drained["ended_early"] == 0
        assert "graceful shutdown exceeded" not in server.log_text()  # nothing left for uvicorn to cut
        assert server.request_statuses("drain-finishes") == [200]
        assert server.request_statuses("drain-queued") == [503] and server.request_statuses("drain-new") == [503]
    finally:
        server.stop()


def test_requests_still_running_at_the_drain_deadline_end_with_an_error(tmp_path):
    server = medium(tmp_path, "--drain-seconds", "2", "--max-concurrency", "2")
    try:
        results: dict = {}
        with long_stream(server, "drain-cut-stream") as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("data: {")
            running = in_thread(results, "plain", lambda: post(server, "drain-cut-plain", prompt="hello",
                                                                max_tokens=1900, ignore_eos=True))
            assert wait_for(lambda: gauge(server, "num_requests_running") == 2)
            with engine_frozen(server):  # neither can finish within the 2 s drain
                server.process.send_signal(signal.SIGTERM)
                rest = events(lines)
                running.join(timeout=30)
        assert rest[-1] == "[DONE]"
        error = json.loads(rest[-2])["error"]
        assert error["code"] == "shutting_down" and "drain" in error["message"]
        assert_shutting_down(results["plain"])
        assert server.process.wait(timeout=30) == 0
        drained = next(e for e in server.log_entries() if e["msg"] == "drained")
        assert drained["ended_early"] == 2
        assert "graceful shutdown exceeded" not in server.log_text()
        # The stream's headers had gone out as 200; it was ended by the server, not left by its client.
        assert server.request_statuses("drain-cut-stream") == [200]
        assert server.request_statuses("drain-cut-plain") == [503]
    finally:
        server.stop()
