"""What an AKS node leaves for pods: capacity minus the reservations AKS makes on every node.

Source: learn.microsoft.com/azure/aks/node-resource-reservations ("AKS 1.29 and later"), checked
2026-12-03. The kit pins Kubernetes 1.29+ (AksCluster.kubernetes_version defaults to 1.33):
- CPU kube-reserved, millicores by host cores: 1:60 2:100 4:140 8:180 16:260 32:420 64:740. Sizes
  between the listed ones are interpolated linearly (the table grows 10m per core from 4 cores on);
  above 64 cores the same 10m per core is extrapolated.
- Memory kube-reserved: the lesser of 20 MB x max pods + 50 MB, or 25% of the node's memory; plus the
  kubelet's eviction threshold memory.available < 100Mi. Counted here in MiB (the larger reading).
Max pods: the kit's clusters use Azure CNI Overlay (components/platform/aks.py), whose default is
250 pods per node (learn.microsoft.com/azure/aks/azure-cni-overlay). DaemonSets (CNI, CSI, GPU
operator, node exporter) request a little more on top: a pod sized right at the figure here may
still wait for a node, so the message says "at most".
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "learn.microsoft.com/azure/aks/node-resource-reservations (AKS 1.29 and later)"
CHECKED = "2026-12-03"

KUBE_RESERVED_CPU_M = {1: 60, 2: 100, 4: 140, 8: 180, 16: 260, 32: 420, 64: 740}
EVICTION_MEMORY_MIB = 100
MAX_PODS_AZURE_CNI_OVERLAY = 250


def kube_reserved_cpu_m(cores: int) -> float:
    points = sorted(KUBE_RESERVED_CPU_M.items())
    if cores <= points[0][0]:
        return points[0][1]
    for (c0, m0), (c1, m1) in zip(points, points[1:]):
        if cores <= c1:
            return m0 + (m1 - m0) * (cores - c0) / (c1 - c0)
    last_c, last_m = points[-1]
    return last_m + 10 * (cores - last_c)


def kube_reserved_memory_mib(memory_gib: float, max_pods: int = MAX_PODS_AZURE_CNI_OVERLAY) -> float:
    return min(20 * max_pods + 50, 0.25 * memory_gib * 1024)


@dataclass(frozen=True)
class Allocatable:
    cpu: float  # cores
    memory_gib: float


def allocatable(vcpus: int, memory_gib: float, max_pods: int = MAX_PODS_AZURE_CNI_OVERLAY) -> Allocatable:
    cpu = vcpus - kube_reserved_cpu_m(vcpus) / 1000
    memory = memory_gib - (kube_reserved_memory_mib(memory_gib, max_pods) + EVICTION_MEMORY_MIB) / 1024
    return Allocatable(cpu, memory)
