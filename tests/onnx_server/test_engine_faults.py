"""The engine process frozen (SIGSTOP) or killed (SIGKILL): probes tell the truth, requests get JSON answers."""

from __future__ import annotations

import os
import signal
import threading

import httpx

from tests.fixtures.onnx_fixtures import engine_frozen, start_onnx_server
from tests.fixtures.tiny_model import build_tiny_model
from tests.onnx_server.test_concurrency import gauge, wait_for


def completion(server, request_id: str, **body) -> httpx.Response:
    # Token ids: a text prompt would wait for the (frozen) engine's tokenizer.
    return httpx.post(server.base_url + "/v1/completions", timeout=30,
                      headers={**server.headers, "x-request-id": request_id},
                      json={"model": server.model, "prompt": [5, 6, 7], "max_tokens": 4, **body})


def test_a_frozen_engine_fails_health_and_recovers(tiny_onnx_model_dir, tmp_path):
    server = start_onnx_server(tiny_onnx_model_dir, tmp_path, api_key="k-frozen",
                               extra_args=["--engine-heartbeat-timeout", "2"])
    try:
        assert httpx.get(server.base_url + "/health").status_code == 200
        with engine_frozen(server):
            assert wait_for(lambda: httpx.get(server.base_url + "/health").status_code == 503, timeout=20)
            health = httpx.get(server.base_url + "/health").json()["error"]
            assert health["code"] == "engine_stalled" and "heartbeat" in health["message"]
            ready = httpx.get(server.base_url + "/ready")
            assert ready.status_code == 503 and ready.json()["error"]["code"] == "engine_stalled"
            refused = completion(server, "while-frozen")
            assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
            assert refused.json()["error"]["code"] == "engine_stalled"
            assert wait_for(lambda: any(e["msg"] == "engine heartbeat missed" for e in server.log_entries()))
        assert wait_for(lambda: httpx.get(server.base_url + "/health").status_code == 200, timeout=20)
        assert httpx.get(server.base_url + "/ready").status_code == 200
        assert completion(server, "after-thaw").status_code == 200
        assert wait_for(lambda: any(e["msg"] == "engine heartbeat resumed" for e in server.log_entries()))
        messages = [e["msg"] for e in server.log_entries()]
        assert messages.index("engine heartbeat resumed") > messages.index("engine heartbeat missed")
        assert server.request_statuses("while-frozen") == [503]
    finally:
        server.stop()


def test_queued_requests_get_503_json_when_the_engine_dies(tmp_path):
    server = start_onnx_server(build_tiny_model(size="medium"), tmp_path, api_key="k-killed",
                               extra_args=["--max-concurrency", "1", "--max-queue", "2",
                                           "--engine-heartbeat-timeout", "120"])  # frozen on purpose below
    try:
        answers: dict = {}
        with httpx.stream("POST", server.base_url + "/v1/completions", headers=server.headers, timeout=30,
                          json={"model": server.model, "prompt": "hello", "max_tokens": 1900, "ignore_eos": True,
                                "stream": True}) as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("data: {")
            with engine_frozen(server) as pid:  # the stream holds the only slot
                waiters = [threading.Thread(target=lambda i=i: answers.update({i: completion(server, f"queued-{i}")}))
                           for i in range(2)]
                for waiter in waiters:
                    waiter.start()
                assert wait_for(lambda: gauge(server, "num_requests_waiting") == 2)
                os.kill(pid, signal.SIGKILL)
                for waiter in waiters:
                    waiter.join(timeout=30)
            rest = [line for line in lines if line.startswith("data: ")]
        assert rest[-1] == "data: [DONE]" and "engine process exited" in rest[-2]
        for i in range(2):
            assert answers[i].status_code == 503, answers[i].text
            error = answers[i].json()["error"]
            assert error["code"] == "engine_down" and "engine process exited" in error["message"]
            assert answers[i].headers["retry-after"] == "5"
        assert server.process.wait(timeout=30) == 1  # the orchestrator restarts it
        assert server.request_statuses("queued-0") == [503] and server.request_statuses("queued-1") == [503]
        log = server.log_text()
        assert "engine process exited" in log
        assert "BrokenPipe" not in log and "unhandled error" not in log
    finally:
        server.stop()

