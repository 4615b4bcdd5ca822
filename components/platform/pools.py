"""Node pool facts shared by the AKS pools and the model servers, so taints and tolerations come
from one place and cannot disagree."""

from __future__ import annotations

from components.config import NodePool, StackConfig
from components.config.checks import gpu_of_pool

GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
SPOT_TAINT = {"key": "kubernetes.azure.com/scalesetpriority", "value": "spot", "effect": "NoSchedule"}
AKS_POOL_LABEL = "kubernetes.azure.com/agentpool"


def pool_taints(pool: NodePool, cluster_kind: str) -> list[dict]:
    """Taints the pool's nodes carry: on AKS the kit sets them; on an existing cluster the stack file
    declares them."""
    taints = [t.model_dump(exclude_none=True) for t in pool.taints]
    if cluster_kind == "aks":
        if gpu_of_pool(pool) is not None:
            taints.append(dict(GPU_TAINT))
        if pool.spot:
            taints.append(dict(SPOT_TAINT))
    return _unique(taints)


def node_selector(pool: NodePool, cluster_kind: str) -> dict[str, str]:
    if cluster_kind == "aks":
        return {AKS_POOL_LABEL: pool.name}
    return dict(pool.node_labels)


def tolerations(pool: NodePool, cluster_kind: str) -> list[dict]:
    return [
        {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]} if t.get("value") is not None
        else {"key": t["key"], "operator": "Exists", "effect": t["effect"]}
        for t in pool_taints(pool, cluster_kind)
    ]


GPU_TOLERATION = {"key": GPU_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}


def scheduling_for(cfg: StackConfig, pool_name: str | None, gpus: int = 0) -> tuple[dict[str, str], list[dict]]:
    """Node selector and tolerations for a pod on the named pool. A pod that asks for GPUs also
    tolerates the GPU taint even where the stack file declares none: GPU nodes of existing clusters
    (GPU Operator, cloud node pools) usually carry it, and a toleration without a taint is harmless."""
    pool = cfg.pool(pool_name)
    selector, tols = ({}, []) if pool is None else (node_selector(pool, cfg.cluster.kind), tolerations(pool, cfg.cluster.kind))
    if gpus and not any(t["key"] == GPU_TAINT["key"] for t in tols):
        tols.append(dict(GPU_TOLERATION))
    return selector, tols


def _unique(taints: list[dict]) -> list[dict]:
    seen, out = set(), []
    for t in taints:
        k = (t["key"], t.get("value"), t["effect"])
        if k not in seen:
            seen.add(k)
            out.append(t)
    return out
