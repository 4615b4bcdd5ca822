"""A real Prometheus (Debian package `prometheus`) on 127.0.0.1 scrapes a vLLM stand-in and the
kit's ONNX server, evaluates the rendered rules, and the test watches alerts through the HTTP API.

Prometheus scrapes and evaluates every second here; the rendered rules are loaded unchanged, so an
alert with `for: 5m` is seen `pending` within seconds of its condition becoming true.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from components.endpoints import server_endpoints
from components.monitoring import alerts
from tests.fixtures.onnx_fixtures import free_port
from tests.fixtures.tiny_model import REPO_ROOT
from tests.monitoring import promtool
from tests.monitoring.configs import loaded

MISSING = "prometheus not found: install the Debian package `prometheus` (apt-get install -y prometheus)"
DEADLINE_S = 40
MODELS_NS = "slmkit-models"


def wait_for(check, what: str, timeout: float = DEADLINE_S, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: process exited with {proc.returncode}")
        try:
            last = check()
            if last:
                return last
        except httpx.TransportError as err:
            last = err
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last!r}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def vllm_exporter():
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.monitoring.vllm_exporter", "--port", str(port)],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(url + "/metrics", timeout=2).status_code == 200, "the vLLM stand-in", 20, proc)
        yield url
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def prometheus(vllm_exporter, onnx_server, tmp_path_factory):
    binary = shutil.which("prometheus")
    if binary is None:
        raise AssertionError(MISSING)
    cfg = loaded([
        {"name": "phi", "engine": "vllm", "model": "Qwen/Qwen2.5-1.5B-Instruct", "gpus": 1, "nodePool": "gpu",
         "dtype": "float16", "maxModelLen": 4096},
        {"name": "tiny", "engine": "onnx", "model": "Qwen/Qwen2.5-0.5B-Instruct", "revision": "1" * 40,
         "resources": {"cpu": "2", "memory": "8Gi"}},
    ], monitoring={"scrapeInterval": "1s", "alerts": {"queueBacklog": 5}}).stack
    work = tmp_path_factory.mktemp("prometheus")
    promtool.write_rules(alerts.prometheus_rule(cfg, server_endpoints(cfg))["spec"]["groups"], work / "rules.yaml")

    def target(url: str, engine: str, server: str) -> dict:
        # The labels the kit's PodMonitors attach (server, slmkit_engine, namespace).
        return {"targets": [url.removeprefix("http://")],
                "labels": {"server": server, "slmkit_engine": engine, "namespace": MODELS_NS}}

    (work / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(work / "rules.yaml")],
        "scrape_configs": [
            {"job_name": "vllm", "static_configs": [target(vllm_exporter, "vllm", "phi")]},
            {"job_name": "onnx", "static_configs": [target(onnx_server.base_url, "onnx", "tiny")]},
        ],
    }), encoding="utf-8")
    port = free_port()
    log = open(work / "prometheus.log", "wb")  # noqa: SIM115 (closed below, after the process)
    proc = subprocess.Popen([binary, f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(url + "/-/ready", timeout=2).status_code == 200, "Prometheus ready", 30, proc)
        wait_for(lambda: {t["labels"]["job"] for t in api(url, "/targets")["activeTargets"] if t["health"] == "up"}
                 == {"vllm", "onnx"}, "both targets up", proc=proc)
        yield url
    finally:
        stop(proc)
        log.close()


def api(base: str, path: str, **params) -> dict:
    reply = httpx.get(f"{base}/api/v1{path}", params=params, timeout=5)
    reply.raise_for_status()
    return reply.json()["data"]


def query(base: str, expr: str) -> list[dict]:
    return api(base, "/query", query=expr)["result"]


def alert_state(base: str, name: str, server: str) -> str | None:
    for a in api(base, "/alerts")["alerts"]:
        if a["labels"]["alertname"] == name and a["labels"].get("server") == server:
            return a["state"]
    return None


def set_metric(exporter: str, metric: str, value: float) -> None:
    httpx.post(f"{exporter}/set", params={"metric": metric, "value": value}, timeout=5).raise_for_status()


def test_rules_load_into_prometheus(prometheus):
    groups = {g["name"]: g for g in api(prometheus, "/rules")["groups"]}
    assert {"slmkit.recording", "slmkit.servers"} <= set(groups)
    assert all(r["health"] == "ok" for g in groups.values() for r in g["rules"]), groups


def test_queue_backlog_alert_goes_pending_then_clears(prometheus, vllm_exporter):
    assert alert_state(prometheus, "SlmQueueBacklog", "phi") is None
    set_metric(vllm_exporter, "vllm:num_requests_waiting", 12)  # threshold 5 in this stack
    state = wait_for(lambda: alert_state(prometheus, "SlmQueueBacklog", "phi"), "SlmQueueBacklog pending")
    assert state in ("pending", "firing")
    (sample,) = query(prometheus, 'slmkit:requests_waiting:sum{server="phi"}')
    assert float(sample["value"][1]) == 12
    set_metric(vllm_exporter, "vllm:num_requests_waiting", 0)
    wait_for(lambda: alert_state(prometheus, "SlmQueueBacklog", "phi") is None, "SlmQueueBacklog cleared")


def test_kv_cache_alert_reads_the_current_vllm_metric(prometheus, vllm_exporter):
    set_metric(vllm_exporter, "vllm:kv_cache_usage_perc", 0.97)
    try:
        assert wait_for(lambda: alert_state(prometheus, "SlmKvCacheNearFull", "phi"), "SlmKvCacheNearFull pending")
    finally:
        set_metric(vllm_exporter, "vllm:kv_cache_usage_perc", 0.1)


def test_onnx_server_metrics_reach_the_kits_recorded_series(prometheus, onnx_server):
    def complete() -> None:
        body = {"model": onnx_server.model, "prompt": "hello world", "max_tokens": 8, "ignore_eos": True}
        reply = httpx.post(onnx_server.base_url + "/v1/completions", json=body, headers=onnx_server.headers, timeout=30)
        assert reply.status_code == 200

    complete()
    wait_for(lambda: query(prometheus, 'slmkit:generation_tokens:rate5m{server="tiny", slmkit_engine="onnx"} > 0'),
             "ONNX generation rate recorded")
    (running,) = query(prometheus, 'slmkit:requests_running:sum{server="tiny"}')
    assert running["metric"]["namespace"] == MODELS_NS
    # The per-status counter appears with the first request; rate() sees the second one.
    wait_for(lambda: query(prometheus, 'onnxserver:requests_total{server="tiny", status="200"}'), "status series scraped")
    complete()
    ratio = 'slmkit:request_errors:rate5m{server="tiny"} / slmkit:requests:rate5m{server="tiny"}'
    (sample,) = wait_for(lambda: query(prometheus, f"{ratio} >= 0"), "ONNX error ratio recorded")
    # No 5xx: the ratio is 0 (not absent), and the error alerts stay quiet.
    assert float(sample["value"][1]) == 0.0
    assert alert_state(prometheus, "SlmErrorRateCritical", "tiny") is None
