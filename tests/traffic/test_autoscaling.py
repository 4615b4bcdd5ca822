"""KEDA: exactly one autoscaler per Deployment that scales, none otherwise, on metrics the engines
really emit."""

from __future__ import annotations

import importlib.util
import re

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from components.catalog import metrics as catalog
from components.endpoints import server_endpoints
from components.traffic import autoscaling
from tests.fixtures.plans import REPO

from .configs import OLLAMA, ONNX, VLLM, loaded, server

ONNX_METRICS = REPO / "docker" / "onnx-server" / "onnx_server" / "metrics.py"
METRIC_NAME = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")


def _objects(servers, **extra):
    cfg = loaded(servers, **extra).stack
    return cfg, server_endpoints(cfg), autoscaling.scaled_objects(cfg, server_endpoints(cfg))


def test_one_scaled_object_per_scaling_deployment_and_none_when_fixed_or_disabled():
    servers = [server(VLLM, name="scales"), server(VLLM, name="fixed", servedModelName="fixed", replicas={"min": 2, "max": 2}),
               server(VLLM, name="off", servedModelName="off", autoscaling={"enabled": False}), server(ONNX), server(OLLAMA)]
    cfg, eps, objs = _objects(servers)
    targets = [o["spec"]["scaleTargetRef"]["name"] for o in objs]
    assert sorted(targets) == ["gemma", "qwen-cpu", "scales"]
    by_name = {ep.name: ep for ep in eps}
    for obj in objs:
        ep = by_name[obj["spec"]["scaleTargetRef"]["name"]]
        assert obj["spec"]["scaleTargetRef"]["kind"] == "Deployment" and ep.deployment_name == obj["spec"]["scaleTargetRef"]["name"]
        assert (obj["spec"]["minReplicaCount"], obj["spec"]["maxReplicaCount"]) == (ep.min_replicas, ep.max_replicas)
        assert obj["metadata"]["namespace"] == ep.namespace
    for spec in cfg.servers:  # the server component asks the same question to leave replicas alone
        assert autoscaling.has_autoscaler(cfg, spec) == (spec.name in targets)


def _queries(obj: dict) -> dict[str, str]:
    return {t["name"]: t["metadata"]["query"] for t in obj["spec"]["triggers"]}


def test_vllm_scales_on_its_waiting_queue_and_optionally_kv_cache():
    _, _, (obj,) = _objects([server(VLLM, autoscaling={"kvCacheThreshold": 0.85, "targetQueueDepth": 10})])
    queries = _queries(obj)
    assert queries["queue"] == 'sum(vllm:num_requests_waiting{namespace="slmkit-models",server="phi"})'
    assert queries["kv-cache"] == 'sum(vllm:kv_cache_usage_perc{namespace="slmkit-models",server="phi"})'
    thresholds = {t["name"]: t["metadata"]["threshold"] for t in obj["spec"]["triggers"]}
    assert thresholds == {"queue": "10", "kv-cache": "0.85"}
    # AverageValue everywhere: HPA divides by replicas, and KEDA's fallback only works with it.
    assert {t["metricType"] for t in obj["spec"]["triggers"]} == {"AverageValue"}
    assert obj["spec"]["triggers"][0]["metadata"]["serverAddress"] == \
        "http://slmkit-prometheus.slmkit-monitoring.svc.cluster.local:9090"


def _onnx_server_metric_names() -> set[str]:
    """The sample names the kit's ONNX server exposes, from its own metrics class (not the catalog)."""
    # Loaded by path: a test package of the same name (tests/onnx_server) can shadow the server's.
    spec = importlib.util.spec_from_file_location("slmkit_onnx_server_metrics", ONNX_METRICS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    metrics = module.ServerMetrics("tiny")
    text = generate_latest(metrics.registry).decode()
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples} | \
        {family.name for family in text_string_to_metric_families(text)}


def test_trigger_queries_use_only_metric_names_the_engines_emit():
    servers = [server(VLLM, replicas={"min": 0, "max": 2}, autoscaling={"scaleToZero": True, "kvCacheThreshold": 0.9}),
               server(ONNX), server(OLLAMA)]
    _, _, objs = _objects(servers)
    emitted = catalog.emitted_series()
    onnx_names = _onnx_server_metric_names()
    assert "onnxserver:num_requests_waiting" in onnx_names
    used = set()
    for obj in objs:
        for query in _queries(obj).values():
            for name in METRIC_NAME.findall(query):
                assert name in emitted, f"{name} is not a metric any exporter emits"
                if name.startswith("onnxserver:"):
                    assert name in onnx_names, f"{name} is not registered by the ONNX server"
                used.add(name)
    assert {"vllm:num_requests_waiting", "vllm:kv_cache_usage_perc", "onnxserver:num_requests_waiting",
            "gen_ai_server_request_duration_seconds_sum", "gen_ai_server_request_duration_seconds_count"} == used


CANDIDATES = {"gemma3:1b", "gemma3x1b", "qwen2.5-strict", "qwen2x5-strict", "qwen-1.5b", "qwen-1x5b", "gemma3:1b-x"}


def _model_matcher(query: str) -> set[str]:
    """Which candidate model names the query's label regex selects (PromQL regexes are anchored)."""
    literal = re.search(r'gen_ai_request_model=~"((?:[^"\\]|\\.)*)"', query).group(1)
    pattern = re.compile(literal.encode().decode("unicode_escape"))  # PromQL string literal -> regex
    return {c for c in CANDIDATES if pattern.fullmatch(c)}


def test_ollama_scales_on_in_flight_requests_for_all_its_model_names():
    _, _, (obj,) = _objects([server(OLLAMA, ollama={"numParallel": 4, "variants": [{"name": "qwen2.5-strict"}]},
                                    autoscaling={"targetQueueDepth": 2})])
    (trigger,) = obj["spec"]["triggers"]
    query = trigger["metadata"]["query"]
    assert _model_matcher(query) == {"gemma3:1b", "qwen2.5-strict"}
    assert query.startswith("sum(rate(gen_ai_server_request_duration_seconds_sum")
    assert trigger["metadata"]["threshold"] == "6"  # 4 parallel slots + 2 waiting per replica


def test_scale_to_zero_wakes_on_gateway_requests_and_waits_out_the_cooldown():
    _, _, (obj,) = _objects([server(VLLM, replicas={"min": 0, "max": 2},
                                    autoscaling={"scaleToZero": True, "cooldownSeconds": 600})])
    spec = obj["spec"]
    assert spec["minReplicaCount"] == 0 and spec["cooldownPeriod"] == 600 and spec["initialCooldownPeriod"] == 600
    keep_alive = next(t for t in spec["triggers"] if t["name"] == "keep-alive")
    assert keep_alive["metadata"]["activationThreshold"] == "0"
    assert "[600s]" in keep_alive["metadata"]["query"]
    assert _model_matcher(keep_alive["metadata"]["query"]) == {"qwen-1.5b"}


def test_stabilization_and_fallback_suit_minute_long_cold_starts():
    _, _, (obj,) = _objects([server(VLLM, replicas={"min": 1, "max": 4}, autoscaling={"fallbackReplicas": 2})])
    behavior = obj["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 60
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert behavior["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 120}]
    assert obj["spec"]["fallback"] == {"failureThreshold": 3, "replicas": 2, "behavior": "currentReplicasIfHigher"}


def test_gateway_triggers_read_series_from_the_scraped_sidecar_port():
    """Ollama's in-flight trigger and the scale-from-zero wake-up read the AI Gateway's series, which
    only exist if the gateway PodMonitor scrapes the port the ext_proc sidecar really has."""
    from components.catalog import upstream
    from components.monitoring import scrape

    cfg, _, objs = _objects([server(OLLAMA),
                             server(VLLM, replicas={"min": 0, "max": 2}, autoscaling={"scaleToZero": True})])
    (endpoint,) = scrape.gateway_pod_monitor(cfg, "30s")["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == upstream.AIGW_EXTPROC_ADMIN_PORT_NAME.value
    exposed = set().union(*(f.series() for f in catalog.GATEWAY.families()))
    gateway_triggers = [t for o in objs for t in o["spec"]["triggers"] if t["name"] in ("in-flight", "keep-alive")]
    assert {t["name"] for t in gateway_triggers} == {"in-flight", "keep-alive"}
    for trigger in gateway_triggers:
        used = set(METRIC_NAME.findall(trigger["metadata"]["query"]))
        assert used and used <= exposed, (trigger["name"], used - exposed)
