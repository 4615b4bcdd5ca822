"""Dashboards as code: the panels the issue asks for, queries that parse and read only metric names
the exporters really emit, and ConfigMaps Grafana's sidecar picks up."""

from __future__ import annotations

import json

import pytest

from components.catalog import metrics as catalog
from components.endpoints import server_endpoints
from components.monitoring import alerts, dashboards
from components.monitoring.helm import stack_values
from tests.monitoring.configs import OLLAMA, ONNX, loaded
from tests.monitoring.promql import metric_names

OVERVIEW_PANELS = {
    "Requests per second", "Error rate (5xx share)", "Time to first token", "Inter-token latency",
    "End-to-end request latency", "Output tokens per second", "Requests waiting (queue depth)", "Requests running",
    "KV-cache usage (average across pods)", "Preemptions per second", "Tokens per model at the gateway", "Replicas",
}
GPU_PANELS = {"GPU utilization per node", "GPU utilization per pod", "GPU memory used per node",
              "GPU memory used per pod", "GPU temperature", "GPU power per node", "GPU power per pod"}


@pytest.fixture(scope="module")
def full():
    cfg = loaded().stack  # vLLM on a GPU pool, ONNX and Ollama on CPU
    eps = server_endpoints(cfg)
    return cfg, eps, dashboards.dashboards(cfg, eps)


def queries(model: dict) -> list[str]:
    return [t["expr"] for p in model["panels"] for t in p.get("targets", [])]


def test_overview_and_gpu_dashboards_have_every_panel(full):
    _, _, boards = full
    for model in boards.values():
        assert all(p["type"] == "timeseries" and p["options"]["tooltip"]["mode"] == "multi" for p in model["panels"])
    assert {p["title"] for p in boards[dashboards.OVERVIEW_UID]["panels"]} == OVERVIEW_PANELS
    assert {p["title"] for p in boards[dashboards.GPU_UID]["panels"]} == GPU_PANELS


def test_queries_read_only_metric_names_the_exporters_emit(full):
    _, _, boards = full
    emitted = catalog.emitted_series()
    for uid, model in boards.items():
        used = {name for q in queries(model) for name in metric_names(q)}
        assert used, uid
        assert used <= emitted, f"{uid} reads names no exporter emits: {sorted(used - emitted)}"


def test_every_engine_and_gpu_family_is_on_a_dashboard(full):
    """The catalog and the dashboards move together: a metric worth cataloguing is worth a panel."""
    _, _, boards = full
    used = {name for model in boards.values() for q in queries(model) for name in metric_names(q)}
    for engine in catalog.ENGINES.values():
        for fam in (engine.running, engine.waiting, engine.ttft, engine.itl, engine.e2e, engine.generation_tokens,
                    engine.requests, engine.kv_cache_usage, engine.preemptions):
            if fam is not None:
                assert fam.series() & used, f"{engine.engine}: {fam.name} is on no panel"
    for fam in catalog.DCGM.families():
        assert fam.name in used


def test_alert_rules_read_only_emitted_or_recorded_names(full):
    cfg, eps, _ = full
    groups = alerts.prometheus_rule(cfg, eps)["spec"]["groups"]
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    allowed = catalog.emitted_series() | recorded
    for g in groups:
        for rule in g["rules"]:
            used = metric_names(rule["expr"])
            assert used <= allowed, f"{rule.get('alert') or rule['record']}: {sorted(used - allowed)}"


def test_kv_cache_is_averaged_across_pods_never_summed(full):
    _, _, boards = full
    panel = next(p for p in boards[dashboards.OVERVIEW_UID]["panels"] if p["title"].startswith("KV-cache"))
    (target,) = panel["targets"]
    assert target["expr"].startswith("avg by (server) (vllm:kv_cache_usage_perc")


def test_panels_query_one_target_per_engine_in_the_stack(full):
    _, _, boards = full
    ttft = next(p for p in boards[dashboards.OVERVIEW_UID]["panels"] if p["title"] == "Time to first token")
    names = {n for t in ttft["targets"] for n in metric_names(t["expr"])}
    assert names == {"vllm:time_to_first_token_seconds_bucket", "onnxserver:time_to_first_token_seconds_bucket"}
    assert len({t["refId"] for t in ttft["targets"]}) == len(ttft["targets"])


def test_ollama_only_stack_shows_gateway_tokens_and_no_gpu_page():
    cfg = loaded([OLLAMA]).stack
    boards = dashboards.dashboards(cfg, server_endpoints(cfg))
    assert set(boards) == {dashboards.OVERVIEW_UID}
    titles = {p["title"] for p in boards[dashboards.OVERVIEW_UID]["panels"]}
    # No server-side metrics at all: what remains is what the gateway and kube-state-metrics see.
    assert titles == {"Output tokens per second", "Tokens per model at the gateway", "Replicas"}
    tokens = next(p for p in boards[dashboards.OVERVIEW_UID]["panels"] if p["title"] == "Output tokens per second")
    assert metric_names(tokens["targets"][0]["expr"]) == {"gen_ai_client_token_usage_sum"}
    assert 'gen_ai_token_type="output"' in tokens["targets"][0]["expr"]


def test_no_gateway_panel_without_a_gateway():
    cfg = loaded([ONNX], gateway={"enabled": False}).stack
    model = dashboards.dashboards(cfg, server_endpoints(cfg))[dashboards.OVERVIEW_UID]
    assert all("gen_ai_" not in q for q in queries(model))
    assert "Tokens per model at the gateway" not in {p["title"] for p in model["panels"]}


def test_onnx_only_stack_has_no_vllm_only_panels():
    cfg = loaded([ONNX]).stack
    model = dashboards.dashboards(cfg, server_endpoints(cfg))[dashboards.OVERVIEW_UID]
    titles = {p["title"] for p in model["panels"]}
    assert "KV-cache usage (average across pods)" not in titles and "Preemptions per second" not in titles
    assert all("vllm:" not in q for q in queries(model))


def test_config_maps_are_labelled_for_the_grafana_sidecar(full):
    cfg, eps, boards = full
    maps = dashboards.dashboard_config_maps(cfg, eps)
    sidecar = stack_values(cfg)["grafana"]["sidecar"]["dashboards"]
    assert len(maps) == len(boards)
    for cm in maps:
        labels = cm["metadata"]["labels"]
        assert labels[sidecar["label"]] == sidecar["labelValue"]
        assert cm["metadata"]["namespace"] == cfg.namespaces.monitoring == sidecar["searchNamespace"]
        assert labels["app.kubernetes.io/part-of"] == "slmkit"
        (key, text), = cm["data"].items()
        model = json.loads(text)
        assert key == f"{model['uid']}.json" and model["uid"] in boards
        assert all(t["datasource"]["uid"] == "${datasource}" for p in model["panels"] for t in p["targets"])


def test_server_variable_lists_the_configured_servers(full):
    cfg, _, boards = full
    var = next(v for v in boards[dashboards.OVERVIEW_UID]["templating"]["list"] if v["name"] == "server")
    assert var["query"].split(",") == [s.name for s in cfg.servers]
    assert var["includeAll"] is True
