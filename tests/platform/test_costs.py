"""Quota and cost lines of the offline plan, computed from the SKU and price catalogs."""

from __future__ import annotations

import re

import pytest

from components.catalog import prices, skus
from components.config import validate_raw
from components.platform.costs import plan_lines, quota_needed

from .harness import run, stack_raw


def cfg_of(stack: str, **changes):
    raw = stack_raw(stack)
    raw.update(changes)
    return validate_raw(raw, f"stacks/Pulumi.{stack}.yaml", set()).stack


def test_quota_per_family_at_max_nodes_with_spot_counted_apart():
    need = quota_needed(cfg_of("dev"))
    t4 = skus.SKUS["Standard_NC8as_T4_v3"].vcpus
    d4 = skus.SKUS["Standard_D4ds_v5"].vcpus
    # system 1 x D4ds + services 2 x D4ds regular; the T4 spot node uses the low-priority quota.
    assert need == {"standardDDSv5Family": 3 * d4, "cores": 3 * d4, "lowPriorityCores": 1 * t4}


def test_prod_quota_includes_the_a100_family():
    need = quota_needed(cfg_of("prod"))
    a100 = skus.SKUS["Standard_NC24ads_A100_v4"]
    assert need[a100.quota_family] == 4 * a100.vcpus
    assert need["cores"] == 4 * a100.vcpus + 3 * 4 + 3 * 16  # + system 3 x D4ds, cpu 3 x D16ds


def _money(text: str) -> list[int]:
    return [int(m.replace(",", "")) for m in re.findall(r"\$([0-9,]+)", text)]


def test_cost_per_pool_at_min_and_max_from_the_price_table():
    lines = plan_lines(cfg_of("prod"))
    (a100,) = [line for line in lines if line.strip().startswith("gpua100")]
    hourly = prices.VM_HOURLY["Standard_NC24ads_A100_v4"]
    assert _money(a100) == [round(hourly * 730 * 1), round(hourly * 730 * 4)]
    (plane,) = [line for line in lines if "control plane" in line]
    assert _money(plane) == [73, 73]  # Standard tier
    (total,) = [line for line in lines if line.strip().startswith("total")]
    pools = [line for line in lines if re.match(r"^  (system|gpua100|cpu) ", line)]
    assert _money(total)[0] == pytest.approx(sum(_money(p)[0] for p in pools) + 73, abs=3)
    assert _money(total)[1] == pytest.approx(sum(_money(p)[1] for p in pools) + 73, abs=3)


def test_plan_names_region_source_and_date_and_the_quota_command():
    text = "\n".join(plan_lines(cfg_of("dev")))
    assert "az vm list-usage --location eastus2" in text
    assert prices.SOURCE in text and prices.CHECKED in text
    assert "spot" in text and "ceiling" in text


def test_other_region_is_flagged_and_existing_clusters_get_no_lines():
    raw = stack_raw("dev")
    raw["cluster"]["location"] = "westeurope"
    text = "\n".join(plan_lines(validate_raw(raw, "x", set()).stack))
    assert "eastus2 prices; westeurope differs" in text
    raw["cluster"] = {"kind": "existing"}
    raw["nodePools"] = [{"name": "gput4", "gpuType": "T4", "gpusPerNode": 1}, {"name": "services"}]
    assert plan_lines(validate_raw(raw, "x", set()).stack) == []


def test_every_catalog_sku_has_a_price():
    assert set(skus.SKUS) <= set(prices.VM_HOURLY)


def test_plan_txt_carries_the_quota_and_cost_section(tmp_path):
    run(stack_raw("staging"), "staging", out=tmp_path)
    plan = (tmp_path / "plan.txt").read_text()
    assert "AKS quota (vCPUs at max node count" in plan
    assert re.search(r"StandardNVADSA10v5Family\s+72 vCPUs", plan)
    assert re.search(r"gpua10\s+Standard_NV36ads_A10_v5\s+1\.\.2\s+nodes", plan)
    assert "azure-native:containerservice:ManagedCluster" in (tmp_path / "resources.json").read_text()
