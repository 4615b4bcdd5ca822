"""Metrics move with traffic; logs are JSON lines with the request id and never the prompt or the key."""

from __future__ import annotations

import json

import httpx
from prometheus_client.parser import text_string_to_metric_families

SECRET_PROMPT = "purple elephant secret phrase"


def scrape(server) -> dict[tuple[str, tuple], float]:
    text = httpx.get(server.base_url + "/metrics").text
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_move_after_requests(onnx_server):
    m = {"model_name": onnx_server.model}
    before = scrape(onnx_server)
    body = {"model": onnx_server.model, "prompt": "hello world", "max_tokens": 9, "ignore_eos": True}
    reply = httpx.post(onnx_server.base_url + "/v1/completions", json=body, headers=onnx_server.headers, timeout=30)
    assert reply.status_code == 200
    httpx.post(onnx_server.base_url + "/v1/completions", json={**body, "model": "nope"}, headers=onnx_server.headers)
    after = scrape(onnx_server)
    prompt_tokens = reply.json()["usage"]["prompt_tokens"]
    assert value(after, "onnxserver:prompt_tokens_total", **m) - value(before, "onnxserver:prompt_tokens_total",
                                                                        **m) == prompt_tokens
    assert value(after, "onnxserver:generation_tokens_total", **m) - value(
        before, "onnxserver:generation_tokens_total", **m) == 9
    for hist in ("time_to_first_token_seconds", "e2e_request_latency_seconds"):
        name = f"onnxserver:{hist}_count"
        assert value(after, name, **m) == value(before, name, **m) + 1
    itl = "onnxserver:inter_token_latency_seconds_count"
    assert value(after, itl, **m) - value(before, itl, **m) == 8  # gaps between 9 tokens
    for status in ("200", "404"):
        name = "onnxserver:requests_total"
        assert value(after, name, status=status, **m) == value(before, name, status=status, **m) + 1
    assert value(after, "onnxserver:num_requests_running", **m) == 0
    assert value(after, "onnxserver:num_requests_waiting", **m) == 0


def test_logs_are_json_with_request_id_and_no_prompt_or_key(onnx_server):
    body = {"model": onnx_server.model, "messages": [{"role": "user", "content": SECRET_PROMPT}], "max_tokens": 4}
    response = httpx.post(onnx_server.base_url + "/v1/chat/completions", json=body,
                          headers={**onnx_server.headers, "x-request-id": "trace-abc-123"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "trace-abc-123"
    generated = httpx.get(onnx_server.base_url + "/v1/models", headers=onnx_server.headers)
    assert len(generated.headers["x-request-id"]) == 32
    log = onnx_server.log_text()
    entries = [json.loads(line) for line in log.splitlines() if line.strip()]
    ours = [e for e in entries if e.get("request_id") == "trace-abc-123"]
    assert ours and ours[-1]["status"] == 200 and ours[-1]["prompt_tokens"] > 0
    assert SECRET_PROMPT not in log
    assert onnx_server.api_key not in log
