"""Where the stack runs: an existing cluster (kubeconfig context) or an AKS cluster the kit creates."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import ConfigModel


class ExistingCluster(ConfigModel):
    kind: Literal["existing"]
    context: str | None = None  # kubeconfig context; None = the current context
    kubeconfig: str | None = None  # path; None = $KUBECONFIG or ~/.kube/config
    storage_class: str | None = None  # None = the cluster's default StorageClass


class SystemPool(ConfigModel):
    vm_size: str = "Standard_D4ds_v5"
    count: int = Field(default=2, ge=1, le=10)


class ApiServerAccess(ConfigModel):
    private: bool = False
    authorized_ip_ranges: list[str] = Field(default_factory=list)


class AksNetwork(ConfigModel):
    vnet_cidr: str = "10.40.0.0/16"
    node_subnet_cidr: str = "10.40.0.0/20"
    existing_subnet_id: str | None = None


class AksCluster(ConfigModel):
    kind: Literal["aks"]
    location: str = "eastus2"
    resource_group: str | None = None  # None = slmkit-<environment>
    kubernetes_version: str = "1.33"
    system_pool: SystemPool = Field(default_factory=SystemPool)
    network: AksNetwork = Field(default_factory=AksNetwork)
    api_server: ApiServerAccess = Field(default_factory=ApiServerAccess)
    gpu_software: Literal["gpu-operator", "aks-driver"] = "gpu-operator"
    upgrade_channel: Literal["patch", "stable", "rapid", "node-image", "none"] = "patch"
    admin_group_object_ids: list[str] = Field(default_factory=list)


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
