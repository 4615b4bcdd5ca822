"""AKS config mistakes are reported before anything is declared, in the kit's message format."""

from __future__ import annotations

import pytest

from components.config import ConfigError, validate_raw

from .harness import stack_raw


def load(raw: dict, secrets: frozenset = frozenset()):
    return validate_raw(raw, "stacks/Pulumi.test.yaml", set(secrets))


def errors_of(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as err:
        load(raw)
    return err.value.lines()


def test_rendered_stacks_load_without_aks_errors():
    for stack in ("dev", "staging", "prod"):
        load(stack_raw(stack))


def test_gpu_server_on_a_cpu_pool_is_an_error():
    raw = stack_raw("dev")
    raw["servers"][0]["nodePool"] = "services"
    assert any("slmkit:servers[0].nodePool = services: pool 'services' has no GPUs" in line for line in errors_of(raw))


def test_server_naming_a_pool_that_does_not_exist_is_an_error():
    raw = stack_raw("dev")
    raw["servers"][0]["nodePool"] = "gpu"
    assert any("slmkit:servers[0].nodePool = gpu: no such pool in slmkit:nodePools (gput4, services)" in line
               for line in errors_of(raw))


def test_sku_not_in_the_catalog_is_an_error():
    raw = stack_raw("staging")
    raw["nodePools"][0]["vmSize"] = "Standard_NC6s_v3"  # V100, retired
    lines = errors_of(raw)
    assert any(line.startswith("stacks/Pulumi.test.yaml: slmkit:nodePools[0].vmSize = Standard_NC6s_v3: not a VM size in the catalog")
               for line in lines)


def test_spot_gpu_pool_in_prod_is_a_warning():
    raw = stack_raw("prod")
    raw["nodePools"][0]["spot"] = True
    warnings = load(raw).warning_lines()
    assert any("slmkit:nodePools[0].spot = True: spot GPU nodes can be evicted" in w for w in warnings)


def test_prod_api_server_open_to_the_internet_is_an_error_dev_only_warned():
    raw = stack_raw("prod")
    del raw["cluster"]["apiServer"]
    assert any("slmkit:cluster.apiServer" in line and "reachable from any address" in line for line in errors_of(raw))
    dev = load(stack_raw("dev"))
    assert any("reachable from any address" in w for w in dev.warning_lines())


def test_private_cluster_with_ip_ranges_is_contradictory():
    raw = stack_raw("prod")
    raw["cluster"]["apiServer"] = {"private": True, "authorizedIpRanges": ["203.0.113.0/24"]}
    assert any("slmkit:cluster.apiServer" in line and "either private: true or authorizedIpRanges" in line
               for line in errors_of(raw))


def test_bad_cidr_and_allow_all_ranges_are_errors():
    raw = stack_raw("prod")
    raw["cluster"]["apiServer"] = {"authorizedIpRanges": ["10.0.0.300/8"]}
    assert any("is not a CIDR block" in line for line in errors_of(raw))
    raw["cluster"]["apiServer"] = {"authorizedIpRanges": ["0.0.0.0/0"]}
    assert any("authorizedIpRanges = 0.0.0.0/0: allows every address" in line for line in errors_of(raw))


def test_ephemeral_os_disk_needs_a_sku_with_local_disk():
    raw = stack_raw("dev")
    raw["nodePools"][1].update(vmSize="Standard_D4s_v5", osDiskType="Ephemeral")
    assert any("slmkit:nodePools[1].osDiskType = Ephemeral: Standard_D4s_v5 has no local disk" in line
               for line in errors_of(raw))


def test_gpu_type_contradicting_the_sku_is_an_error():
    raw = stack_raw("dev")
    raw["nodePools"][0]["gpuType"] = "A10"
    assert any("slmkit:nodePools[0].gpuType = A10: Standard_NC8as_T4_v3 has T4" in line for line in errors_of(raw))


def test_pool_named_like_the_system_pool_and_gpu_system_pool_are_errors():
    raw = stack_raw("dev")
    raw["nodePools"][1]["name"] = "system"
    raw["servers"][0]["nodePool"] = "gput4"
    raw["cluster"]["systemPool"] = {"vmSize": "Standard_NC4as_T4_v3"}
    lines = errors_of(raw)
    assert any("slmkit:nodePools[1].name = system: the kit's system pool already has this name" in line for line in lines)
    assert any("slmkit:cluster.systemPool.vmSize = Standard_NC4as_T4_v3: not a CPU VM size" in line for line in lines)


def test_key_vault_store_needs_an_aks_cluster():
    raw = stack_raw("dev")
    raw["cluster"] = {"kind": "existing"}
    raw["nodePools"] = [{"name": "gput4", "gpuType": "T4", "gpusPerNode": 1}]
    raw["secrets"] = {"provider": "keyvault"}
    assert any("slmkit:secrets.provider = keyvault" in line for line in errors_of(raw))


def test_unknown_cluster_key_suggests_the_right_one():
    raw = stack_raw("dev")
    raw["cluster"]["gpuSoftwre"] = "aks-driver"
    assert any("slmkit:cluster.gpuSoftwre = aks-driver: unknown key; did you mean gpuSoftware?" in line
               for line in errors_of(raw))


def test_a_pool_for_the_kits_services_is_asked_for():
    raw = stack_raw("dev")
    raw["nodePools"][1]["minCount"] = 0  # services could scale to nothing: operators would stay Pending
    assert any("slmkit:nodePools = ['gput4', 'services']: no pool can run the kit's services" in w
               for w in load(raw).warning_lines())
    raw["nodePools"][1].update(minCount=1, taints=[{"key": "dedicated", "value": "onnx"}])
    assert any("no pool can run the kit's services" in w for w in load(raw).warning_lines())
    assert not any("no pool can run" in w for w in load(stack_raw("dev")).warning_lines())
