"""The AKS cluster, pools and Kubernetes provider as the real program declares them under mocks."""

from __future__ import annotations

import base64

import pytest
import yaml

from components.offline.mocks import AZURE_CLIENT, OFFLINE_KUBECONFIG
from components.platform.aks import (
    ROLE_AKS_RBAC_CLUSTER_ADMIN,
    ROLE_NETWORK_CONTRIBUTOR,
)
from components.platform.pools import pool_taints

from .harness import run, stack_raw

CLUSTER = "azure-native:containerservice:ManagedCluster"
AGENT_POOL = "azure-native:containerservice:AgentPool"
ROLE = "azure-native:authorization:RoleAssignment"
K8S_PROVIDER = "pulumi:providers:kubernetes"


def test_cluster_has_oidc_workload_identity_entra_rbac_and_no_local_accounts(dev):
    c = dev.inputs(CLUSTER)
    assert c["oidcIssuerProfile"] == {"enabled": True}
    assert c["securityProfile"]["workloadIdentity"] == {"enabled": True}
    assert c["disableLocalAccounts"] is True
    assert c["aadProfile"]["managed"] is True and c["aadProfile"]["enableAzureRBAC"] is True
    assert c["addonProfiles"]["azureKeyvaultSecretsProvider"]["enabled"] is True
    assert c["addonProfiles"]["omsagent"]["config"]["logAnalyticsWorkspaceResourceID"].endswith("/workspaces/slmkit-dev-logs")
    assert c["kubernetesVersion"] == "1.33"
    assert c["autoUpgradeProfile"]["upgradeChannel"] == "patch"


def test_system_pool_is_only_for_addons(dev):
    (system,) = dev.inputs(CLUSTER)["agentPoolProfiles"]
    assert system["mode"] == "System"
    assert system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]


def test_maintenance_window_is_the_auto_upgrade_schedule(prod):
    m = prod.inputs("azure-native:containerservice:MaintenanceConfiguration")
    assert m["configName"] == "aksManagedAutoUpgradeSchedule"
    assert m["maintenanceWindow"]["schedule"]["weekly"]["dayOfWeek"] == "Sunday"
    assert m["maintenanceWindow"]["durationHours"] >= 4


def test_prod_api_server_is_ip_restricted_and_standard_tier(prod):
    c = prod.inputs(CLUSTER)
    assert c["apiServerAccessProfile"]["authorizedIPRanges"] == prod.loaded.stack.cluster.api_server.authorized_ip_ranges
    assert c["apiServerAccessProfile"]["authorizedIPRanges"]
    assert c["sku"]["tier"] == "Standard"


def test_pool_autoscaler_bounds_follow_the_config(prod, dev):
    for r in (prod, dev):
        for pool in r.loaded.stack.node_pools:
            p = r.inputs(AGENT_POOL, f"pool-{pool.name}")
            assert (p["enableAutoScaling"], p["minCount"], p["maxCount"]) == (True, pool.min_count, pool.max_count)
            assert p["vmSize"] == pool.vm_size and p["mode"] == "User"


def test_dev_gpu_pool_is_spot_scaling_from_zero_without_the_aks_driver(dev):
    p = dev.inputs(AGENT_POOL, "pool-gput4")
    assert (p["minCount"], p["maxCount"], p["count"]) == (0, 1, 0)
    assert (p["scaleSetPriority"], p["scaleSetEvictionPolicy"], p["spotMaxPrice"]) == ("Spot", "Delete", -1)
    assert p["gpuProfile"] == {"driver": "None"}  # the GPU Operator installs the driver
    assert "nvidia.com/gpu=present:NoSchedule" in p["nodeTaints"]
    services = dev.inputs(AGENT_POOL, "pool-services")
    assert "scaleSetPriority" not in services and "gpuProfile" not in services and services["nodeTaints"] == []


def _taint_set(strings: list[str]) -> set[tuple]:
    out = set()
    for s in strings:
        kv, effect = s.rsplit(":", 1)
        key, _, value = kv.partition("=")
        out.add((key, value or None, effect))
    return out


@pytest.mark.parametrize("which", ["dev", "prod"])
def test_gpu_taints_equal_the_servers_tolerations(which, dev, prod):
    r = {"dev": dev, "prod": prod}[which]
    cfg = r.loaded.stack
    for spec in cfg.servers:
        pool = cfg.pool(spec.node_pool)
        declared = _taint_set(r.inputs(AGENT_POOL, f"pool-{pool.name}")["nodeTaints"])
        if pool.spot:  # AKS adds this one to spot pools itself
            declared.add(("kubernetes.azure.com/scalesetpriority", "spot", "NoSchedule"))
        pod = r.manifest("Deployment", spec.name)["spec"]["template"]["spec"]
        tolerated = {(t["key"], t.get("value"), t["effect"]) for t in pod.get("tolerations", [])}
        assert declared == tolerated, spec.name
        assert pod["nodeSelector"] == {"kubernetes.azure.com/agentpool": pool.name}
        assert declared == {(t["key"], t.get("value"), t["effect"]) for t in pool_taints(pool, "aks")}


def test_gpu_taint_present_on_every_gpu_pool(prod):
    assert "nvidia.com/gpu=present:NoSchedule" in prod.inputs(AGENT_POOL, "pool-gpua100")["nodeTaints"]
    assert prod.inputs(AGENT_POOL, "pool-cpu")["nodeTaints"] == []


def test_control_plane_identity_can_join_the_subnet(dev):
    roles = [r for r in (dev.inputs(ROLE, n["name"]) for n in dev.of_type(ROLE))
             if r["roleDefinitionId"].endswith(ROLE_NETWORK_CONTRIBUTOR)]
    assert len(roles) == 1
    assert roles[0]["scope"].endswith("/subnets/nodes")
    assert roles[0]["principalId"] == "principal-id-of-slmkit-dev-control-plane"


def test_deployer_gets_cluster_admin_through_azure_rbac(dev):
    role = dev.inputs(ROLE, "deployer-cluster-admin")
    assert role["roleDefinitionId"] == (f"/subscriptions/{AZURE_CLIENT['subscriptionId']}/providers/"
                                        f"Microsoft.Authorization/roleDefinitions/{ROLE_AKS_RBAC_CLUSTER_ADMIN}")
    assert role["principalId"] == AZURE_CLIENT["objectId"]
    assert role["scope"].endswith("/managedClusters/slmkit-dev")


def test_provider_is_built_from_the_cluster_credentials_as_a_secret(dev):
    provider = dev.one(K8S_PROVIDER, "aks")
    kubeconfig = provider["inputs"]["kubeconfig"]
    from pulumi.runtime import rpc

    assert rpc.is_rpc_secret(kubeconfig)
    assert yaml.safe_load(rpc.unwrap_rpc_secret(kubeconfig)) == yaml.safe_load(OFFLINE_KUBECONFIG)
    assert base64.b64encode(rpc.unwrap_rpc_secret(kubeconfig).encode())  # decoded from the invoke's base64


@pytest.mark.parametrize("which", ["dev", "prod"])
def test_every_in_cluster_resource_uses_the_aks_provider(which, dev, prod):
    r = {"dev": dev, "prod": prod}[which]
    provider_urn = r.one(K8S_PROVIDER, "aks")["urn"]
    in_cluster = [x for x in r.records if x["type"].startswith("kubernetes:") and x["custom"]]
    assert len(in_cluster) > 20
    wrong = [(x["type"], x["name"]) for x in in_cluster if not (x.get("provider") or "").startswith(provider_urn + "::")]
    assert not wrong
    assert len(r.of_type(K8S_PROVIDER)) == 1  # no default provider (which would use ambient kubeconfig)


def test_kubelogin_uses_the_az_login_session_not_a_device_code():
    from components.platform.aks import decode_kubeconfig

    aks_style = {"apiVersion": "v1", "kind": "Config", "users": [{"name": "clusterUser_rg_c", "user": {"exec": {
        "apiVersion": "client.authentication.k8s.io/v1beta1", "command": "kubelogin",
        "args": ["get-token", "--login", "devicecode", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630",
                 "--environment", "AzurePublicCloud"]}}}]}
    encoded = base64.b64encode(yaml.safe_dump(aks_style).encode()).decode()
    out = yaml.safe_load(decode_kubeconfig({"kubeconfigs": [{"name": "clusterUser", "value": encoded}]}))
    assert out["users"][0]["user"]["exec"]["args"] == [
        "get-token", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630", "--environment", "AzurePublicCloud",
        "--login", "azurecli"]


def test_private_cluster_in_an_existing_subnet():
    subnet = "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub/subnets/aks"
    raw = stack_raw("dev")
    raw["cluster"].update(apiServer={"private": True}, network={"existingSubnetId": subnet})
    r = run(raw, "dev")
    assert not r.of_type("azure-native:network:VirtualNetwork") and not r.of_type("azure-native:network:Subnet")
    c = r.inputs(CLUSTER)
    assert c["apiServerAccessProfile"] == {"enablePrivateCluster": True}
    assert c["agentPoolProfiles"][0]["vnetSubnetID"] == subnet
    assert {r.inputs(AGENT_POOL, f"pool-{p.name}")["vnetSubnetID"] for p in r.loaded.stack.node_pools} == {subnet}
    assert r.inputs(ROLE, "control-plane-network")["scope"] == subnet
    assert r.outputs["aksApiEndpoint"] == ("https://slmkit-dev.privatelink.offline.invalid:443", False)
    assert not [w for w in r.loaded.warning_lines() if "apiServer" in w]


def test_container_insights_sends_to_the_workspace_through_a_rule_on_the_cluster(dev):
    rule = dev.inputs("azure-native:monitor:DataCollectionRule")
    (dest,) = rule["destinations"]["logAnalytics"]
    assert dest["workspaceResourceId"].endswith("/workspaces/slmkit-dev-logs")
    assert rule["dataFlows"] == [{"streams": ["Microsoft-ContainerInsights-Group-Default"], "destinations": [dest["name"]]}]
    assert rule["dataSources"]["extensions"][0]["extensionName"] == "ContainerInsights"
    assoc = dev.inputs("azure-native:monitor:DataCollectionRuleAssociation")
    assert assoc["resourceUri"].endswith("/managedClusters/slmkit-dev")
    assert assoc["dataCollectionRuleId"].endswith("/MSCI-eastus2-slmkit-dev")
