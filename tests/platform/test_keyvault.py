"""The Key Vault secret store on AKS: vault settings, role assignment, federation and the
SecretProviderClass the model servers mount."""

from __future__ import annotations

import json

import jsonschema
import pytest

from components.platform.keyvault import (
    CSI_DRIVER,
    ROLE_KEY_VAULT_SECRETS_USER,
    SECRET_PROVIDER_CLASS,
    TOKEN_AUDIENCE,
)

from .harness import run, stack_raw

VAULT = "azure-native:keyvault:Vault"
KV_SECRET = "azure-native:keyvault:Secret"
FEDERATION = "azure-native:managedidentity:FederatedIdentityCredential"
ROLE = "azure-native:authorization:RoleAssignment"


@pytest.fixture(scope="module")
def dev():
    raw = stack_raw("dev")
    raw["hfToken"] = "<secret slmkit:hfToken>"  # as `pulumi config set --secret` leaves it
    return run(raw, "dev")


def test_vault_uses_rbac_and_purge_protection_only_in_prod(dev, prod):
    d, p = dev.inputs(VAULT)["properties"], prod.inputs(VAULT)["properties"]
    assert d["enableRbacAuthorization"] is True and p["enableRbacAuthorization"] is True
    assert "accessPolicies" not in d
    assert p["enablePurgeProtection"] is True
    assert "enablePurgeProtection" not in d  # ARM rejects an explicit false
    assert d["tenantId"] == p["tenantId"] == "00000000-0000-0000-0000-0000000000a1"


def test_workload_identity_may_read_secrets_of_this_vault_only(dev):
    role = dev.inputs(ROLE, "workload-secrets-user")
    assert role["roleDefinitionId"].endswith(f"/roleDefinitions/{ROLE_KEY_VAULT_SECRETS_USER}")
    assert role["principalId"] == "principal-id-of-slmkit-dev-workloads"
    assert role["principalType"] == "ServicePrincipal"
    assert role["scope"] == "/subscriptions/00000000-0000-0000-0000-000000000005/resourceGroups/slmkit-dev/providers/Microsoft.KeyVault/vaults/slmkit-dev-offln1"


def test_secrets_stored_in_key_vault_as_pulumi_secrets(dev):
    from pulumi.runtime import rpc

    stored = {r["inputs"]["secretName"]: r["inputs"]["properties"] for r in dev.of_type(KV_SECRET)}
    assert set(stored) == {"hf-token", "server-api-key"}
    assert all(rpc.is_rpc_secret(v) for v in stored.values())
    assert dev.inputs(KV_SECRET, "slmkit-models-hf-token")["properties"]["value"] == "<secret slmkit:hfToken>"
    # The program declares no Kubernetes Secret of these names in the models namespace: the CSI driver syncs them.
    models_ns = dev.loaded.stack.namespaces.models
    declared = {r["name"] for r in dev.of_type("kubernetes:core/v1:Secret")}
    assert not declared & {f"{models_ns}/slmkit-hf-token", f"{models_ns}/slmkit-server-api-key"}


def _workload_federations(run) -> list[dict]:
    """The workloads identity's credentials (Loki has an identity of its own: tests/platform/test_log_store.py)."""
    return [r for r in run.of_type(FEDERATION) if run.inputs(FEDERATION, r["name"])["resourceName"] == "slmkit-prod-workloads"]


def test_each_server_service_account_is_federated(prod):
    cluster_issuer = "https://oidc.offline.invalid/00000000-0000-0000-0000-0000000000a1/"
    feds = [prod.inputs(FEDERATION, r["name"]) for r in _workload_federations(prod)]
    ns = prod.loaded.stack.namespaces.models
    assert sorted(f["subject"] for f in feds) == sorted(f"system:serviceaccount:{ns}:{s.name}" for s in prod.loaded.stack.servers)
    assert all(f["issuer"] == cluster_issuer and f["audiences"] == [TOKEN_AUDIENCE] for f in feds)
    assert all(f["resourceName"] == "slmkit-prod-workloads" for f in feds)


def test_federated_credentials_are_written_one_after_another(prod):
    feds = _workload_federations(prod)
    assert len(feds) == 2
    assert feds[0]["urn"] in feds[1]["dependencies"]


def test_secret_provider_class_is_valid_and_syncs_the_secret_names(dev, crd_schemas):
    spc = dev.manifest("SecretProviderClass", SECRET_PROVIDER_CLASS)
    schema = json.loads((crd_schemas / "secrets-store.csi.x-k8s.io_secretproviderclass_v1_strict.json").read_text())
    jsonschema.validate(spc, schema)
    params = spc["spec"]["parameters"]
    assert spc["spec"]["provider"] == "azure" and params["usePodIdentity"] == "false"
    assert params["clientID"] == "client-id-of-slmkit-dev-workloads"
    assert params["keyvaultName"] == "slmkit-dev-offln1"
    synced = {(o["secretName"], d["key"], d["objectName"]) for o in spc["spec"]["secretObjects"] for d in o["data"]}
    assert synced == {("slmkit-hf-token", "token", "hf-token"), ("slmkit-server-api-key", "api-key", "server-api-key")}
    assert "objectName: hf-token" in params["objects"] and "objectName: server-api-key" in params["objects"]


def test_model_server_pod_mounts_the_store_with_workload_identity(dev):
    spec = dev.loaded.stack.servers[0]
    sa = dev.manifest("ServiceAccount", spec.name)
    assert sa["metadata"]["annotations"]["azure.workload.identity/client-id"] == "client-id-of-slmkit-dev-workloads"
    pod = dev.manifest("Deployment", spec.name)["spec"]["template"]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert pod["spec"]["serviceAccountName"] == spec.name
    (volume,) = [v for v in pod["spec"]["volumes"] if "csi" in v]
    assert volume["csi"] == {"driver": CSI_DRIVER, "readOnly": True,
                             "volumeAttributes": {"secretProviderClass": SECRET_PROVIDER_CLASS}}
    mounted = {m["name"] for c in pod["spec"]["containers"] for m in c.get("volumeMounts", [])}
    assert volume["name"] in mounted
    # The Secrets the pod reads are exactly the ones the SecretProviderClass syncs.
    read = {v["secret"]["secretName"] for v in pod["spec"]["volumes"] if "secret" in v}
    read |= {e["valueFrom"]["secretKeyRef"]["name"] for c in pod["spec"]["containers"] for e in c.get("env", [])
             if "secretKeyRef" in e.get("valueFrom", {})}
    assert read == {"slmkit-hf-token", "slmkit-server-api-key"}


def test_cluster_and_vault_outputs_are_exported_kubeconfig_as_secret(dev):
    out = dev.outputs
    assert out["keyVaultUri"] == ("https://slmkit-dev-offln1.vault.azure.net/", False)
    assert out["aksClusterName"] == ("slmkit-dev", False)
    assert out["aksApiEndpoint"] == ("https://slmkit-dev.hcp.offline.invalid:443", False)
    kubeconfig, secret = out["aksKubeconfig"]
    assert secret and "offline.invalid" in kubeconfig
    assert out["serverApiKey"][1] is True  # generated (pulumi-random), exported only as a secret
    pools, _ = out["aksPools"]
    assert [p["name"] for p in pools] == ["system", "gput4", "services"]
    assert pools[1]["gpu"] == "T4" and pools[1]["spot"] is True
