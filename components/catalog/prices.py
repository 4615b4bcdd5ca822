"""Hourly list prices for the VM sizes in components/catalog/skus.py, used by the offline plan's
monthly cost estimate.

Region: eastus2. Linux, pay-as-you-go, USD per VM hour, without reservations or savings plans.
Source: Azure Retail Prices API (https://prices.azure.com/api/retail/prices, priceType Consumption),
the same figures as azure.microsoft.com/pricing/details/virtual-machines/linux/. These are the 2025
list prices; they were not re-read on 2026-11-28 (no network to Azure from the build machine).
Refresh one with:
  curl -s "https://prices.azure.com/api/retail/prices?\\$filter=armRegionName eq 'eastus2' and
       armSkuName eq 'Standard_NC4as_T4_v3' and priceType eq 'Consumption'"
Spot prices move hourly: the plan shows the on-demand price as the ceiling (spot pools are created
with maxPrice -1, which means "never more than on-demand").
"""

from __future__ import annotations

REGION = "eastus2"
CURRENCY = "USD"
SOURCE = "Azure Retail Prices API, Linux pay-as-you-go list prices"
CHECKED = "2025 list prices, not re-read on 2026-11-28"
HOURS_PER_MONTH = 730  # Azure's own monthly figure (8760 / 12)

VM_HOURLY: dict[str, float] = {
    "Standard_NC4as_T4_v3": 0.526,
    "Standard_NC8as_T4_v3": 0.752,
    "Standard_NC16as_T4_v3": 1.204,
    "Standard_NC64as_T4_v3": 4.352,
    "Standard_NV36ads_A10_v5": 3.20,
    "Standard_NC24ads_A100_v4": 3.673,
    "Standard_NC48ads_A100_v4": 7.346,
    "Standard_NC96ads_A100_v4": 14.692,
    "Standard_NC40ads_H100_v5": 6.98,
    "Standard_NC80adis_H100_v5": 13.96,
    "Standard_D4s_v5": 0.192,
    "Standard_D8s_v5": 0.384,
    "Standard_D16s_v5": 0.768,
    "Standard_D4ds_v5": 0.226,
    "Standard_D8ds_v5": 0.452,
    "Standard_D16ds_v5": 0.904,
}

# The AKS control plane: Free tier has no SLA; Standard is billed per cluster hour.
AKS_TIER_HOURLY: dict[str, float] = {"Free": 0.0, "Standard": 0.10}


def monthly(hourly: float, nodes: int = 1) -> float:
    return hourly * HOURS_PER_MONTH * nodes
