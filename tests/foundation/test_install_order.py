"""What waits for what, read from resources.json (`dependsOn`): every custom resource waits for
the release that installs its CRDs, and every controller that needs CRDs at start waits for them.
Transitive waits count (A waits for B, B for the CRDs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.catalog.charts import CHARTS
from components.catalog.upstream import CONTROLLER_NEEDS, CRD_GROUPS
from components.offline.render import HELM_TYPES
from tests.fixtures.plans import REPO, render_plan

# API groups Kubernetes serves itself (no CRD): `kubernetes:<group>/<version>:<Kind>` types.
BUILT_IN_GROUPS = {"core", "apps", "batch", "policy", "autoscaling", "networking.k8s.io", "rbac.authorization.k8s.io",
                   "storage.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io",
                   "coordination.k8s.io", "discovery.k8s.io", "node.k8s.io", "certificates.k8s.io"}
AKS_CLUSTER = "azure-native:containerservice:ManagedCluster"
CHAT_STACK = REPO / "tests" / "chat_ui" / "stacks" / "Pulumi.chat.yaml"


def api_group(record: dict) -> str | None:
    """The API group of a Kubernetes object record, None for anything else (Helm, Azure, components)."""
    t = record["type"]
    if not t.startswith("kubernetes:") or t in HELM_TYPES or t.startswith("kubernetes:pulumi") or not record["custom"]:
        return None
    group_version = t.split(":")[1]
    return group_version.rsplit("/", 1)[0] if "/" in group_version else "core"


def installer(records: list[dict], key: str) -> dict | None:
    """The record of the release/chart (or, for add-on CRDs, the AKS cluster) that `key` names."""
    if key == "aks-cluster":
        return next((r for r in records if r["type"] == AKS_CLUSTER), None)
    name = CHARTS[key].name
    return next((r for r in records if r["type"] in HELM_TYPES
                 and str(r["inputs"].get("chart", "")).rsplit("/", 1)[-1] == name), None)


def waits_for(records: list[dict]) -> dict[str, set[str]]:
    """URN -> every URN it waits for, directly or through others. A resource also waits for its
    provider (`<urn>::<id>`), which waits for what configures it (the AKS cluster's credentials)."""
    direct = {r["urn"]: set(r["dependsOn"]) | ({r["provider"].rsplit("::", 1)[0]} if r.get("provider") else set())
              for r in records}
    closure: dict[str, set[str]] = {}

    def visit(urn: str) -> set[str]:
        if urn not in closure:
            closure[urn] = set()
            for dep in direct.get(urn, ()):
                closure[urn] |= {dep} | visit(dep)
        return closure[urn]

    for urn in direct:
        visit(urn)
    return closure


def order_problems(records: list[dict]) -> list[str]:
    closure = waits_for(records)
    problems = []
    for r in records:
        group = api_group(r)
        if group is None or group in BUILT_IN_GROUPS:
            continue
        if group not in CRD_GROUPS:
            problems.append(f"{r['type']} {r['name']}: no catalog entry says which release installs {group} "
                            "(components/catalog/upstream.py CRD_GROUPS)")
            continue
        source = installer(records, CRD_GROUPS[group])
        if source is None:
            problems.append(f"{r['type']} {r['name']}: {CRD_GROUPS[group]} (installs {group}) is not in the plan")
        elif source["urn"] not in closure[r["urn"]]:
            problems.append(f"{r['type']} {r['name']}: does not wait for {CRD_GROUPS[group]} (its CRDs)")
    for controller, needs in CONTROLLER_NEEDS.items():
        release = installer(records, controller)
        if release is None:
            continue
        for need in needs:
            source = installer(records, need)
            if source is None or source["urn"] not in closure[release["urn"]]:
                problems.append(f"{controller} starts without waiting for {need}")
    return problems


def load(plan: Path) -> list[dict]:
    return json.loads((plan / "resources.json").read_text())


def test_every_resource_records_what_it_waits_for(rendered_plans):
    for stack, plan in rendered_plans.items():
        records = load(plan)
        urns = {r["urn"] for r in records}
        assert all(isinstance(r["dependsOn"], list) for r in records), stack
        dangling = {d for r in records for d in r["dependsOn"]} - urns
        assert not dangling, f"{stack}: dependsOn names URNs the plan does not hold: {sorted(dangling)[:3]}"


@pytest.mark.parametrize("stack", ["local", "dev", "staging", "prod"])
def test_custom_resources_and_controllers_wait_for_their_crds(rendered_plans, stack):
    records = load(rendered_plans[stack])
    assert order_problems(records) == []
    # The check looked at something: every stack but `local` (no monitoring, no gateway) declares
    # custom resources.
    assert stack == "local" or any(api_group(r) not in (None, *BUILT_IN_GROUPS) for r in records), stack


def test_the_chat_ui_stack_waits_for_its_crds(tmp_path):
    proc = render_plan(["--config-file", str(CHAT_STACK)], tmp_path / "chat")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert order_problems(load(tmp_path / "chat")) == []


def test_gateway_install_order_is_crds_then_cert_manager_then_controllers(rendered_plans):
    records = load(rendered_plans["prod"])
    closure = waits_for(records)
    urn = {key: installer(records, key)["urn"] for key in
           ("gateway-crds", "cert-manager", "ai-gateway-crds", "envoy-gateway", "ai-gateway")}
    assert urn["gateway-crds"] in closure[urn["cert-manager"]]
    assert urn["cert-manager"] in closure[urn["envoy-gateway"]]
    assert urn["envoy-gateway"] in closure[urn["ai-gateway"]]
    assert not closure[urn["gateway-crds"]] & set(urn.values()), "the CRDs wait for nothing of the gateway's"


def test_a_missing_wait_is_reported():
    """The check fails when a custom resource does not wait for its CRDs (or the installer is absent)."""
    chart = {"type": "kubernetes:helm.sh/v3:Release", "name": "keda", "urn": "urn:keda", "custom": True,
             "dependsOn": [], "inputs": {"chart": "keda"}}
    scaled = {"type": "kubernetes:keda.sh/v1alpha1:ScaledObject", "name": "m/x", "urn": "urn:so", "custom": True,
              "dependsOn": [], "inputs": {}}
    unknown = {**scaled, "type": "kubernetes:example.com/v1:Thing", "urn": "urn:thing"}
    assert order_problems([chart, scaled]) == ["kubernetes:keda.sh/v1alpha1:ScaledObject m/x: does not wait for keda (its CRDs)"]
    assert order_problems([chart, {**scaled, "dependsOn": ["urn:keda"]}]) == []
    assert "no catalog entry" in order_problems([unknown])[0]
