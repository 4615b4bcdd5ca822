"""The AKS platform: resource group, network, Log Analytics, the managed cluster, its node pools, the
GPU software, and the Kubernetes provider every in-cluster resource uses.

Pure functions (`cluster_settings`, `system_pool_profile`, `agent_pool_settings`, `gpu_operator_values`,
...) compute the Azure and Helm inputs from the config, so they are testable without Pulumi; the
`AksPlatform` component declares them. Pool taints come from components/platform/pools.py, the one
place the model servers' tolerations come from too.
"""

from __future__ import annotations

import base64
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import yaml
from pulumi_azure_native import (
    authorization,
    containerservice,
    managedidentity,
    monitor,
    network,
    operationalinsights,
    resources,
)

from components.catalog import skus
from components.catalog.charts import CHARTS
from components.config import NodePool, StackConfig
from components.runner_access import runner_range
from components.config.checks import gpu_of_pool
from components.config.cluster import SYSTEM_POOL_NAME, AksCluster
from components.config.vertical import vpa_enabled
from components.k8s.declare import declare
from components.platform import costs
from components.platform.pools import (
    AKS_POOL_LABEL,
    SPOT_TAINT,
    pool_taints,
    tolerations,
)

# Built-in Azure role definition ids (learn.microsoft.com/azure/role-based-access-control/built-in-roles,
# checked 2026-11-28).
ROLE_NETWORK_CONTRIBUTOR = "4d97b98b-1d4f-4787-a291-c67834d212e7"
ROLE_AKS_RBAC_CLUSTER_ADMIN = "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"

GPU_NAMESPACE = "gpu-operator"  # both GPU software choices; privileged DaemonSets live here
# The GPU Operator's DCGM Service (name, label, port name); monitoring's ServiceMonitor selects it. With
# the AKS driver the kit declares a Service of the same shape over the dcgm-exporter chart's pods.
DCGM_SERVICE, DCGM_PORT, DCGM_PORT_NAME = "nvidia-dcgm-exporter", 9400, "gpu-metrics"
DCGM_RELEASE = "dcgm-exporter"
SYSTEM_TAINT = "CriticalAddonsOnly=true:NoSchedule"
_UPGRADE_CHANNEL = {"node-image": "node-image", "none": "none", "patch": "patch", "stable": "stable", "rapid": "rapid"}


def aks_of(cfg: StackConfig) -> AksCluster:
    if not isinstance(cfg.cluster, AksCluster):
        raise TypeError(f"slmkit:cluster.kind is {cfg.cluster.kind!r}; the AKS platform needs kind: aks")
    return cfg.cluster


def names(cfg: StackConfig) -> dict[str, str]:
    """Stable Azure names derived from the environment."""
    base = f"slmkit-{cfg.environment}"
    return {"resource_group": aks_of(cfg).resource_group or base, "cluster": base, "vnet": f"{base}-vnet",
            "subnet": "nodes", "workspace": f"{base}-logs", "identity": f"{base}-control-plane"}


def role_definition_id(subscription_id: str, role: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"


# --- pure specs -------------------------------------------------------------------------------

def node_taints(pool: NodePool) -> list[str]:
    """Taints to set on the AKS pool, as AKS writes them. AKS adds the spot taint to spot pools
    itself, so it is left out here; pools.pool_taints (what servers tolerate) includes it."""
    return [f"{t['key']}={t['value']}:{t['effect']}" if t.get("value") is not None else f"{t['key']}:{t['effect']}"
            for t in pool_taints(pool, "aks") if t != SPOT_TAINT]


def agent_pool_settings(cfg: StackConfig, pool: NodePool) -> dict[str, Any]:
    """AgentPool inputs for a user pool (everything but the cluster, resource group and subnet)."""
    aks = aks_of(cfg)
    settings: dict[str, Any] = {
        "agent_pool_name": pool.name,
        "mode": "User",
        "vm_size": pool.vm_size,
        "os_type": "Linux",
        "os_sku": "Ubuntu",  # the GPU Operator does not support Azure Linux with OS Guard
        "orchestrator_version": aks.kubernetes_version,
        "enable_auto_scaling": True,
        "min_count": pool.min_count,
        "max_count": pool.max_count,
        "count": pool.min_count,  # the autoscaler owns the count after creation
        "node_taints": node_taints(pool),
        "node_labels": {**pool.node_labels, "slmkit.io/pool": pool.name},
        "os_disk_size_gb": pool.os_disk_size_gb,
        "type": "VirtualMachineScaleSets",
        "tags": tags(cfg),
    }
    if pool.os_disk_type:
        # Unset, AKS picks Ephemeral when the VM's cache/temp disk holds the OS disk, else Managed:
        # the same rule the catalog's per-size flag approximates, without guessing disk sizes.
        settings["os_disk_type"] = pool.os_disk_type
    if pool.spot:
        # Priority cannot change after creation; eviction Delete so scale-from-zero can re-create nodes;
        # -1: pay up to the on-demand price rather than be evicted on price.
        settings.update(scale_set_priority="Spot", scale_set_eviction_policy="Delete", spot_max_price=-1)
    if gpu_of_pool(pool) is not None:
        # With the GPU Operator the operator installs the driver; AKS must not install a second one.
        # With aks-driver AKS installs the driver the size needs (GRID on vGPU sizes, catalog/skus.py);
        # config checks refuse the GPU Operator on vGPU sizes.
        settings["gpu_profile"] = {"driver": "None" if aks.gpu_software == "gpu-operator" else "Install"}
    return settings


def system_pool_profile(cfg: StackConfig) -> dict[str, Any]:
    aks = aks_of(cfg)
    return {
        "name": SYSTEM_POOL_NAME,
        "mode": "System",
        "vm_size": aks.system_pool.vm_size,
        "count": aks.system_pool.count,
        "enable_auto_scaling": False,
        "os_type": "Linux",
        "os_sku": "Ubuntu",
        "orchestrator_version": aks.kubernetes_version,
        "node_taints": [SYSTEM_TAINT],  # only add-ons here; workloads go to user pools
        "type": "VirtualMachineScaleSets",
    }


def cluster_settings(cfg: StackConfig) -> dict[str, Any]:
    """ManagedCluster inputs that come from config alone (ids of other resources are added later)."""
    aks = aks_of(cfg)
    access = aks.api_server
    return {
        "resource_name_": names(cfg)["cluster"],
        "location": aks.location,
        "dns_prefix": names(cfg)["cluster"],
        "kubernetes_version": aks.kubernetes_version,
        "sku": {"name": "Base", "tier": aks.sku_tier},
        "enable_rbac": True,
        "disable_local_accounts": True,  # no static admin kubeconfig: every user signs in with Entra ID
        "aad_profile": {"managed": True, "enable_azure_rbac": True,
                        "admin_group_object_ids": list(aks.admin_group_object_ids) or None},
        "oidc_issuer_profile": {"enabled": True},
        "security_profile": {"workload_identity": {"enabled": True},
                             "image_cleaner": {"enabled": True, "interval_hours": 48}},
        "api_server_access_profile": {"enable_private_cluster": access.private,
                                      # + this CI job's runner while it deploys (components/runner_access.py)
                                      "authorized_ip_ranges": (list(access.authorized_ip_ranges)
                                                               + (runner_range() if access.authorized_ip_ranges else [])) or None},
        "auto_scaler_profile": {
            "scan_interval": aks.autoscaler.scan_interval,
            "scale_down_unneeded_time": aks.autoscaler.scale_down_unneeded_time,
            "scale_down_delay_after_add": aks.autoscaler.scale_down_delay_after_add,
            "max_node_provision_time": aks.autoscaler.max_node_provision_time,
            "expander": aks.autoscaler.expander,
            "skip_nodes_with_local_storage": "false",  # model caches use emptyDir; nodes may still go
        },
        "auto_upgrade_profile": {"upgrade_channel": _UPGRADE_CHANNEL[aks.upgrade_channel],
                                 "node_os_upgrade_channel": aks.node_os_upgrade_channel},
        "network_profile": {"network_plugin": "azure", "network_plugin_mode": "overlay",
                            "network_dataplane": "cilium", "network_policy": "cilium",  # NetworkPolicies are enforced
                            "load_balancer_sku": "standard"},
        "agent_pool_profiles": [system_pool_profile(cfg)],
        # The managed Vertical Pod Autoscaler (recommender, updater, admission controller, CRDs):
        # the kit's VPAs recommend requests for CPU servers and the gateway (components/traffic/vertical.py).
        "workload_auto_scaler_profile": {"vertical_pod_autoscaler": {"enabled": vpa_enabled(cfg)}},
        "tags": tags(cfg),
    }


def maintenance_settings(cfg: StackConfig) -> dict[str, Any]:
    """The auto-upgrade window (config name aksManagedAutoUpgradeSchedule is fixed by AKS)."""
    window = aks_of(cfg).maintenance_window
    return {"config_name": "aksManagedAutoUpgradeSchedule",
            "maintenance_window": {"schedule": {"weekly": {"day_of_week": window.day, "interval_weeks": 1}},
                                   "duration_hours": window.duration_hours,
                                   "start_time": f"{window.start_hour:02d}:00", "utc_offset": "+00:00"}}


CI_STREAM = "Microsoft-ContainerInsights-Group-Default"


def container_insights_rule(cfg: StackConfig) -> dict[str, Any]:
    """The data collection rule Container Insights needs with managed-identity auth (the CLI and
    portal create it when enabling the add-on; an ARM deployment must declare it)."""
    return {
        "data_collection_rule_name": f"MSCI-{aks_of(cfg).location}-{names(cfg)['cluster']}",
        "location": aks_of(cfg).location,
        "kind": "Linux",
        "data_sources": {"extensions": [{
            "name": "ContainerInsightsExtension", "extension_name": "ContainerInsights", "streams": [CI_STREAM],
            "extension_settings": {"dataCollectionSettings": {"interval": "1m", "namespaceFilteringMode": "Off",
                                                              "enableContainerLogV2": True}}}]},
        "data_flows": [{"streams": [CI_STREAM], "destinations": ["workspace"]}],
        "tags": tags(cfg),
    }


def tags(cfg: StackConfig) -> dict[str, str]:
    return {"app": "slmkit", "environment": cfg.environment, "managed-by": "pulumi"}


def gpu_pools(cfg: StackConfig) -> list[NodePool]:
    return [p for p in cfg.node_pools if gpu_of_pool(p) is not None]


def gpu_node_placement(cfg: StackConfig) -> dict[str, Any]:
    """Tolerations and node affinity for GPU DaemonSets: every taint any GPU pool carries, and only
    the GPU pools (by their AKS pool label)."""
    tols: list[dict] = []
    for pool in gpu_pools(cfg):
        tols += [t for t in tolerations(pool, "aks") if t not in tols]
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": AKS_POOL_LABEL, "operator": "In", "values": [p.name for p in gpu_pools(cfg)]}]}]}}}
    return {"tolerations": tols, "affinity": affinity}


def gpu_operator_values(cfg: StackConfig) -> dict[str, Any]:
    """GPU Operator: driver, toolkit, device plugin and DCGM exporter on the GPU pools only."""
    place = gpu_node_placement(cfg)
    return {
        "driver": {"enabled": True},  # pools are created with gpuProfile.driver None
        "toolkit": {"enabled": True},
        "devicePlugin": {"enabled": True},
        "dcgmExporter": {"enabled": True, "serviceMonitor": {"enabled": False}},  # monitoring scrapes the Service
        # `daemonsets` takes no affinity in this chart (annotations, labels, priorityClassName, rollingUpdate,
        # tolerations, updateStrategy): the operands go where NFD labels an NVIDIA GPU, and NFD's worker,
        # which does take an affinity, runs on the GPU pools only.
        "daemonsets": {"tolerations": place["tolerations"]},
        "node-feature-discovery": {"worker": {"tolerations": place["tolerations"], "affinity": place["affinity"]}},
    }


def device_plugin_values(cfg: StackConfig) -> dict[str, Any]:
    """AKS-installed driver: only the device plugin is missing (AKS does not install it)."""
    place = gpu_node_placement(cfg)
    return {"tolerations": place["tolerations"], "affinity": place["affinity"], "gfd": {"enabled": False}}


def dcgm_exporter_values(cfg: StackConfig) -> dict[str, Any]:
    place = gpu_node_placement(cfg)
    return {"fullnameOverride": DCGM_RELEASE, "tolerations": place["tolerations"], "affinity": place["affinity"],
            "serviceMonitor": {"enabled": False}, "service": {"port": DCGM_PORT}}


def dcgm_service() -> dict[str, Any]:
    """With the AKS driver: the GPU Operator's DCGM Service shape over the dcgm-exporter chart's pods."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": {
        "name": DCGM_SERVICE, "namespace": GPU_NAMESPACE, "labels": {"app": DCGM_SERVICE, "app.kubernetes.io/part-of": "slmkit"}},
        "spec": {"type": "ClusterIP", "selector": {"app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": DCGM_RELEASE},
                 "ports": [{"name": DCGM_PORT_NAME, "port": DCGM_PORT, "targetPort": DCGM_PORT, "protocol": "TCP"}]}}


def decode_kubeconfig(result: Any) -> str:
    """listManagedClusterUserCredentials returns base64 kubeconfigs; with Entra ID they call kubelogin."""
    kubeconfigs = result.kubeconfigs if hasattr(result, "kubeconfigs") else result["kubeconfigs"]
    if not kubeconfigs:
        raise ValueError("AKS returned no user kubeconfig")
    first = kubeconfigs[0]
    value = first.value if hasattr(first, "value") else first["value"]
    return use_azure_cli_login(base64.b64decode(value).decode())


def use_azure_cli_login(kubeconfig: str) -> str:
    """AKS hands out kubelogin with `--login devicecode`, which would wait for a browser in the middle
    of `pulumi up`. Reuse the `az login` session instead (users and service principals alike)."""
    doc = yaml.safe_load(kubeconfig)
    for user in doc.get("users") or []:
        ex = (user.get("user") or {}).get("exec")
        if not ex or not str(ex.get("command", "")).endswith("kubelogin"):
            continue
        args, kept, i = list(ex.get("args") or []), [], 0
        while i < len(args):
            if args[i] in ("--login", "-l"):
                i += 2
                continue
            kept.append(args[i])
            i += 1
        ex["args"] = [*kept, "--login", "azurecli"]
    return yaml.safe_dump(doc, sort_keys=False)


def pool_summary(cfg: StackConfig) -> list[dict[str, Any]]:
    out = []
    for sizing in costs.pool_sizings(cfg):
        sku = skus.SKUS[sizing.vm_size]
        out.append({"name": sizing.name, "vmSize": sizing.vm_size, "gpu": sku.gpu, "gpusPerNode": sku.gpus,
                    "minCount": sizing.min_nodes, "maxCount": sizing.max_nodes, "spot": sizing.spot})
    return out


# --- components ---------------------------------------------------------------------------------

class AksPlatform(pulumi.ComponentResource):
    """Creates the cluster and exposes `provider` (built from the cluster's user credentials),
    `oidc_issuer_url`, `resource_group_name`, `location`, `tenant_id` for the Key Vault store."""

    def __init__(self, cfg: StackConfig, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slmkit:platform:AksPlatform", "aks", None, opts)
        aks, n = aks_of(cfg), names(cfg)
        child = pulumi.ResourceOptions(parent=self)
        client = authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.tenant_id = client.tenant_id
        self.location = aks.location

        rg = resources.ResourceGroup("rg", resource_group_name=n["resource_group"], location=aks.location,
                                     tags=tags(cfg), opts=child)
        self.resource_group_name = rg.name
        subnet_id = self._subnet(cfg, rg, child)
        workspace = operationalinsights.Workspace(
            "logs", workspace_name=n["workspace"], resource_group_name=rg.name, location=aks.location,
            sku={"name": "PerGB2018"}, retention_in_days=aks.log_retention_days, tags=tags(cfg), opts=child)
        # A user-assigned control-plane identity, so its subnet permission exists before the cluster does.
        cp_identity = managedidentity.UserAssignedIdentity(
            "control-plane", resource_name_=n["identity"], resource_group_name=rg.name, location=aks.location,
            tags=tags(cfg), opts=child)
        subnet_role = authorization.RoleAssignment(
            "control-plane-network", principal_id=cp_identity.principal_id, principal_type="ServicePrincipal",
            scope=subnet_id, role_definition_id=client.subscription_id.apply(
                lambda s: role_definition_id(s, ROLE_NETWORK_CONTRIBUTOR)), opts=child)

        settings = cluster_settings(cfg)
        settings["agent_pool_profiles"][0]["vnet_subnet_id"] = subnet_id
        settings["addon_profiles"] = {
            "omsagent": {"enabled": True, "config": {"logAnalyticsWorkspaceResourceID": workspace.id, "useAADAuth": "true"}},
            "azureKeyvaultSecretsProvider": {"enabled": True,
                                             "config": {"enableSecretRotation": "true", "rotationPollInterval": "2m"}},
        }
        cluster = containerservice.ManagedCluster(
            "cluster", resource_group_name=rg.name, identity={"type": "UserAssigned", "user_assigned_identities": [cp_identity.id]},
            **settings, opts=pulumi.ResourceOptions(parent=self, depends_on=[subnet_role]))
        self.cluster = cluster
        self.cluster_name = cluster.name
        self.oidc_issuer_url = cluster.oidc_issuer_profile.apply(lambda p: p.issuer_url if p else None)
        rule = monitor.DataCollectionRule(
            "container-insights", resource_group_name=rg.name, **container_insights_rule(cfg),
            destinations={"log_analytics": [{"name": "workspace", "workspace_resource_id": workspace.id}]}, opts=child)
        monitor.DataCollectionRuleAssociation(
            "container-insights", association_name="ContainerInsightsExtension", resource_uri=cluster.id,
            data_collection_rule_id=rule.id, opts=child)
        containerservice.MaintenanceConfiguration(
            "upgrade-window", resource_group_name=rg.name, resource_name_=cluster.name, **maintenance_settings(cfg),
            opts=child)

        self.pools = [containerservice.AgentPool(
            f"pool-{pool.name}", resource_group_name=rg.name, resource_name_=cluster.name, vnet_subnet_id=subnet_id,
            **agent_pool_settings(cfg, pool), opts=child) for pool in cfg.node_pools]

        # With Azure RBAC and no local accounts, whoever runs `pulumi up` needs a Kubernetes role too.
        deployer_admin = authorization.RoleAssignment(
            "deployer-cluster-admin", principal_id=client.object_id, scope=cluster.id,
            role_definition_id=client.subscription_id.apply(lambda s: role_definition_id(s, ROLE_AKS_RBAC_CLUSTER_ADMIN)),
            opts=child)

        creds = containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=rg.name, resource_name=cluster.name, format="exec",
            opts=pulumi.InvokeOutputOptions(parent=self, depends_on=[cluster]))
        self.kubeconfig: pulumi.Output[str] = pulumi.Output.secret(creds.apply(decode_kubeconfig))
        self.provider = k8s.Provider("aks", kubeconfig=self.kubeconfig, opts=pulumi.ResourceOptions(
            parent=self, depends_on=[deployer_admin, *self.pools]))

        self.gpu = GpuSoftware(cfg, self.provider, opts=pulumi.ResourceOptions(parent=self, depends_on=self.pools)) \
            if gpu_pools(cfg) else None
        self.api_endpoint = pulumi.Output.all(cluster.fqdn, cluster.private_fqdn).apply(
            lambda f: f"https://{f[1] if aks.api_server.private else f[0]}:443")
        self.outputs = {"clusterName": cluster.name, "kubeconfig": self.kubeconfig, "apiEndpoint": self.api_endpoint,
                        "resourceGroup": rg.name, "oidcIssuerUrl": self.oidc_issuer_url, "pools": pool_summary(cfg)}
        self.register_outputs({k: v for k, v in self.outputs.items() if k != "pools"})

    def _subnet(self, cfg: StackConfig, rg: resources.ResourceGroup, child: pulumi.ResourceOptions) -> pulumi.Input[str]:
        aks, n = aks_of(cfg), names(cfg)
        if aks.network.existing_subnet_id:
            return aks.network.existing_subnet_id
        vnet = network.VirtualNetwork("vnet", virtual_network_name=n["vnet"], resource_group_name=rg.name,
                                      location=aks.location, address_space={"address_prefixes": [aks.network.vnet_cidr]},
                                      tags=tags(cfg), opts=child)
        subnet = network.Subnet("nodes", subnet_name=n["subnet"], resource_group_name=rg.name,
                                virtual_network_name=vnet.name, address_prefix=aks.network.node_subnet_cidr, opts=child)
        return subnet.id


def gpu_namespace_policy(cfg: StackConfig) -> dict:
    """Ingress to the GPU software's pods only from their own namespace and, for DCGM metrics, from
    the monitoring namespace. Egress stays open: the operator talks to the API server and pulls
    drivers and images; its host-network DaemonSets are outside NetworkPolicy anyway."""
    monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": cfg.namespaces.monitoring}}}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "restrict-ingress", "namespace": GPU_NAMESPACE,
                         "labels": {"app.kubernetes.io/part-of": "slmkit", "app.kubernetes.io/managed-by": "pulumi"}},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {}}]},
                                 {"from": [monitoring], "ports": [{"protocol": "TCP", "port": DCGM_PORT}]}]}}


class GpuSoftware(pulumi.ComponentResource):
    """The config's GPU software choice, both exposing DCGM metrics at `dcgm_service` in GPU_NAMESPACE."""

    def __init__(self, cfg: StackConfig, provider: k8s.Provider, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slmkit:platform:GpuSoftware", "gpu", None, opts)
        in_cluster = pulumi.ResourceOptions(parent=self, provider=provider)
        ns = declare({"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": GPU_NAMESPACE,
            # Driver and toolkit DaemonSets load kernel modules and write host paths.
            "labels": {"pod-security.kubernetes.io/enforce": "privileged", "app.kubernetes.io/part-of": "slmkit"}}},
            in_cluster)
        after_ns = pulumi.ResourceOptions.merge(in_cluster, pulumi.ResourceOptions(depends_on=[ns]))
        declare(gpu_namespace_policy(cfg), after_ns)
        self.choice = aks_of(cfg).gpu_software
        if self.choice == "gpu-operator":
            self.releases = [_release("gpu-operator", gpu_operator_values(cfg), after_ns)]
        else:
            self.releases = [_release("nvidia-device-plugin", device_plugin_values(cfg), after_ns),
                             _release(DCGM_RELEASE, dcgm_exporter_values(cfg), after_ns)]
            declare(dcgm_service(), after_ns)
        self.dcgm_service = {"namespace": GPU_NAMESPACE, "name": DCGM_SERVICE, "port": DCGM_PORT}
        self.register_outputs({})


def _release(chart_key: str, values: dict[str, Any], opts: pulumi.ResourceOptions) -> k8s.helm.v3.Release:
    chart = CHARTS[chart_key]
    return k8s.helm.v3.Release(
        chart_key, name=chart_key, chart=chart.name, version=chart.version, namespace=GPU_NAMESPACE,
        repository_opts={"repo": chart.repo}, values=values, atomic=True, timeout=900, opts=opts)


def aks_provider(ctx) -> k8s.Provider:
    """The stack's hook (components/stack.py): create the platform, export its outputs, and keep it on
    the context for the Key Vault store; returns the Kubernetes provider."""
    platform = AksPlatform(ctx.cfg)
    ctx.platform = platform
    ctx.outputs.update({f"aks{k[0].upper()}{k[1:]}": v for k, v in platform.outputs.items()})
    return platform.provider
