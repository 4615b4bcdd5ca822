"""The Key Vault secret store for AKS: the same Kubernetes Secret names as SecretStore, but the values
live in Azure Key Vault and reach the cluster through the Secrets Store CSI driver add-on.

How a model server pod gets its token: its ServiceAccount carries the client id of a user-assigned
identity federated to that ServiceAccount (workload identity); the pod mounts the CSI volume of a
SecretProviderClass; the driver reads Key Vault as that identity and syncs the values into the
Kubernetes Secrets `slmkit-hf-token` / `slmkit-server-api-key` (secretObjects), which the server
builders already reference. The sync only happens while a pod mounts the volume, which servers do.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, keyvault, managedidentity

from components.config import NAMESPACE, StackConfig
from components.context import StackContext
from components.k8s.declare import declare
from components.platform.aks import AksPlatform, aks_of, role_definition_id, tags
from components.platform.secrets import (
    HF_TOKEN_KEY,
    HF_TOKEN_SECRET,
    SERVER_API_KEY_KEY,
    SERVER_API_KEY_SECRET,
    PodSecretWiring,
    SecretStore,
    secret_object,
)

# learn.microsoft.com/azure/role-based-access-control/built-in-roles (checked 2026-11-28)
ROLE_KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
CSI_DRIVER = "secrets-store.csi.k8s.io"
CSI_VOLUME, CSI_MOUNT_PATH = "secrets-store", "/mnt/secrets-store"
SECRET_PROVIDER_CLASS = "slmkit-secrets"
TOKEN_AUDIENCE = "api://AzureADTokenExchange"  # the audience AKS workload identity tokens carry


@dataclass(frozen=True)
class SyncedSecret:
    """One Key Vault secret synced into one key of a Kubernetes Secret."""

    vault_name: str  # name in Key Vault: letters, digits, hyphens
    k8s_secret: str
    k8s_key: str


HF_TOKEN = SyncedSecret("hf-token", HF_TOKEN_SECRET, HF_TOKEN_KEY)
SERVER_API_KEY = SyncedSecret("server-api-key", SERVER_API_KEY_SECRET, SERVER_API_KEY_KEY)


def purge_protection(cfg: StackConfig) -> bool:
    opt = aks_of(cfg).key_vault.purge_protection
    return cfg.environment == "prod" if opt is None else opt


def vault_properties(cfg: StackConfig, tenant_id: pulumi.Input[str]) -> dict:
    props = {
        "tenant_id": tenant_id,
        "sku": {"family": "A", "name": "standard"},
        "enable_rbac_authorization": True,  # Azure RBAC, no access policies
        "enable_soft_delete": True,
        "soft_delete_retention_in_days": aks_of(cfg).key_vault.soft_delete_retention_days,
    }
    if purge_protection(cfg):
        props["enable_purge_protection"] = True  # ARM rejects an explicit false: omitted when off
    return props


def federated_subject(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


def secret_provider_class(name: str, namespace: str, vault_name: pulumi.Input[str], client_id: pulumi.Input[str],
                          tenant_id: pulumi.Input[str], synced: list[SyncedSecret]) -> dict:
    """A SecretProviderClass (secrets-store.csi.x-k8s.io/v1) for the Azure provider with workload identity."""
    objects = "array:\n" + "".join(f"  - |\n    objectName: {s.vault_name}\n    objectType: secret\n" for s in synced)
    by_secret: dict[str, list[SyncedSecret]] = {}
    for s in synced:
        by_secret.setdefault(s.k8s_secret, []).append(s)
    return {
        "apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass",
        "metadata": {"name": name, "namespace": namespace,
                     "labels": {"app.kubernetes.io/part-of": "slmkit", "app.kubernetes.io/managed-by": "pulumi"}},
        "spec": {
            "provider": "azure",
            "parameters": {"usePodIdentity": "false", "clientID": client_id, "keyvaultName": vault_name,
                           "tenantId": tenant_id, "objects": objects},
            "secretObjects": [{"secretName": secret, "type": "Opaque",
                               "data": [{"objectName": s.vault_name, "key": s.k8s_key} for s in items]}
                              for secret, items in by_secret.items()],
        },
    }


def pod_wiring(client_id: pulumi.Input[str], provider_class: str = SECRET_PROVIDER_CLASS) -> PodSecretWiring:
    """What a pod adds to read the store: the CSI volume and mount, the workload identity label and
    the ServiceAccount annotation naming the identity."""
    return PodSecretWiring(
        volumes=[{"name": CSI_VOLUME, "csi": {"driver": CSI_DRIVER, "readOnly": True,
                                              "volumeAttributes": {"secretProviderClass": provider_class}}}],
        mounts=[{"name": CSI_VOLUME, "mountPath": CSI_MOUNT_PATH, "readOnly": True}],
        pod_labels={"azure.workload.identity/use": "true"},
        service_account_annotations={"azure.workload.identity/client-id": client_id},
    )


class KeyVaultSecretStore(pulumi.ComponentResource):
    """Same interface as secrets.SecretStore (server_api_key, hf_token, wiring, resources, has_hf_token),
    plus `vault_uri` and `add_namespace()` for other namespaces' secrets (e.g. the gateway's keys)."""

    def __init__(self, ctx: StackContext, platform: AksPlatform, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slmkit:platform:KeyVaultSecretStore", "secrets", None, opts)
        cfg, conf = ctx.cfg, pulumi.Config(NAMESPACE)
        self._ctx, self._platform = ctx, platform
        child = pulumi.ResourceOptions(parent=self)
        suffix = random.RandomString("vault-suffix", length=6, special=False, upper=False, opts=child)
        self.vault = keyvault.Vault(
            "vault", resource_group_name=platform.resource_group_name, location=platform.location,
            # Vault names are global and stay reserved while soft-deleted: a random suffix avoids clashes.
            vault_name=suffix.result.apply(lambda s: f"slmkit-{cfg.environment}-{s}"),
            properties=vault_properties(cfg, platform.tenant_id), tags=tags(cfg), opts=child)
        self.vault_uri = self.vault.properties.apply(lambda p: p.vault_uri)
        self.identity = managedidentity.UserAssignedIdentity(
            "workload-identity", resource_name_=f"slmkit-{cfg.environment}-workloads",
            resource_group_name=platform.resource_group_name, location=platform.location, tags=tags(cfg), opts=child)
        self.reader_role = authorization.RoleAssignment(
            "workload-secrets-user", principal_id=self.identity.principal_id, principal_type="ServicePrincipal",
            scope=self.vault.id, role_definition_id=authorization.get_client_config_output().subscription_id.apply(
                lambda s: role_definition_id(s, ROLE_KEY_VAULT_SECRETS_USER)), opts=child)

        key = random.RandomPassword("server-api-key", length=48, special=False, opts=child)
        self.server_api_key: pulumi.Output[str] = pulumi.Output.secret(key.result)
        self.hf_token: pulumi.Output[str] | None = conf.get_secret("hfToken")
        values = {SERVER_API_KEY: self.server_api_key}
        if self.hf_token is not None:
            values[HF_TOKEN] = self.hf_token
        self._last_federation: pulumi.Resource | None = None
        self.resources: list[pulumi.Resource] = [self.reader_role]
        # Each server has its own ServiceAccount (named after the server); each one is federated.
        self.wiring = self.add_namespace(cfg.namespaces.models, [s.name for s in cfg.servers], values)
        # The load-test gate Job calls servers directly when there is no gateway; a short-lived Job
        # gets a plain Kubernetes Secret from the Pulumi secret rather than a federated identity.
        self.resources.append(declare(
            secret_object(SERVER_API_KEY_SECRET, cfg.namespaces.loadtest, {SERVER_API_KEY_KEY: self.server_api_key}),
            ctx.opts(parent=self, namespace=cfg.namespaces.loadtest)))
        self.register_outputs({"vaultUri": self.vault_uri})

    @property
    def has_hf_token(self) -> bool:
        return self.hf_token is not None

    def add_namespace(self, namespace: str, service_accounts: list[str],
                      values: dict[SyncedSecret, pulumi.Input[str]]) -> PodSecretWiring:
        """Store `values` in Key Vault, federate the namespace's ServiceAccounts, and declare the
        namespace's SecretProviderClass. Returns what those pods must add."""
        child = pulumi.ResourceOptions(parent=self)
        for synced, value in values.items():
            self.resources.append(keyvault.Secret(
                f"{namespace}-{synced.vault_name}", resource_group_name=self._platform.resource_group_name,
                            vault_name=self.vault.name, secret_name=synced.vault_name,
                properties={"value": pulumi.Output.secret(value)}, opts=child))
        for account in service_accounts:
            # Azure rejects concurrent writes of federated credentials on one identity: chain them.
            self._last_federation = managedidentity.FederatedIdentityCredential(
                f"{namespace}-{account}", resource_group_name=self._platform.resource_group_name,
                resource_name_=self.identity.name, federated_identity_credential_resource_name=f"{namespace}-{account}",
                issuer=self._platform.oidc_issuer_url, subject=federated_subject(namespace, account),
                audiences=[TOKEN_AUDIENCE], opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[self._last_federation] if self._last_federation else None))
            self.resources.append(self._last_federation)
        spc = secret_provider_class(SECRET_PROVIDER_CLASS, namespace, self.vault.name, self.identity.client_id,
                                    self._platform.tenant_id, list(values))
        self.resources.append(declare(spc, self._ctx.opts(parent=self, namespace=namespace)))
        return pod_wiring(self.identity.client_id)


def secret_store(ctx: StackContext) -> pulumi.ComponentResource:
    """The store the config asks for: Key Vault on AKS (needs the AKS platform), else Kubernetes Secrets."""
    if ctx.cfg.secret_provider == "keyvault":
        platform = getattr(ctx, "platform", None)
        if platform is None:
            raise TypeError("slmkit:secrets.provider keyvault needs cluster.kind: aks (the kit creates the vault with the cluster)")
        store = KeyVaultSecretStore(ctx, platform)
        ctx.outputs["keyVaultUri"] = store.vault_uri
        return store
    return SecretStore(ctx)
