"""Log aggregation: Loki and Alloy values, the collector's labels, the log-based alert rules (LogQL
parsed by Grafana's grammar, labels checked against the collector's), the Grafana datasource, the
dashboard's logs panel and links, and the NetworkPolicies around Loki."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.catalog import logs as patterns
from components.config import ConfigError
from components.endpoints import server_endpoints
from components.monitoring import dashboards, helm, logs
from components.traffic import network
from tests.fixtures.plans import REPO
from tests.monitoring.configs import ONNX, VLLM, loaded
from tests.traffic.netpol import Pod, allowed

NODE_MODULES = REPO / "tests" / "workflows" / "node_modules"


def dev():
    return loaded([ONNX], environment="dev").stack


def test_logs_are_off_on_local_and_on_elsewhere_with_the_stack_files_retention():
    assert not logs.enabled(loaded([ONNX]).stack)
    assert logs.enabled(dev())
    cfg = loaded([ONNX], environment="prod", monitoring={"logs": {"retention": "30d"}, "prometheusReplicas": 2}).stack
    assert logs.loki_values(cfg)["loki"]["limits_config"]["retention_period"] == "30d"
    assert logs.loki_values(cfg)["loki"]["compactor"]["retention_enabled"] is True


def test_logs_without_monitoring_are_refused_naming_the_key():
    with pytest.raises(ConfigError) as err:
        loaded([ONNX], monitoring={"enabled": False, "logs": {"enabled": True}})
    assert "slmkit:monitoring.logs.enabled = True" in str(err.value) and "Grafana" in str(err.value)


def test_loki_is_monolithic_single_replica_without_gateway_caches_or_canary():
    values = logs.loki_values(dev())
    assert values["deploymentMode"] == "Monolithic" and values["singleBinary"]["replicas"] == 1
    assert values["loki"]["commonConfig"]["replication_factor"] == 1
    for part in ("gateway", "lokiCanary", "chunksCache", "resultsCache", "test", "minio"):
        assert values[part]["enabled"] is False, part
    assert all(values[c]["replicas"] == 0 for c in ("backend", "read", "write"))
    assert values["loki"]["storage"] == {"type": "filesystem"}
    assert values["singleBinary"]["persistence"]["size"] == dev().monitoring.logs.storage_size
    assert values["defaults"]["automountServiceAccountToken"] is False


def test_on_aks_loki_stores_chunks_in_blob_with_workload_identity():
    blob = logs.AzureBlobStore("acct", "loki", "client-123")
    values = logs.loki_values(dev(), blob)
    assert values["loki"]["storage"] == {"type": "azure", "bucketNames": {"chunks": "loki"},
                                         "azure": {"accountName": "acct", "useFederatedToken": True}}
    assert values["loki"]["schemaConfig"]["configs"][0]["object_store"] == "azure"
    assert values["singleBinary"]["podLabels"] == {"azure.workload.identity/use": "true"}
    assert values["serviceAccount"]["annotations"] == {"azure.workload.identity/client-id": "client-123"}
    assert "accountKey" not in values["loki"]["storage"]["azure"]


def test_the_collector_ships_the_kits_namespaces_with_the_metrics_labels():
    cfg = dev()
    config = logs.alloy_config(cfg)
    names = json.loads("[" + re.search(r"names = \[(.*)\]", config).group(1) + "]")
    assert names == logs.shipped_namespaces(cfg) and cfg.namespaces.models in names
    targets = re.findall(r'target_label  = "([a-z_]+)"', config)
    assert tuple(targets) == logs.STREAM_LABELS
    # The metrics' `server` label comes from the same pod label (scrape.server_pod_monitor).
    assert '"__meta_kubernetes_pod_label_app_kubernetes_io_instance"]\n    target_label  = "server"' in config
    assert f'url = "{logs.loki_url(cfg)}/loki/api/v1/push"' in config
    assert config.count("{") == config.count("}")


def test_the_collector_needs_no_host_access_and_runs_restricted():
    values = logs.alloy_values(dev())
    assert values["alloy"]["mounts"]["varlog"] is False and values["alloy"]["mounts"]["dockercontainers"] is False
    sc = values["alloy"]["securityContext"]
    assert sc["runAsNonRoot"] and sc["readOnlyRootFilesystem"] and sc["capabilities"] == {"drop": ["ALL"]}
    assert values["controller"]["type"] == "deployment"
    assert values["rbac"]["namespaces"] == logs.shipped_namespaces(dev())  # Roles, no ClusterRole
    assert values["rbac"]["rules"] == [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]}]


def test_rule_file_is_a_prometheus_rule_group_file_the_ruler_reads():
    cfg = dev()
    doc = yaml.safe_load(logs.rules_config_map(cfg)["data"][logs.RULE_FILE])
    assert set(doc) == {"groups"}
    (group,) = doc["groups"]
    assert set(group) <= {"name", "interval", "rules", "limit"}
    for rule in group["rules"]:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert rule["labels"]["severity"] in ("critical", "warning")
        anchor = rule["annotations"]["runbook_url"].split("#")[1]
        assert f"#### {rule['alert']}" in (REPO / "docs" / "monitoring.md").read_text(), anchor
    # The ConfigMap is the one the chart mounts for ruler.directories[fake] in monolithic mode.
    assert logs.rules_config_map(cfg)["metadata"]["name"] == f"{logs.LOKI_FULLNAME}-single-binary-rules-{logs.TENANT}"
    assert list(logs.loki_values(cfg)["ruler"]["directories"]) == [logs.TENANT]
    assert logs.loki_values(cfg)["loki"]["rulerConfig"]["storage"]["local"]["directory"] == logs.RULES_DIR


def _parse_logql(queries: list[str]) -> list[dict]:
    modules = Path(os.environ.get("SLMKIT_NODE_MODULES", NODE_MODULES))
    if shutil.which("node") is None or not (modules / "@grafana" / "lezer-logql").is_dir():
        pytest.fail(f"Grafana's LogQL grammar is not installed in {NODE_MODULES}: run `npm ci --prefix tests/workflows` "
                    "(make install does)")
    proc = subprocess.run(["node", str(Path(__file__).with_name("logql_parse.cjs")), str(modules)],
                          input=json.dumps(queries), capture_output=True, text=True, check=True, timeout=60)
    return json.loads(proc.stdout)


def test_logql_queries_parse_and_use_only_the_collectors_labels():
    cfg = dev()
    rules = yaml.safe_load(logs.rules_config_map(cfg)["data"][logs.RULE_FILE])["groups"][0]["rules"]
    queries = [r["expr"] for r in rules] + [dashboards.server_logs_query(cfg.namespaces.models)]
    for query, parsed in zip(queries, _parse_logql(queries), strict=True):
        assert parsed["errors"] == [], f"LogQL syntax error at {parsed['errors']} in {query}"
        assert set(parsed["identifiers"]) <= set(logs.STREAM_LABELS), query
    broken = _parse_logql(['sum by (server) (count_over_time({namespace="x"} |~ "a" [5m]'])
    assert broken[0]["errors"], "the grammar must reject an unclosed query"


@pytest.mark.parametrize("pattern, line", [
    (patterns.CUDA_OOM, "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB"),
    (patterns.CUDA_OOM, "CUDA failure 2: out of memory ; GPU=0 ; hostname=x"),
    (patterns.MODEL_LOAD_FAILED, "RuntimeError: Engine core initialization failed. See root cause above."),
    (patterns.ENGINE_DIED, "vllm.v1.engine.exceptions.EngineDeadError: EngineCore encountered an issue."),
])
def test_patterns_match_the_engines_lines(pattern, line):
    assert re.search(pattern.regex, line)


def test_patterns_match_what_the_onnx_server_really_logs():
    """The JSON lines the kit's ONNX server writes for a failed load and a dead engine."""
    import sys

    sys.path.insert(0, str(REPO / "docker" / "onnx-server"))
    from onnx_server.logs import JsonFormatter

    fmt = JsonFormatter()
    load = fmt.format(logging.makeLogRecord({"msg": "model load failed: %s", "args": ("no genai_config.json",),
                                             "levelname": "ERROR", "name": "onnx_server.app"}))
    died = fmt.format(logging.makeLogRecord({"msg": "engine process exited (code %s); failing %d running requests",
                                             "args": (-9, 3), "levelname": "ERROR", "name": "onnx_server.engine_client"}))
    assert re.search(patterns.MODEL_LOAD_FAILED.regex, load) and re.search(patterns.ENGINE_DIED.regex, died)
    assert not re.search(patterns.ENGINE_DIED.regex, load)


def test_grafana_gets_the_loki_datasource_the_dashboards_use():
    cfg = dev()
    (ds,) = helm.grafana_values(cfg, cfg.namespaces.monitoring)["additionalDataSources"]
    assert (ds["type"], ds["uid"], ds["url"]) == ("loki", dashboards.LOKI_DS.uid, logs.loki_url(cfg))
    assert "additionalDataSources" not in helm.grafana_values(loaded([ONNX]).stack, "slmkit-monitoring")


def test_dashboard_has_a_logs_panel_and_latency_panels_link_to_the_servers_logs():
    cfg = loaded([VLLM, ONNX], environment="dev").stack
    board = dashboards.overview_dashboard(cfg, server_endpoints(cfg))
    (panel,) = [p for p in board["panels"] if p["type"] == "logs"]
    assert panel["datasource"]["uid"] == logs.DATASOURCE_UID
    assert panel["targets"][0]["expr"] == f'{{namespace="{cfg.namespaces.models}", server=~"$server"}}'
    linked = {p["title"] for p in board["panels"] if p.get("fieldConfig", {}).get("defaults", {}).get("links")}
    assert linked == set(dashboards.LATENCY_PANELS)
    latency = next(p for p in board["panels"] if p["title"] == "Time to first token")
    url = latency["fieldConfig"]["defaults"]["links"][0]["url"]
    assert "${__field.labels.server:percentencode}" in url and "${__from}" in url and "${__to}" in url
    # The clicked series carries `server`: every latency query groups by it.
    assert all("server" in t["expr"].split("by (")[1].split(")")[0] for t in latency["targets"])
    local = loaded([VLLM, ONNX]).stack
    assert not [p for p in dashboards.overview_dashboard(local, server_endpoints(local))["panels"] if p["type"] == "logs"]


def _monitoring_pod(labels: dict) -> Pod:
    return Pod("slmkit-monitoring", labels)


def test_loki_is_reached_by_the_collector_grafana_and_prometheus_only():
    cfg = dev()
    policies = network.network_policies(cfg, server_endpoints(cfg))
    loki = _monitoring_pod(logs.LOKI_POD)
    for reader in (logs.ALLOY_POD, network.GRAFANA_POD, network.PROMETHEUS_POD):
        assert allowed(policies, _monitoring_pod(reader), loki, logs.LOKI_PORT), reader
    operator = _monitoring_pod({"app.kubernetes.io/name": "kube-prometheus-stack-prometheus-operator"})
    assert not allowed(policies, operator, loki, logs.LOKI_PORT)
    assert allowed(policies, loki, _monitoring_pod(network.ALERTMANAGER_POD), 9093)  # the ruler's alerts
    assert not allowed(policies, loki, Pod(cfg.namespaces.models, {"app.kubernetes.io/instance": "qwen-cpu"}), 8000)
    assert not allowed(policies, loki, _monitoring_pod(network.GRAFANA_POD), 3000)
    # The rest of the namespace still talks among itself (Grafana -> Prometheus).
    assert allowed(policies, _monitoring_pod(network.GRAFANA_POD), _monitoring_pod(network.PROMETHEUS_POD), 9090)


# The Loki and Alloy values are checked key by key in tests/foundation/test_upstream_charts.py against a
# list read at the pinned tags (REVIEWED_WITHOUT_DATA): ../shared/upstream-charts holds neither chart yet.
