"""Quota and cost figures for an AKS stack, printed in the offline plan before anyone runs `pulumi up`.

Quota: what `az vm list-usage` must show free, per VM family, with every pool at its max node
count (the autoscaler may get there). Spot nodes count against the regional low-priority quota, not
the family quota. Cost: per pool at min and max node count from components/catalog/prices.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from components.catalog import prices, skus
from components.config import StackConfig
from components.config.cluster import SYSTEM_POOL_NAME

SPOT_QUOTA = "lowPriorityCores"  # `az vm list-usage` name of "Total Regional Low-priority vCPUs"
REGIONAL_QUOTA = "cores"  # "Total Regional vCPUs": every regular VM counts here as well


@dataclass(frozen=True)
class PoolSizing:
    name: str
    vm_size: str
    min_nodes: int
    max_nodes: int
    spot: bool

    @property
    def vcpus_per_node(self) -> int:
        return skus.SKUS[self.vm_size].vcpus

    @property
    def quota_name(self) -> str:
        return SPOT_QUOTA if self.spot else skus.SKUS[self.vm_size].quota_family

    def monthly_cost(self, nodes: int) -> float | None:
        hourly = prices.VM_HOURLY.get(self.vm_size)
        return None if hourly is None else prices.monthly(hourly, nodes)


def pool_sizings(cfg: StackConfig) -> list[PoolSizing]:
    """The system pool and every user pool, as the cluster autoscaler may size them."""
    aks = cfg.cluster
    out = [PoolSizing(SYSTEM_POOL_NAME, aks.system_pool.vm_size, aks.system_pool.count, aks.system_pool.count, False)]
    out += [PoolSizing(p.name, p.vm_size, p.min_count, p.max_count, p.spot) for p in cfg.node_pools if p.vm_size]
    return out


def quota_needed(cfg: StackConfig) -> dict[str, int]:
    """vCPUs per quota name at max node count, including the regional totals."""
    need: dict[str, int] = defaultdict(int)
    for pool in pool_sizings(cfg):
        vcpus = pool.vcpus_per_node * pool.max_nodes
        need[pool.quota_name] += vcpus
        if not pool.spot:
            need[REGIONAL_QUOTA] += vcpus
    return dict(need)


def plan_lines(cfg: StackConfig) -> list[str]:
    if not cfg.is_aks:
        return []
    aks = cfg.cluster
    lines = [f"AKS quota (vCPUs at max node count; check free quota with: {usage_command(aks.location)})"]
    for name, vcpus in sorted(quota_needed(cfg).items()):
        users = [p.name for p in pool_sizings(cfg) if p.quota_name == name or (name == REGIONAL_QUOTA and not p.spot)]
        lines.append(f"  {name:<28} {vcpus:>4} vCPUs  ({', '.join(users)})")
    where = prices.REGION if aks.location == prices.REGION else f"{prices.REGION} prices; {aks.location} differs"
    lines.append(f"AKS monthly cost, {prices.CURRENCY} ({where}; {prices.SOURCE}; {prices.CHECKED}; "
                 f"{prices.HOURS_PER_MONTH} h/month)")
    total_min = total_max = prices.monthly(prices.AKS_TIER_HOURLY[aks.sku_tier])
    lines.append(f"  {'control plane':<14} {aks.sku_tier + ' tier':<26} {'':>9} {_usd(total_min):>10} .. {_usd(total_max)}")
    unpriced = []
    for pool in pool_sizings(cfg):
        low, high = pool.monthly_cost(pool.min_nodes), pool.monthly_cost(pool.max_nodes)
        if low is None or high is None:
            unpriced.append(pool.vm_size)
            continue
        total_min, total_max = total_min + low, total_max + high
        note = "  (spot: on-demand price is the ceiling; usually far less, evictable)" if pool.spot else ""
        lines.append(f"  {pool.name:<14} {pool.vm_size:<26} {pool.min_nodes:>3}..{pool.max_nodes:<3} nodes "
                     f"{_usd(low):>10} .. {_usd(high)}{note}")
    lines.append(f"  {'total':<14} {'':<26} {'':>9} {_usd(total_min):>10} .. {_usd(total_max)}")
    if unpriced:
        lines.append("  no price in components/catalog/prices.py for: " + ", ".join(sorted(set(unpriced))))
    lines.append("  not included: OS/data disks, Log Analytics ingestion, load balancer, egress, Key Vault operations")
    return lines


def usage_command(location: str) -> str:
    """`az vm list-usage` with the quota names this plan uses (the table output shows localized names)."""
    return (f'az vm list-usage --location {location} --query "[].{{name:name.value, used:currentValue, '
            f'limit:limit}}" -o table')


def _usd(amount: float) -> str:
    return f"${amount:,.0f}"
