"""AKS rules: identity of the cluster, spot GPU pools in prod, and pods that tolerate the taints of
the pool they select."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .base import Resource, Rule, as_list, as_map, dig, is_true
from .pods import workloads

MANAGED_CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
AKS_POOL_LABEL = "kubernetes.azure.com/agentpool"
# Azure's N-series (NC, ND, NG, NV) are the GPU VM families.
_GPU_VM_SIZE = re.compile(r"^Standard_N[CDGV]", re.IGNORECASE)


def _cluster_identity(resource: Resource, environment: str) -> Iterable[str]:
    if resource.type != MANAGED_CLUSTER:
        return
    if not is_true(resource.inputs.get("disableLocalAccounts")):
        yield "local accounts are enabled (a static admin kubeconfig); set disableLocalAccounts: true and use Entra ID"


def _workload_identity(resource: Resource, environment: str) -> Iterable[str]:
    if resource.type != MANAGED_CLUSTER:
        return
    if not is_true(dig(resource.inputs, "oidcIssuerProfile", "enabled")):
        yield "the OIDC issuer is off; workload identity needs oidcIssuerProfile.enabled: true"
    if not is_true(dig(resource.inputs, "securityProfile", "workloadIdentity", "enabled")):
        yield "workload identity is off; set securityProfile.workloadIdentity.enabled: true so pods get Azure tokens without stored keys"


def _pools(resource: Resource) -> list[tuple[str, Mapping[str, Any]]]:
    """(pool name, pool properties) declared by an AgentPool or inline in a ManagedCluster."""
    if resource.type == AGENT_POOL:
        return [(str(resource.inputs.get("agentPoolName") or resource.name), resource.inputs)]
    if resource.type == MANAGED_CLUSTER:
        return [(str(as_map(p).get("name")), as_map(p)) for p in as_list(resource.inputs.get("agentPoolProfiles"))]
    return []


def _is_gpu_pool(pool: Mapping[str, Any]) -> bool:
    vm = str(pool.get("vmSize") or "")
    return bool(_GPU_VM_SIZE.match(vm)) or any(str(t).startswith("nvidia.com/gpu") for t in as_list(pool.get("nodeTaints")))


def _spot_gpu_pools(resource: Resource, environment: str) -> Iterable[str]:
    for name, pool in _pools(resource):
        if str(pool.get("scaleSetPriority") or "").lower() == "spot" and _is_gpu_pool(pool):
            yield (f"GPU pool '{name}' ({pool.get('vmSize')}) is Spot: Azure can evict it with 30 s notice and "
                   "the priority cannot be changed later; set spot: false for prod GPU pools")


def parse_taint(text: str) -> tuple[str, str | None, str]:
    """'key=value:Effect' or 'key:Effect' -> (key, value, effect)."""
    body, _, effect = text.rpartition(":")
    key, _, value = body.partition("=")
    return key, value or None, effect


def _tolerates(tolerations: Sequence[Any], taint: tuple[str, str | None, str]) -> bool:
    key, value, effect = taint
    for t in map(as_map, tolerations):
        if t.get("effect") not in (None, "", effect):
            continue
        op = t.get("operator", "Equal")
        if op == "Exists" and t.get("key") in (None, "", key):
            return True
        if op == "Equal" and t.get("key") == key and (t.get("value") or None) == value:
            return True
    return False


def _untolerated_pool_taints(resources: Sequence[Resource], environment: str) -> Iterable[tuple[Resource, str]]:
    taints_by_pool: dict[str, list[tuple[str, str | None, str]]] = {}
    for r in resources:
        for name, pool in _pools(r):
            taints_by_pool[name] = [parse_taint(str(t)) for t in as_list(pool.get("nodeTaints"))]
    for workload, pod in workloads(resources):
        pool_name = as_map(pod.spec.get("nodeSelector")).get(AKS_POOL_LABEL)
        tolerations = as_list(pod.spec.get("tolerations"))
        for taint in taints_by_pool.get(str(pool_name), []):
            if taint[2] in ("NoSchedule", "NoExecute") and not _tolerates(tolerations, taint):
                key, value, effect = taint
                shown = f"{key}={value}:{effect}" if value else f"{key}:{effect}"
                yield workload, f"selects pool '{pool_name}' but does not tolerate its taint {shown}; it will stay Pending"


AKS_NO_LOCAL_ACCOUNTS = Rule(
    "aks-no-local-accounts",
    "AKS clusters disable local accounts; access goes through Entra ID.",
    "mandatory", resource_check=_cluster_identity,
)
AKS_WORKLOAD_IDENTITY = Rule(
    "aks-workload-identity",
    "AKS clusters enable the OIDC issuer and workload identity.",
    "mandatory", resource_check=_workload_identity,
)
PROD_GPU_POOL_NOT_SPOT = Rule(
    "prod-gpu-pool-not-spot",
    "In prod, GPU node pools use regular priority, not Spot.",
    "mandatory", resource_check=_spot_gpu_pools, environments=("prod",),
)
POOL_TAINTS_TOLERATED = Rule(
    "pod-tolerates-pool-taints",
    "Pods that select an AKS pool tolerate every NoSchedule/NoExecute taint of that pool (GPU, spot).",
    "mandatory", stack_check=_untolerated_pool_taints,
)

RULES = [AKS_NO_LOCAL_ACCOUNTS, AKS_WORKLOAD_IDENTITY, PROD_GPU_POOL_NOT_SPOT, POOL_TAINTS_TOLERATED]
