"""Monitors and the PrometheusRule: one PodMonitor per server with /metrics, the gateway's token
metrics, DCGM by GPU source; all valid against the upstream CRDs (strict)."""

from __future__ import annotations

import json
from functools import cache

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from components.catalog import metrics as catalog
from components.endpoints import server_endpoints
from components.monitoring import alerts, scrape
from components.traffic.names import proxy_pod_labels
from tests.fixtures.shared import shared_path
from tests.monitoring.configs import OLLAMA, ONNX, VLLM, loaded



@cache
def validator(api_version: str, kind: str) -> Draft202012Validator:
    group, _, version = api_version.rpartition("/")
    crd_schemas = shared_path("crd-schemas")
    path = crd_schemas / f"{group}_{kind.lower()}_{version}_strict.json"
    assert path.exists(), f"no CRD schema for {api_version} {kind} in {crd_schemas}"
    return Draft202012Validator(json.loads(path.read_text()), format_checker=FormatChecker())


def schema_errors(obj: dict) -> list[str]:
    return [f"{obj['kind']}/{obj['metadata']['name']} {e.json_path}: {e.message}"
            for e in validator(obj["apiVersion"], obj["kind"]).iter_errors(obj)]


def rendered(**kwargs) -> list[dict]:
    cfg = loaded(**kwargs).stack
    eps = server_endpoints(cfg)
    return scrape.monitors(cfg, eps) + [alerts.prometheus_rule(cfg, eps)]


@pytest.mark.parametrize("servers", [[VLLM, ONNX, OLLAMA], [ONNX], [OLLAMA]], ids=["all", "onnx", "ollama"])
def test_custom_resources_validate_against_strict_crd_schemas(servers):
    for obj in rendered(servers=servers):
        assert not schema_errors(obj)
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "slmkit"
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "pulumi"


def test_the_strict_schema_catches_a_typo():
    monitor = rendered(servers=[ONNX])[0]
    monitor["spec"]["podMetricsEndpoints"][0]["intervall"] = "15s"
    assert schema_errors(monitor)


def test_one_pod_monitor_per_server_with_metrics_and_none_for_ollama():
    cfg = loaded().stack
    eps = {ep.name: ep for ep in server_endpoints(cfg)}
    pods = {m["metadata"]["name"]: m for m in scrape.monitors(cfg, list(eps.values())) if m["kind"] == "PodMonitor"}
    assert set(pods) == {"phi-metrics", "qwen-cpu-metrics", scrape.GATEWAY_MONITOR}
    for name in ("phi", "qwen-cpu"):
        spec = pods[f"{name}-metrics"]["spec"]
        ep = eps[name]
        assert spec["selector"]["matchLabels"] == ep.selector
        assert spec["namespaceSelector"] == {"matchNames": [ep.namespace]}
        (endpoint,) = spec["podMetricsEndpoints"]
        assert (endpoint["portNumber"], endpoint["path"], endpoint["interval"]) == (ep.port, "/metrics", "15s")
        relabel = {r["targetLabel"]: r for r in endpoint["relabelings"]}
        assert relabel["slmkit_engine"]["replacement"] == ep.engine
        assert relabel["server"]["sourceLabels"] == ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"]
        assert ep.selector["app.kubernetes.io/instance"] == name  # the label `server` is read from


def test_ollama_endpoint_is_refused_with_a_clear_error():
    cfg = loaded([OLLAMA]).stack
    (ep,) = server_endpoints(cfg)
    with pytest.raises(ValueError, match="no metrics endpoint.*gateway"):
        scrape.server_pod_monitor(ep, "slmkit-monitoring", "15s")


def test_gateway_monitor_scrapes_the_ai_gateway_sidecar_port():
    cfg = loaded().stack
    monitor = scrape.gateway_pod_monitor(cfg, "30s")
    (endpoint,) = monitor["spec"]["podMetricsEndpoints"]
    # AI Gateway v1.1.0's ext_proc sidecar has one container port, aigw-admin (1064), serving /metrics
    # (internal/controller/extproc_builder.go); a PodMonitor naming any other port has no target.
    assert endpoint["port"] == catalog.GATEWAY.container_port_name == "aigw-admin"
    assert endpoint["path"] == "/metrics"
    # the traffic concern's description of its proxy pods (the same labels its NetworkPolicies use)
    assert monitor["spec"]["selector"]["matchLabels"] == proxy_pod_labels(cfg.namespaces.gateway)
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/managed-by"] == "envoy-gateway"
    assert set(monitor["spec"]["namespaceSelector"]["matchNames"]) == {cfg.namespaces.system, cfg.namespaces.gateway}


def test_no_gateway_monitor_without_a_gateway():
    cfg = loaded(gateway={"enabled": False}).stack
    names = [m["metadata"]["name"] for m in scrape.monitors(cfg, server_endpoints(cfg))]
    assert scrape.GATEWAY_MONITOR not in names


@pytest.mark.parametrize(("extra", "source", "namespace", "port"), [
    ({}, "gpu-operator", "gpu-operator", "gpu-metrics"),
    ({"monitoring": {"gpuMetrics": {"operatorNamespace": "nvidia"}}}, "gpu-operator", "nvidia", "gpu-metrics"),
    ({"monitoring": {"gpuMetrics": {"source": "dcgm-exporter"}}}, "dcgm-exporter", "slmkit-monitoring", "metrics"),
])
def test_dcgm_monitor_follows_the_gpu_source(extra, source, namespace, port):
    cfg = loaded(**extra).stack
    assert scrape.gpu_metrics_source(cfg) == source
    monitor = scrape.dcgm_service_monitor(cfg, "15s")
    assert monitor["spec"]["namespaceSelector"]["matchNames"] == [namespace]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == port
    assert endpoint["honorLabels"] is True  # keep the GPU workload's pod/namespace labels
    assert endpoint["relabelings"] == [{"action": "labeldrop", "regex": "pod|namespace|container"}]
    assert not schema_errors(monitor)


def test_no_dcgm_monitor_or_gpu_alert_without_gpu_pools():
    cfg = loaded([ONNX, OLLAMA]).stack
    assert scrape.gpu_metrics_source(cfg) == "none"
    assert scrape.dcgm_service_monitor(cfg, "15s") is None
    assert "SlmGpuMemoryHigh" not in alerts.alert_names(cfg, server_endpoints(cfg))


def test_aks_uses_the_platforms_exporter_service_for_both_gpu_software_choices():
    from components.platform import aks

    pool = {"name": "gpu", "vmSize": "Standard_NC4as_T4_v3"}
    for software in ("gpu-operator", "aks-driver"):
        cfg = loaded([VLLM], cluster={"kind": "aks", "gpuSoftware": software}, nodePools=[pool]).stack
        assert scrape.gpu_metrics_source(cfg) == "gpu-operator"
        monitor = scrape.dcgm_service_monitor(cfg, "15s")
        # The platform's Service shape (components/platform/aks.py) is what the monitor selects.
        assert monitor["spec"]["selector"]["matchLabels"] == {"app": aks.DCGM_SERVICE}
        assert monitor["spec"]["namespaceSelector"]["matchNames"] == [aks.GPU_NAMESPACE]
        assert monitor["spec"]["endpoints"][0]["port"] == aks.DCGM_PORT_NAME


def test_scrape_interval_comes_from_the_config():
    for obj in rendered(servers=[VLLM, ONNX], monitoring={"scrapeInterval": "30s"})[:-1]:
        endpoints = obj["spec"].get("podMetricsEndpoints") or obj["spec"]["endpoints"]
        assert all(e["interval"] == "30s" for e in endpoints)


def test_bad_scrape_interval_is_a_clear_config_error():
    from components.config import ConfigError

    with pytest.raises(ConfigError) as err:
        loaded(monitoring={"scrapeInterval": 15})
    assert "slmkit:monitoring.scrapeInterval" in str(err.value)
