"""Loki's object store on AKS: a keyless storage account, a private container, and an identity federated
with exactly Loki's service account, whose client id and account name reach the Loki release values."""

from __future__ import annotations

from components.monitoring import logs
from components.monitoring.log_store import CONTAINER, ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR

ACCOUNT = "azure-native:storage:StorageAccount"
FEDERATION = "azure-native:managedidentity:FederatedIdentityCredential"
ROLE = "azure-native:authorization:RoleAssignment"
RELEASE = "kubernetes:helm.sh/v3:Release"


def test_the_account_takes_no_shared_keys_and_no_public_blobs(dev):
    account = dev.inputs(ACCOUNT)
    assert account["allowSharedKeyAccess"] is False and account["allowBlobPublicAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2"
    container = dev.inputs("azure-native:storage:BlobContainer")
    assert (container["containerName"], container["publicAccess"]) == (CONTAINER, "None")


def test_only_lokis_service_account_is_federated_and_it_may_write_blobs(dev):
    (fed,) = [dev.inputs(FEDERATION, r["name"]) for r in dev.of_type(FEDERATION)
              if dev.inputs(FEDERATION, r["name"])["resourceName"] == "slmkit-dev-loki"]
    assert fed["subject"] == f"system:serviceaccount:slmkit-monitoring:{logs.LOKI_FULLNAME}"
    roles = [dev.inputs(ROLE, r["name"]) for r in dev.of_type(ROLE)]
    assert any(r["roleDefinitionId"].endswith(ROLE_STORAGE_BLOB_DATA_CONTRIBUTOR) for r in roles)


def test_the_loki_release_uses_that_identity_and_container(dev):
    values = dev.inputs(RELEASE, logs.LOKI_RELEASE)["values"]
    assert values["serviceAccount"]["annotations"] == {"azure.workload.identity/client-id": "client-id-of-slmkit-dev-loki"}
    assert values["loki"]["storage"]["type"] == "azure" and values["loki"]["storage"]["bucketNames"]["chunks"] == CONTAINER
    assert values["loki"]["storage"]["azure"]["useFederatedToken"] is True
