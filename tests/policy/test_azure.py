"""aks-no-local-accounts, aks-workload-identity, prod-gpu-pool-not-spot, pod-tolerates-pool-taints."""

from __future__ import annotations

import pytest

from policy.rules import Resource, rule_named
from policy.rules.azure import AGENT_POOL, MANAGED_CLUSTER, parse_taint

from .factories import GPU_TOLERATION, container, deployment

SAFE_CLUSTER = {
    "disableLocalAccounts": True,
    "oidcIssuerProfile": {"enabled": True},
    "securityProfile": {"workloadIdentity": {"enabled": True}},
    "agentPoolProfiles": [{"name": "system", "vmSize": "Standard_D4ds_v5", "mode": "System"}],
}
SPOT_TAINT = "kubernetes.azure.com/scalesetpriority=spot:NoSchedule"


def cluster(**changes) -> Resource:
    return Resource(MANAGED_CLUSTER, "aks", {**SAFE_CLUSTER, **changes})


def pool(name="gpua100", vm="Standard_NC24ads_A100_v4", priority="Regular", taints=("nvidia.com/gpu=present:NoSchedule",)) -> Resource:
    return Resource(AGENT_POOL, name, {"agentPoolName": name, "vmSize": vm, "scaleSetPriority": priority, "nodeTaints": list(taints)})


def violations(rule: str, resource, environment="prod") -> list[str]:
    return [v.message for v in rule_named(rule).check_resource(resource, environment)]


def test_safe_cluster_passes_identity_rules():
    assert violations("aks-no-local-accounts", cluster()) == []
    assert violations("aks-workload-identity", cluster()) == []


@pytest.mark.parametrize("value", [False, None])
def test_local_accounts_fail(value):
    assert "local accounts are enabled" in violations("aks-no-local-accounts", cluster(disableLocalAccounts=value))[0]


def test_workload_identity_needs_issuer_and_identity():
    assert len(violations("aks-workload-identity", cluster(oidcIssuerProfile={"enabled": False}, securityProfile={}))) == 2
    assert "OIDC issuer" in violations("aks-workload-identity", cluster(oidcIssuerProfile=None))[0]


@pytest.mark.parametrize("resource, environment, bad", [
    (pool(priority="Spot", taints=("nvidia.com/gpu=present:NoSchedule", SPOT_TAINT)), "prod", True),
    (pool(priority="Spot", taints=()), "prod", True),  # N-series VM size makes it a GPU pool
    (pool(priority="Spot"), "dev", False),  # spot is a fine saving outside prod
    (pool(priority="Regular"), "prod", False),
    (pool("cpu", vm="Standard_D8ds_v5", priority="Spot", taints=(SPOT_TAINT,)), "prod", False),
    (cluster(agentPoolProfiles=[{"name": "gpu", "vmSize": "Standard_NC4as_T4_v3", "scaleSetPriority": "Spot"}]), "prod", True),
])
def test_prod_gpu_pool_not_spot(resource, environment, bad):
    assert bool(violations("prod-gpu-pool-not-spot", resource, environment)) is bad


def test_parse_taint():
    assert parse_taint(SPOT_TAINT) == ("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule")
    assert parse_taint("dedicated:NoExecute") == ("dedicated", None, "NoExecute")


def on_pool(name: str, tolerations: list[dict]):
    return deployment(containers=[container()], nodeSelector={"kubernetes.azure.com/agentpool": name}, tolerations=tolerations)


def test_pod_on_spot_gpu_pool_must_tolerate_both_taints():
    spot = pool("gpuspot", priority="Spot", taints=("nvidia.com/gpu=present:NoSchedule", SPOT_TAINT))
    rule = rule_named("pod-tolerates-pool-taints")
    found = rule.check_stack([spot, on_pool("gpuspot", [GPU_TOLERATION])], "dev")
    assert [v.message for v in found] == [f"selects pool 'gpuspot' but does not tolerate its taint {SPOT_TAINT}; it will stay Pending"]
    spot_toleration = {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot", "effect": "NoSchedule"}
    assert rule.check_stack([spot, on_pool("gpuspot", [GPU_TOLERATION, spot_toleration])], "dev") == []


def test_pool_inline_in_cluster_and_wrong_value_toleration():
    aks = cluster(agentPoolProfiles=[{"name": "tainted", "vmSize": "Standard_D8ds_v5", "nodeTaints": ["team=ml:NoSchedule"]}])
    rule = rule_named("pod-tolerates-pool-taints")
    wrong = [{"key": "team", "operator": "Equal", "value": "web", "effect": "NoSchedule"}]
    assert len(rule.check_stack([aks, on_pool("tainted", wrong)], "dev")) == 1
    assert rule.check_stack([aks, on_pool("tainted", [{"key": "team", "operator": "Exists"}])], "dev") == []
