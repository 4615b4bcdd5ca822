"""Loki's object store on AKS: a storage account with one blob container, reached by Loki's service
account through workload identity (a user-assigned identity federated with it; no account keys)."""

from __future__ import annotations

import pulumi
import pulumi_random as random
from pulumi_azure_native import authorization, managedidentity, storage

from components.config import StackConfig
from components.platform.aks import role_definition_id, tags
from components.platform.keyvault import TOKEN_AUDIENCE, federated_subject

from .logs import LOKI_FULLNAME, AzureBlobStore

# Built-in role "Storage Blob Data Contributor" (learn.microsoft.com/azure/role-based-access-control/
# built-in-roles/storage, checked 2026-12-03): read, write and delete blobs, which the compactor needs.
ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
CONTAINER = "loki"


def account_settings(cfg: StackConfig) -> dict:
    """StorageAccount inputs from config alone: private blobs, TLS 1.2, no shared keys (Entra ID only)."""
    return {"kind": "StorageV2", "sku": {"name": "Standard_LRS" if cfg.environment != "prod" else "Standard_ZRS"},
            "allow_blob_public_access": False, "allow_shared_key_access": False, "minimum_tls_version": "TLS1_2",
            "enable_https_traffic_only": True, "tags": tags(cfg)}


def azure_log_store(cfg: StackConfig, platform, parent: pulumi.Resource) -> tuple[AzureBlobStore, list[pulumi.Resource]]:
    child = pulumi.ResourceOptions(parent=parent)
    suffix = random.RandomString("logs-suffix", length=8, special=False, upper=False, opts=child)
    account = storage.StorageAccount(
        "logs", resource_group_name=platform.resource_group_name, location=platform.location,
        # Account names are global, 3-24 lowercase letters and digits.
        account_name=suffix.result.apply(lambda s: f"slmkit{cfg.environment[:4]}{s}"),
        **account_settings(cfg), opts=child)
    container = storage.BlobContainer("loki-chunks", resource_group_name=platform.resource_group_name,
                                      account_name=account.name, container_name=CONTAINER,
                                      public_access="None", opts=child)
    identity = managedidentity.UserAssignedIdentity(
        "loki-identity", resource_name_=f"slmkit-{cfg.environment}-loki",
        resource_group_name=platform.resource_group_name, location=platform.location, tags=tags(cfg), opts=child)
    role = authorization.RoleAssignment(
        "loki-blob-contributor", principal_id=identity.principal_id, principal_type="ServicePrincipal",
        scope=account.id, role_definition_id=authorization.get_client_config_output().subscription_id.apply(
            lambda s: role_definition_id(s, ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR)), opts=child)
    federation = managedidentity.FederatedIdentityCredential(
        "loki-federation", resource_group_name=platform.resource_group_name, resource_name_=identity.name,
        federated_identity_credential_resource_name="loki", issuer=platform.oidc_issuer_url,
        subject=federated_subject(cfg.namespaces.monitoring, LOKI_FULLNAME), audiences=[TOKEN_AUDIENCE], opts=child)
    # The container name is fixed; the release waits for the container itself (depends_on).
    return AzureBlobStore(account.name, CONTAINER, identity.client_id), [container, role, federation]
