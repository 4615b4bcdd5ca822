"""GPU types and Azure VM sizes the kit can place model servers on.

Sources: Azure VM size docs (NCasT4_v3, NVadsA10_v5, NC_A100_v4, NCads_H100_v5, Dsv5 series) and
NVIDIA data sheets for compute capability. Checked 2026-11-28. NCv3 (V100) is left out: retired
by Azure in 2025.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "learn.microsoft.com Azure VM sizes (GPU accelerated, general purpose); NVIDIA CUDA GPUs list"
CHECKED = "2026-11-28"

# Which NVIDIA driver a GPU size needs. "grid": the size presents its GPU through NVIDIA vGPU (all
# NVadsA10 v5 sizes: NV36ads a whole A10, the smaller sizes a fraction of one) and needs the GRID
# (vGPU guest) driver; the GPU Operator's datacenter driver does not fit. AKS installs the GRID driver
# itself on these sizes when the pool lets it install the driver. "datacenter": the regular CUDA
# driver, from AKS or the GPU Operator.
DRIVER_SOURCE = ("github.com/Azure/AgentBaker ConvergedGPUDriverSizes and GetGPUDriverType ('grid' for "
                 "standard_nv*ads_a10_v5); learn.microsoft.com NVadsA10 v5 series (GRID drivers)")
DRIVER_CHECKED = "2026-12-03"


@dataclass(frozen=True)
class GpuType:
    name: str
    memory_gib: float  # what CUDA can allocate (nvidia-smi's total, MiB / 1024), not the data sheet's GB
    compute_capability: float

    @property
    def bf16(self) -> bool:
        return self.compute_capability >= 8.0

    @property
    def fp8(self) -> bool:  # vLLM fp8 weights: native on >= 8.9, weight-only Marlin kernels on 8.0+
        return self.compute_capability >= 8.0


# Data sheets give the memory fitted ("16 GB"); CUDA sees less: GDDR6 parts with ECC on (the cloud
# default) lose 6.25% to ECC (CUDA C++ Best Practices Guide, "Device Memory Spaces") and the driver
# keeps a little. Usable GiB, from nvidia-smi totals reported upstream (checked 2026-12-03): T4 16 GB -> 15079 MiB (forums.developer.nvidia.com/t/173099);
# A10 24 GB -> 23028 MiB (github.com/vllm-project/vllm/issues/10034); L4: the same 24 GB GDDR6 with
# ECC, counted as the A10; A100 80GB HBM2e -> 81920 MiB (github.com/deepseek-ai/DeepSeek-Coder-V2/
# issues/29); H100 NVL 94 GB -> 99961274368 bytes (github.com/fastfetch-cli/fastfetch/issues/1658).
GPUS: dict[str, GpuType] = {
    g.name: g
    for g in [
        GpuType("T4", 14.7, 7.5),
        GpuType("A10", 22.4, 8.6),
        GpuType("L4", 22.4, 8.9),
        GpuType("A100-80GB", 80, 8.0),
        GpuType("H100-NVL", 93.1, 9.0),
    ]
}


@dataclass(frozen=True)
class VmSku:
    name: str
    vcpus: int
    memory_gib: int
    quota_family: str  # what `az vm list-usage` calls the vCPU quota
    gpu: str | None = None
    gpus: int = 0
    nvme: bool = False  # local NVMe: a fast model cache
    ephemeral_os_disk: bool = True
    vgpu: bool = False  # the GPU comes through NVIDIA vGPU: GRID driver (DRIVER_SOURCE)

    @property
    def gpu_type(self) -> GpuType | None:
        return GPUS[self.gpu] if self.gpu else None

    @property
    def gpu_driver(self) -> str | None:
        """"grid" or "datacenter" for GPU sizes (see DRIVER_SOURCE), None for CPU sizes."""
        if not self.gpu:
            return None
        return "grid" if self.vgpu else "datacenter"


SKUS: dict[str, VmSku] = {
    s.name: s
    for s in [
        VmSku("Standard_NC4as_T4_v3", 4, 28, "standardNCASv3_T4Family", "T4", 1),
        VmSku("Standard_NC8as_T4_v3", 8, 56, "standardNCASv3_T4Family", "T4", 1),
        VmSku("Standard_NC16as_T4_v3", 16, 110, "standardNCASv3_T4Family", "T4", 1),
        VmSku("Standard_NC64as_T4_v3", 64, 440, "standardNCASv3_T4Family", "T4", 4),
        VmSku("Standard_NV36ads_A10_v5", 36, 440, "StandardNVADSA10v5Family", "A10", 1, vgpu=True),
        VmSku("Standard_NC24ads_A100_v4", 24, 220, "StandardNCADSA100v4Family", "A100-80GB", 1, nvme=True),
        VmSku("Standard_NC48ads_A100_v4", 48, 440, "StandardNCADSA100v4Family", "A100-80GB", 2, nvme=True),
        VmSku("Standard_NC96ads_A100_v4", 96, 880, "StandardNCADSA100v4Family", "A100-80GB", 4, nvme=True),
        VmSku("Standard_NC40ads_H100_v5", 40, 320, "StandardNCadsH100v5Family", "H100-NVL", 1, nvme=True),
        VmSku("Standard_NC80adis_H100_v5", 80, 640, "StandardNCadsH100v5Family", "H100-NVL", 2, nvme=True),
        VmSku("Standard_D4s_v5", 4, 16, "standardDSv5Family", ephemeral_os_disk=False),
        VmSku("Standard_D8s_v5", 8, 32, "standardDSv5Family", ephemeral_os_disk=False),
        VmSku("Standard_D16s_v5", 16, 64, "standardDSv5Family", ephemeral_os_disk=False),
        VmSku("Standard_D4ds_v5", 4, 16, "standardDDSv5Family"),
        VmSku("Standard_D8ds_v5", 8, 32, "standardDDSv5Family"),
        VmSku("Standard_D16ds_v5", 16, 64, "standardDDSv5Family"),
    ]
}
