"""What the stacks really declare (offline plans of stacks/*.yaml under the mock engine)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from components.catalog.charts import CHARTS
from components.config import load_from_file
from components.platform.namespaces import kit_namespaces
from components.traffic import names
from tests.fixtures.plans import REPO, STACKS

TRAFFIC_CHARTS = {"envoy-gateway", "ai-gateway-crds", "ai-gateway", "cert-manager", "keda"}


def _manifests(plan: Path) -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((plan / "manifests").glob("*.yaml"))]


def _kinds(objs: list[dict], kind: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind]


def _config(stack: str):
    return load_from_file(str(REPO / "stacks" / f"Pulumi.{stack}.yaml"))[0].stack


def test_prod_plan_has_the_gateway_tls_keys_and_a_backend_per_server(rendered_plans):
    objs = _manifests(rendered_plans["prod"])
    cfg = _config("prod")
    (gw,) = _kinds(objs, "Gateway")
    assert gw["metadata"]["name"] == names.GATEWAY
    (route,) = _kinds(objs, "AIGatewayRoute")
    routed = {r["matches"][0]["headers"][0]["value"]: [b["name"] for b in r["backendRefs"]] for r in route["spec"]["rules"]}
    expected = {name: [s.name] for s in cfg.servers for name in
                ([s.served_name] + ([v.name for v in s.ollama.variants] if s.engine == "ollama" else []))}
    assert routed == expected
    assert {b["metadata"]["name"] for b in _kinds(objs, "AIServiceBackend")} == {s.name for s in cfg.servers}
    (policy,) = _kinds(objs, "SecurityPolicy")
    assert policy["spec"]["apiKeyAuth"]["credentialRefs"][0]["name"] == names.CLIENT_KEYS_SECRET
    (secret,) = [s for s in _kinds(objs, "Secret") if s["metadata"]["name"] == names.CLIENT_KEYS_SECRET]
    assert set(secret["stringData"]) == set(cfg.gateway.api_key_names)
    assert set(secret["stringData"].values()) == {"<redacted>"}
    (cert,) = [c for c in _kinds(objs, "Certificate") if c["metadata"]["name"] == names.CERTIFICATE]
    assert cert["spec"]["dnsNames"] == [cfg.gateway.hostname]
    assert _kinds(objs, "BackendTrafficPolicy")  # prod sets a token rate limit
    assert _kinds(objs, "ClientTrafficPolicy")[0]["spec"]["connection"]["bufferLimit"] == cfg.gateway.request_buffer_limit


def test_prod_plan_installs_the_operators_as_pinned_releases(rendered_plans):
    resources = json.loads((rendered_plans["prod"] / "resources.json").read_text())
    releases = [r for r in resources if r["type"] == "kubernetes:helm.sh/v3:Release"]
    by_name = {r["inputs"]["name"]: r["inputs"] for r in releases}
    for key in TRAFFIC_CHARTS:
        chart = CHARTS[key]
        release = by_name[getattr(names, f"RELEASE_{key.upper().replace('-', '_')}")]
        assert release["version"] == chart.version and release["version"][0] in "v0123456789"
        assert release["chart"] in (chart.name, f"{chart.repo}/{chart.name}")


@pytest.mark.parametrize("stack", STACKS)
def test_no_model_server_service_is_exposed_outside_the_cluster(rendered_plans, stack):
    cfg = _config(stack)
    services = {s["metadata"]["name"]: s for s in _kinds(_manifests(rendered_plans[stack]), "Service")
                if s["metadata"].get("namespace") == cfg.namespaces.models}
    for server in cfg.servers:
        assert services[server.name]["spec"].get("type", "ClusterIP") == "ClusterIP", server.name
    assert all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services.values())


@pytest.mark.parametrize("stack", STACKS)
def test_each_deployment_has_at_most_one_autoscaler_and_scaling_servers_exactly_one(rendered_plans, stack):
    cfg = _config(stack)
    objs = _manifests(rendered_plans[stack])
    owners = Counter()
    for obj in _kinds(objs, "ScaledObject") + _kinds(objs, "HorizontalPodAutoscaler"):
        ref = obj["spec"]["scaleTargetRef"]
        owners[(obj["metadata"]["namespace"], ref.get("kind", "Deployment"), ref["name"])] += 1
    assert all(n == 1 for n in owners.values()), owners
    for server in cfg.servers:
        scales = server.autoscaling.enabled and server.replicas.max > server.replicas.min
        assert owners[(cfg.namespaces.models, "Deployment", server.name)] == (1 if scales else 0), server.name
    if stack == "prod":
        vllm = [s.name for s in cfg.servers if s.engine == "vllm"]
        queue = {o["spec"]["scaleTargetRef"]["name"]: o["spec"]["triggers"][0]["metadata"]["query"]
                 for o in _kinds(objs, "ScaledObject")}
        assert vllm and all("vllm:num_requests_waiting" in queue[n] for n in vllm)


@pytest.mark.parametrize("stack", STACKS)
def test_every_kit_namespace_has_default_deny_and_allow_lists(rendered_plans, stack):
    cfg = _config(stack)
    policies = _kinds(_manifests(rendered_plans[stack]), "NetworkPolicy")
    for namespace in kit_namespaces(cfg).values():
        mine = {p["metadata"]["name"]: p for p in policies if p["metadata"]["namespace"] == namespace}
        assert "default-deny" in mine and mine["default-deny"]["spec"]["podSelector"] == {}
        assert "allow-dns" in mine, (namespace, sorted(mine))


def test_local_without_gateway_declares_no_gateway_objects(rendered_plans):
    cfg = _config("local")
    objs = _manifests(rendered_plans["local"])
    assert not cfg.gateway.enabled, "the local stack runs without a gateway (port-forward, docs/traffic.md)"
    assert not [o for o in objs if o["apiVersion"].startswith(("gateway.", "aigateway.", "cert-manager."))]


def test_traffic_objects_are_children_of_the_traffic_component(rendered_plans):
    resources = json.loads((rendered_plans["prod"] / "resources.json").read_text())
    (component,) = [r for r in resources if r["type"] == "slmkit:traffic:Traffic"]
    kinds = ("ScaledObject", "AIGatewayRoute", "SecurityPolicy", "NetworkPolicy", "helm.sh/v3:Release")
    mine = [r for r in resources if r["type"].endswith(kinds) and r["parent"] == component["urn"]]
    network = [r for r in resources if r["type"].endswith("NetworkPolicy")]
    # The chat UI declares its own namespace's policies, the GPU software component the GPU namespace's.
    others = [r for r in network if r["parent"] != component["urn"]]
    assert all(r["name"].startswith(("slmkit-chat/", "gpu-operator/")) for r in others), [r["name"] for r in others]
    assert {r["type"].rsplit(":", 1)[-1] for r in mine} >= {"ScaledObject", "AIGatewayRoute", "SecurityPolicy",
                                                              "NetworkPolicy", "Release"}
