"""GPU software: the GPU Operator (no AKS driver) or the AKS driver with the device plugin, both with
DCGM metrics at the same Service, both placed only on GPU pools with the pools' taints tolerated."""

from __future__ import annotations

import pytest

from components.catalog import skus
from components.catalog.charts import CHARTS
from components.config import ConfigError, validate_raw
from components.platform.aks import (
    DCGM_PORT,
    DCGM_PORT_NAME,
    DCGM_SERVICE,
    GPU_NAMESPACE,
    agent_pool_settings,
    gpu_operator_values,
)

from .harness import run, stack_raw

RELEASE = "kubernetes:helm.sh/v3:Release"
GPU = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
SPOT = {"key": "kubernetes.azure.com/scalesetpriority", "operator": "Equal", "value": "spot", "effect": "NoSchedule"}


@pytest.fixture(scope="module")
def aks_driver():
    raw = stack_raw("dev")
    raw["cluster"]["gpuSoftware"] = "aks-driver"
    return run(raw, "dev")


def test_gpu_operator_release_is_pinned_and_tolerates_spot_gpu_nodes():
    cfg = validate_raw(stack_raw("dev"), "x", set()).stack
    values = gpu_operator_values(cfg)
    assert values["driver"]["enabled"] is True and values["dcgmExporter"]["enabled"] is True
    for part in (values["daemonsets"], values["node-feature-discovery"]["worker"]):
        assert part["tolerations"] == [GPU, SPOT]
    # The chart's `daemonsets` has no affinity value (it would be dropped); NFD's worker does.
    assert "affinity" not in values["daemonsets"]
    worker = values["node-feature-discovery"]["worker"]
    (term,) = worker["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term["matchExpressions"] == [{"key": "kubernetes.azure.com/agentpool", "operator": "In", "values": ["gput4"]}]


def test_gpu_operator_rendered_in_dev_with_its_catalog_version():
    r = run(stack_raw("dev"), "dev")
    release = r.inputs(RELEASE, "gpu-operator")
    chart = CHARTS["gpu-operator"]
    assert (release["chart"], release["version"], release["repositoryOpts"]["repo"]) == (chart.name, chart.version, chart.repo)
    assert release["namespace"] == GPU_NAMESPACE
    ns = r.manifest("Namespace", GPU_NAMESPACE)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert not [x for x in r.of_type(RELEASE) if x["name"] in ("nvidia-device-plugin", "dcgm-exporter")]


def test_aks_driver_pools_keep_the_driver_and_get_the_device_plugin(aks_driver):
    pool = aks_driver.inputs("azure-native:containerservice:AgentPool", "pool-gput4")
    assert pool["gpuProfile"] == {"driver": "Install"}
    names = {x["name"] for x in aks_driver.of_type(RELEASE)}
    assert {"nvidia-device-plugin", "dcgm-exporter"} <= names and "gpu-operator" not in names
    plugin = aks_driver.inputs(RELEASE, "nvidia-device-plugin")
    assert plugin["version"] == CHARTS["nvidia-device-plugin"].version
    assert plugin["values"]["tolerations"] == [GPU, SPOT]


def test_dcgm_metrics_have_the_same_service_in_both_choices(aks_driver):
    svc = aks_driver.manifest("Service", DCGM_SERVICE)
    assert svc["metadata"]["namespace"] == GPU_NAMESPACE
    assert svc["metadata"]["labels"]["app"] == DCGM_SERVICE  # what the GPU Operator's Service carries
    assert svc["spec"]["ports"] == [{"name": DCGM_PORT_NAME, "port": DCGM_PORT, "targetPort": DCGM_PORT, "protocol": "TCP"}]
    dcgm = aks_driver.inputs(RELEASE, "dcgm-exporter")
    assert svc["spec"]["selector"]["app.kubernetes.io/instance"] == dcgm["name"]
    assert dcgm["values"]["tolerations"] == [GPU, SPOT]


def test_cpu_pools_get_no_gpu_profile_and_no_gpu_taint():
    cfg = validate_raw(stack_raw("prod"), "x", set()).stack
    cpu = agent_pool_settings(cfg, cfg.pool("cpu"))
    assert "gpu_profile" not in cpu and cpu["node_taints"] == []
    assert "os_disk_type" not in cpu  # AKS chooses Ephemeral where the VM's local disk holds the OS disk
    managed = agent_pool_settings(cfg, cfg.pool("cpu").model_copy(update={"os_disk_type": "Managed", "os_disk_size_gb": 256}))
    assert (managed["os_disk_type"], managed["os_disk_size_gb"]) == ("Managed", 256)


def test_vgpu_sizes_refuse_the_gpu_operator_naming_the_key_and_the_fix():
    """NVadsA10 v5 sizes need the GRID driver (catalog/skus.py): the datacenter driver the GPU Operator
    installs does not work there."""
    assert skus.SKUS["Standard_NV36ads_A10_v5"].gpu_driver == "grid"
    assert {s.gpu_driver for n, s in skus.SKUS.items() if s.gpu and "A10" not in n} == {"datacenter"}
    assert skus.SKUS["Standard_D4ds_v5"].gpu_driver is None
    raw = stack_raw("staging")
    raw["cluster"]["gpuSoftware"] = "gpu-operator"
    with pytest.raises(ConfigError) as err:
        validate_raw(raw, "stacks/Pulumi.staging.yaml", set())
    (line,) = [x for x in err.value.lines() if "gpuSoftware" in x]
    assert line.startswith("stacks/Pulumi.staging.yaml: slmkit:cluster.gpuSoftware = gpu-operator: pool gpua10 "
                           "(Standard_NV36ads_A10_v5)") and "GRID" in line and "set cluster.gpuSoftware: aks-driver" in line


def test_staging_a10_pool_gets_the_aks_installed_driver_and_no_gpu_operator():
    r = run(stack_raw("staging"), "staging")
    pool = r.inputs("azure-native:containerservice:AgentPool", "pool-gpua10")
    assert pool["gpuProfile"] == {"driver": "Install"}  # AKS installs the GRID driver on this size
    releases = {rec["name"] for rec in r.records if rec["type"] == RELEASE}
    assert "gpu-operator" not in releases and {"nvidia-device-plugin", "dcgm-exporter"} <= releases
