"""Where the stack runs: an existing cluster (kubeconfig context) or an AKS cluster the kit creates."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from .base import ConfigModel


class ExistingCluster(ConfigModel):
    kind: Literal["existing"]
    context: str | None = None  # kubeconfig context; None = the current context
    kubeconfig: str | None = None  # path; None = $KUBECONFIG or ~/.kube/config
    storage_class: str | None = None  # None = the cluster's default StorageClass


class SystemPool(ConfigModel):
    """The AKS system pool: CriticalAddonsOnly-tainted, so only cluster add-ons run there."""

    vm_size: str = "Standard_D4ds_v5"
    count: int = Field(default=2, ge=1, le=10)


class ApiServerAccess(ConfigModel):
    """Who can reach the Kubernetes API: a private cluster, or public limited to these CIDRs."""

    private: bool = False
    authorized_ip_ranges: list[str] = Field(default_factory=list)

    @field_validator("authorized_ip_ranges")
    @classmethod
    def _cidrs(cls, ranges: list[str]) -> list[str]:
        for cidr in ranges:
            _network(cidr)
        return ranges

    @model_validator(mode="after")
    def _one_mode(self) -> ApiServerAccess:
        if self.private and self.authorized_ip_ranges:
            raise ValueError("a private API server has no public endpoint to restrict; "
                             "use either private: true or authorizedIpRanges")
        return self


class AksNetwork(ConfigModel):
    vnet_cidr: str = "10.40.0.0/16"
    node_subnet_cidr: str = "10.40.0.0/20"
    existing_subnet_id: str | None = Field(
        default=None, pattern=r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Network/"
                              r"virtualNetworks/[^/]+/subnets/[^/]+$")

    @model_validator(mode="after")
    def _subnet_inside_vnet(self) -> AksNetwork:
        vnet, subnet = _network(self.vnet_cidr), _network(self.node_subnet_cidr)
        if not subnet.subnet_of(vnet):  # type: ignore[arg-type]
            raise ValueError(f"nodeSubnetCidr {subnet} is not inside vnetCidr {vnet}")
        return self


class MaintenanceWindow(ConfigModel):
    """When AKS may apply the upgrade channel's upgrades (weekly, UTC)."""

    day: Literal["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"] = "Sunday"
    start_hour: int = Field(default=2, ge=0, le=23)
    duration_hours: int = Field(default=4, ge=4, le=24)  # AKS requires at least 4 hours


class AutoscalerProfile(ConfigModel):
    """Cluster autoscaler knobs that matter for GPU pools: how fast idle GPU nodes go away."""

    scan_interval: str = Field(default="10s", pattern=r"^[0-9]+[sm]$")
    scale_down_unneeded_time: str = Field(default="10m", pattern=r"^[0-9]+[sm]$")
    scale_down_delay_after_add: str = Field(default="10m", pattern=r"^[0-9]+[sm]$")
    max_node_provision_time: str = Field(default="15m", pattern=r"^[0-9]+[sm]$")  # GPU nodes boot slowly
    expander: Literal["least-waste", "random", "most-pods", "priority"] = "least-waste"


class KeyVaultOptions(ConfigModel):
    # None: on for prod, off elsewhere (purge protection keeps a deleted vault's name for the retention period).
    purge_protection: bool | None = None
    soft_delete_retention_days: int = Field(default=7, ge=7, le=90)


class AksCluster(ConfigModel):
    kind: Literal["aks"]
    location: str = Field(default="eastus2", pattern=r"^[a-z0-9]+$")
    resource_group: str | None = None  # None = slmkit-<environment>
    kubernetes_version: str = Field(default="1.33", pattern=r"^1\.[0-9]{2}(\.[0-9]+)?$")
    sku_tier: Literal["Free", "Standard"] = "Free"  # Standard: API server SLA, recommended for prod
    system_pool: SystemPool = Field(default_factory=SystemPool)
    network: AksNetwork = Field(default_factory=AksNetwork)
    api_server: ApiServerAccess = Field(default_factory=ApiServerAccess)
    gpu_software: Literal["gpu-operator", "aks-driver"] = "gpu-operator"
    upgrade_channel: Literal["patch", "stable", "rapid", "node-image", "none"] = "patch"
    node_os_upgrade_channel: Literal["NodeImage", "SecurityPatch", "Unmanaged", "None"] = "NodeImage"
    maintenance_window: MaintenanceWindow = Field(default_factory=MaintenanceWindow)
    autoscaler: AutoscalerProfile = Field(default_factory=AutoscalerProfile)
    admin_group_object_ids: list[str] = Field(default_factory=list)
    log_retention_days: int = Field(default=30, ge=30, le=730)
    key_vault: KeyVaultOptions = Field(default_factory=KeyVaultOptions)


def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(cidr)
    except ValueError as err:
        raise ValueError(f"{cidr!r} is not a CIDR block such as 203.0.113.0/24 ({err})") from None


Cluster = Annotated[ExistingCluster | AksCluster, Field(discriminator="kind")]


class Taint(ConfigModel):
    key: str
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] = "NoSchedule"


class NodePool(ConfigModel):
    """A group of nodes servers can name. On AKS the kit creates it; on an existing cluster it
    describes nodes that are already there (their labels and taints)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9]{0,11}$")  # AKS pool names: lowercase, <= 12 chars
    vm_size: str | None = None  # catalog SKU; required on AKS
    gpu_type: str | None = None  # existing clusters without an Azure SKU: T4, A10, L4, A100-80GB, H100-NVL
    gpus_per_node: int | None = Field(default=None, ge=1, le=8)
    min_count: int = Field(default=0, ge=0, le=100)
    max_count: int = Field(default=1, ge=1, le=100)
    spot: bool = False
    node_labels: dict[str, str] = Field(default_factory=dict)
    taints: list[Taint] = Field(default_factory=list)
    os_disk_type: Literal["Managed", "Ephemeral"] | None = None  # None: Ephemeral where the SKU allows
    os_disk_size_gb: int = Field(default=128, ge=30, le=2048)


def aks_problems(cfg) -> list:
    """Checks only an AKS stack needs (cfg: StackConfig). Called from checks.cross_layer_problems."""
    from components.catalog import skus

    from .base import Problem

    if cfg.cluster.kind != "aks":
        if cfg.secrets.provider == "keyvault":
            return [Problem("slmkit:secrets.provider", "keyvault", "the kit creates Key Vault together with an AKS cluster",
                            "use provider: kubernetes (or auto) on an existing cluster")]
        return []
    aks: AksCluster = cfg.cluster
    problems: list[Problem] = []
    access = aks.api_server
    if not access.private and not access.authorized_ip_ranges:
        problems.append(Problem(
            "slmkit:cluster.apiServer", access.model_dump(by_alias=True),
            "the Kubernetes API is reachable from any address (Entra ID sign-in is still required)",
            "set apiServer.authorizedIpRanges to your egress CIDRs, or apiServer.private: true",
            warning=cfg.environment != "prod"))
    for cidr in access.authorized_ip_ranges:
        if _network(cidr).prefixlen == 0:
            problems.append(Problem("slmkit:cluster.apiServer.authorizedIpRanges", cidr, "allows every address",
                                    "list only the CIDRs you deploy from"))
    if cfg.environment == "prod" and aks.sku_tier == "Free":
        problems.append(Problem("slmkit:cluster.skuTier", "Free", "the Free tier has no API server SLA",
                                "use skuTier: Standard for prod", warning=True))
    if aks.system_pool.vm_size not in skus.SKUS or skus.SKUS[aks.system_pool.vm_size].gpu:
        cpu = sorted(n for n, s in skus.SKUS.items() if not s.gpu)
        problems.append(Problem("slmkit:cluster.systemPool.vmSize", aks.system_pool.vm_size,
                                "not a CPU VM size in the catalog", "use one of: " + ", ".join(cpu)))
    if not any(_general_purpose(p, skus) for p in cfg.node_pools):
        problems.append(Problem(
            "slmkit:nodePools", [p.name for p in cfg.node_pools],
            "no pool can run the kit's services (gateway, monitoring, operators): the system pool only takes add-ons",
            "add a CPU pool without taints or spot and with minCount >= 1, e.g. {name: services, vmSize: Standard_D4ds_v5, minCount: 1, maxCount: 2}",
            warning=True))  # their pods would stay Pending; a warning while fixtures rely on GPU-only stacks
    for i, pool in enumerate(cfg.node_pools):
        key = f"slmkit:nodePools[{i}]"
        sku = skus.SKUS.get(pool.vm_size or "")
        if pool.name == SYSTEM_POOL_NAME:
            problems.append(Problem(f"{key}.name", pool.name, "the kit's system pool already has this name",
                                    "pick another name"))
        if sku is None:
            continue  # unknown or missing SKU: reported by the pool checks
        if sku.gpu_driver == "grid" and aks.gpu_software == "gpu-operator":
            problems.append(Problem(
                "slmkit:cluster.gpuSoftware", "gpu-operator",
                f"pool {pool.name} ({sku.name}) gets its GPU through NVIDIA vGPU and needs the GRID driver; "
                "the GPU Operator installs the datacenter driver, which does not work there",
                "set cluster.gpuSoftware: aks-driver (AKS installs the GRID driver on these sizes), "
                "or a size the datacenter driver supports, such as Standard_NC8as_T4_v3 or Standard_NC24ads_A100_v4"))
        if pool.os_disk_type == "Ephemeral" and not sku.ephemeral_os_disk:
            problems.append(Problem(f"{key}.osDiskType", "Ephemeral", f"{sku.name} has no local disk for an ephemeral OS disk",
                                    "use osDiskType: Managed, or a 'd' size such as Standard_D4ds_v5"))
        if pool.gpu_type is not None and pool.gpu_type != sku.gpu:
            problems.append(Problem(f"{key}.gpuType", pool.gpu_type, f"{sku.name} has {sku.gpu or 'no GPU'}",
                                    "remove gpuType; on AKS the VM size says which GPU a node has"))
        if pool.gpus_per_node is not None and pool.gpus_per_node != sku.gpus:
            problems.append(Problem(f"{key}.gpusPerNode", pool.gpus_per_node, f"{sku.name} has {sku.gpus} GPUs",
                                    "remove gpusPerNode; on AKS the VM size says how many GPUs a node has"))
    return problems


SYSTEM_POOL_NAME = "system"


def _general_purpose(pool: NodePool, skus) -> bool:
    """A pool anything can land on: a CPU size, no taints, not spot, always at least one node."""
    sku = skus.SKUS.get(pool.vm_size or "")
    return sku is not None and not sku.gpu and not pool.taints and not pool.spot and pool.min_count >= 1
