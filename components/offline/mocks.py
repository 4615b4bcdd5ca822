"""Mocks for Pulumi's engine: providers answer with their inputs plus what a real provider would
add that the program reads back (ids, generated values, credentials)."""

from __future__ import annotations

import base64
import threading
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor

OFFLINE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://offline.invalid:443"}}]
contexts: [{name: offline, context: {cluster: offline, user: offline}}]
current-context: offline
users: [{name: offline, user: {token: offline-placeholder}}]
"""


class RecordingMonitor(MockMonitor):
    """Records every registration with its parent URN and inputs (secrets still marked), which
    the mock callbacks are not told. Registrations arrive from several threads."""

    def __init__(self, mocks: SlmkitMocks):
        super().__init__(mocks)
        self.records: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            inputs = rpc.deserialize_properties(request.object, keep_unknowns=True)
            with self._lock:
                self.records.append({
                    "type": request.type, "name": request.name, "urn": response.urn,
                    "parent": request.parent, "custom": bool(request.custom), "inputs": inputs,
                    "provider": request.provider, "dependencies": list(request.dependencies),
                })
        return response


class SlmkitMocks(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if args.resource_id:  # a read (`Resource.get`): the monitor calls new_resource with the ID
            return args.resource_id, self.read(args)
        state = dict(args.inputs)
        if args.typ == "random:index/randomPassword:RandomPassword":
            state["result"] = f"offline-generated-{args.name}"
        if args.typ == "tls:index/privateKey:PrivateKey":
            state["privateKeyPem"] = f"offline-generated-{args.name}"
        if args.typ == "tls:index/selfSignedCert:SelfSignedCert":
            state["certPem"] = "-----BEGIN CERTIFICATE-----\noffline placeholder\n-----END CERTIFICATE-----\n"
        # --- azure: outputs of Azure resources (AKS engineer) ---
        if args.typ == "random:index/randomString:RandomString":  # the Key Vault name suffix
            state["result"] = "offln1"
        if args.typ.startswith("azure-native:"):
            return azure_resource(args, state)
        return f"{args.name}-id", state

    def read(self, args: pulumi.runtime.MockResourceArgs) -> dict:
        """What the cluster holds under this ID. Offline there is no cluster: nothing, so the read's
        outputs stay unknown in the plan (a preview), and reads are never recorded as resources."""
        return {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        # --- azure: invoke results (AKS engineer) ---
        if args.token == "azure-native:authorization:getClientConfig":
            return dict(AZURE_CLIENT), []
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            value = base64.b64encode(OFFLINE_KUBECONFIG.encode()).decode()
            return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}, []
        return {}, None


# --- azure: what Azure would return (AKS engineer) ---------------------------------------------
AZURE_CLIENT = {"clientId": "00000000-0000-0000-0000-0000000000c1", "objectId": "00000000-0000-0000-0000-0000000000d1",
                "subscriptionId": "00000000-0000-0000-0000-000000000005", "tenantId": "00000000-0000-0000-0000-0000000000a1"}
_AZURE_NAME_INPUT = {  # the input that names each Azure resource (else the Pulumi name)
    "resources:ResourceGroup": "resourceGroupName", "network:VirtualNetwork": "virtualNetworkName",
    "network:Subnet": "subnetName", "operationalinsights:Workspace": "workspaceName",
    "containerservice:AgentPool": "agentPoolName", "containerservice:MaintenanceConfiguration": "configName",
    "keyvault:Vault": "vaultName", "keyvault:Secret": "secretName",
    "managedidentity:FederatedIdentityCredential": "federatedIdentityCredentialResourceName",
    "monitor:DataCollectionRule": "dataCollectionRuleName",
}


def azure_resource(args: pulumi.runtime.MockResourceArgs, state: dict) -> tuple[str, dict]:
    """Azure ids are ARM paths; a few outputs the program reads back (OIDC issuer, identity ids,
    vault URI, cluster FQDN) are made up here, under .invalid / all-zero GUIDs."""
    kind = args.typ.split(":", 1)[1]  # azure-native:containerservice:ManagedCluster -> containerservice:ManagedCluster
    name = _plain(args.inputs.get(_AZURE_NAME_INPUT.get(kind, "resourceName")) or args.name)
    state.setdefault("name", name)
    rg = _plain(args.inputs.get("resourceGroupName")) or "rg"
    sub = AZURE_CLIENT["subscriptionId"]
    provider = {"resources:ResourceGroup": None, "network:VirtualNetwork": "Microsoft.Network/virtualNetworks",
                "network:Subnet": "Microsoft.Network/virtualNetworks/vnet/subnets",
                "containerservice:ManagedCluster": "Microsoft.ContainerService/managedClusters",
                "keyvault:Vault": "Microsoft.KeyVault/vaults",
                "managedidentity:UserAssignedIdentity": "Microsoft.ManagedIdentity/userAssignedIdentities",
                "operationalinsights:Workspace": "Microsoft.OperationalInsights/workspaces",
                "monitor:DataCollectionRule": "Microsoft.Insights/dataCollectionRules"}.get(kind, kind.replace(":", "/"))
    rid = f"/subscriptions/{sub}/resourceGroups/{name if provider is None else rg}"
    if provider is not None:
        rid += f"/providers/{provider}/{name}"
    if kind == "containerservice:ManagedCluster":
        state["oidcIssuerProfile"] = {**(state.get("oidcIssuerProfile") or {}),
                                      "issuerURL": f"https://oidc.offline.invalid/{AZURE_CLIENT['tenantId']}/"}
        state["fqdn"] = f"{name}.hcp.offline.invalid"
        state["privateFQDN"] = f"{name}.privatelink.offline.invalid"
        identity = dict(state.get("identity") or {})
        if isinstance(identity.get("userAssignedIdentities"), list):  # input: ids; output: id -> details
            identity["userAssignedIdentities"] = {i: {} for i in identity["userAssignedIdentities"] if isinstance(i, str)}
            state["identity"] = identity
    if kind == "managedidentity:UserAssignedIdentity":
        state.update(clientId=f"client-id-of-{name}", principalId=f"principal-id-of-{name}",
                     tenantId=AZURE_CLIENT["tenantId"])
    if kind == "keyvault:Vault":
        state["properties"] = {**(state.get("properties") or {}), "vaultUri": f"https://{name}.vault.azure.net/"}
    state["id"] = rid
    return rid, state


def _plain(value: Any) -> Any:
    """Mock inputs may carry secret wrappers or unknowns: only plain strings name things."""
    return value if isinstance(value, str) else None
