"""Vertical Pod Autoscalers: recommendation mode for CPU servers and the gateway, `vertical: auto` on
request, none for GPU servers, refused where they would fight a horizontal scaler, and visible in
kube-state-metrics, the dashboard and plan.txt."""

from __future__ import annotations

import json
import math

import jsonschema
import pytest

from components import capacity
from components.catalog import metrics, models, vpa as catalog
from components.config import load_from_file
from components.config.vertical import vertical_problems
from components.endpoints import server_endpoints
from components.monitoring import dashboards, helm
from components.offline.render import vertical_plan_lines
from components.platform.aks import cluster_settings
from components.traffic import gateway, names, vertical

from .configs import ONNX, OLLAMA, VLLM, loaded, problems, server, warnings

ON = {"verticalScaling": {"enabled": True}}


def vpas(cfg):
    return {o["metadata"]["name"]: o for o in vertical.vertical_pod_autoscalers(cfg, server_endpoints(cfg))}


def test_cpu_servers_and_the_gateway_get_recommendations_gpu_servers_none():
    cfg = loaded([VLLM, ONNX, OLLAMA], gateway={"enabled": True}, **ON).stack
    out = vpas(cfg)
    assert set(out) == {"qwen-cpu", "gemma", "slmkit-gateway-proxy"}
    assert {o["spec"]["updatePolicy"]["updateMode"] for o in out.values()} == {"Off"}
    assert out["qwen-cpu"]["spec"]["targetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "qwen-cpu"}
    proxy = out["slmkit-gateway-proxy"]
    assert (proxy["metadata"]["namespace"], proxy["spec"]["targetRef"]["name"]) == (cfg.namespaces.system, names.PROXY_DEPLOYMENT)
    # The proxy Deployment really has that name: the EnvoyProxy sets it.
    assert gateway.envoy_proxy(cfg)["spec"]["provider"]["kubernetes"]["envoyDeployment"]["name"] == names.PROXY_DEPLOYMENT


def test_auto_recreates_pods_and_never_goes_below_the_models_memory():
    cfg = loaded([server(ONNX, vertical="auto")], **ON).stack
    obj = vpas(cfg)["qwen-cpu"]
    assert obj["spec"]["updatePolicy"]["updateMode"] == "Recreate"
    spec = cfg.servers[0]
    need = capacity.onnx_fit(spec, models.lookup(spec.model, spec.engine)).needed_gib
    assert obj["spec"]["resourcePolicy"]["containerPolicies"][0]["minAllowed"] == {"memory": f"{math.ceil(need)}Gi"}


def test_existing_clusters_have_no_vpa_until_enabled_and_aks_turns_the_managed_one_on():
    assert vpas(loaded([ONNX]).stack) == {}
    assert any("verticalScaling.enabled" in line for line in problems([server(ONNX, vertical="recommend")]))
    loaded_aks, _ = load_from_file("stacks/Pulumi.prod.yaml")
    assert cluster_settings(loaded_aks.stack)["workload_auto_scaler_profile"] == {"vertical_pod_autoscaler": {"enabled": True}}
    off = loaded_aks.stack.model_copy(update={"vertical_scaling": loaded_aks.stack.vertical_scaling.model_copy(update={"enabled": False})})
    assert cluster_settings(off)["workload_auto_scaler_profile"]["vertical_pod_autoscaler"]["enabled"] is False


def test_gpu_servers_refuse_a_vpa_and_say_why():
    (line,) = problems([server(VLLM, vertical="auto")], **ON)
    assert line.startswith("stacks/Pulumi.test.yaml: slmkit:servers[0].vertical = auto: GPU servers are sized by the capacity plan")


def test_auto_with_a_cpu_scaler_on_the_same_deployment_is_refused():
    cfg = loaded([server(ONNX, vertical="auto")], **ON).stack
    (problem,) = vertical_problems(cfg, lambda spec: {"prometheus", "cpu"})
    line = problem.render("stacks/Pulumi.test.yaml")
    assert line.startswith("stacks/Pulumi.test.yaml: slmkit:servers[0].vertical = auto: the KEDA autoscaler")
    assert "cpu" in line and not problem.warning
    # The kit's own triggers (queue depth) do not clash: the same config loads.
    assert vertical_problems(cfg, lambda spec: {"prometheus"}) == []
    assert not problems([server(ONNX, vertical="auto")], **ON)


def test_auto_on_one_replica_warns_that_the_updater_will_not_evict():
    lines = warnings([server(ONNX, vertical="auto", replicas={"min": 1, "max": 1})], **ON)
    assert any("2 or more replicas" in line for line in lines)
    assert catalog.UPDATER_MIN_REPLICAS == 2


def test_recommendations_are_visible_in_kube_state_metrics_grafana_and_the_plan():
    cfg = loaded([VLLM, ONNX], **ON).stack
    ksm = helm.kube_state_metrics_values(cfg)
    assert ksm["customResourceState"]["enabled"] is True
    (resource,) = ksm["customResourceState"]["config"]["spec"]["resources"]
    assert resource["groupVersionKind"] == {"group": "autoscaling.k8s.io", "kind": catalog.KIND, "version": "v1"}
    produced = {"kube_customresource_" + m["name"] for m in resource["metrics"]}
    assert produced == {f.name for f in metrics.VPA_RECOMMENDATION.values()}
    labels = set(resource["labelsFromPath"]) | {"container", "resource", "unit"}
    assert labels == set(metrics.VPA_LABELS)
    assert ksm["rbac"]["extraRules"][0]["resources"] == ["verticalpodautoscalers"]
    board = dashboards.overview_dashboard(cfg, server_endpoints(cfg))
    exprs = [t["expr"] for p in board["panels"] if p["title"].startswith("VPA") for t in p["targets"]]
    assert exprs and all(any(f.name in e for f in metrics.VPA_RECOMMENDATION.values()) for e in exprs)
    lines = vertical_plan_lines(cfg)
    assert "  slmkit-models/qwen-cpu: VPA updateMode Off" in lines
    assert "  phi: no VPA (GPU server: sized by the capacity plan)" in lines
    assert "customResourceState" not in helm.kube_state_metrics_values(loaded([ONNX]).stack)


def test_vpas_pass_the_kits_schema_and_it_rejects_mistakes():
    cfg = loaded([server(ONNX, vertical="auto"), OLLAMA], gateway={"enabled": True}, **ON).stack
    validator = jsonschema.Draft7Validator(catalog.SPEC_SCHEMA)
    for obj in vpas(cfg).values():
        assert not list(validator.iter_errors(obj)), obj["metadata"]["name"]
    bad = json.loads(json.dumps(next(iter(vpas(cfg).values()))))
    bad["spec"]["updatePolicy"]["updateMode"] = "Always"
    bad["spec"]["resourcePolicy"]["containerPolicies"][0]["controlled"] = "x"
    assert len(list(validator.iter_errors(bad))) == 2


@pytest.mark.parametrize("mode", ["recommend", "auto"])
def test_update_modes_are_in_the_upstream_enum(mode):
    enum = catalog.SPEC_SCHEMA["properties"]["spec"]["properties"]["updatePolicy"]["properties"]["updateMode"]["enum"]
    assert catalog.UPDATE_MODES[mode] in enum


def test_the_gateway_keeps_the_clients_request_id():
    cfg = loaded([ONNX], gateway={"enabled": True}).stack
    assert gateway.client_traffic_policy(cfg)["spec"]["headers"] == {"requestID": "PreserveOrGenerate"}


def test_the_configs_trigger_types_are_the_ones_the_scaled_objects_use():
    from components.config.autoscaling import trigger_types
    from components.traffic.autoscaling import scaled_objects

    cfg = loaded([server(VLLM, autoscaling={"kvCacheThreshold": 0.8}), ONNX, OLLAMA], gateway={"enabled": True}).stack
    objs = scaled_objects(cfg, server_endpoints(cfg))
    assert len(objs) == 3
    for obj in objs:
        spec = next(s for s in cfg.servers if s.name == obj["metadata"]["name"])
        assert {t["type"] for t in obj["spec"]["triggers"]} <= trigger_types(spec)
