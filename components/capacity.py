"""Capacity arithmetic: does a model fit its GPUs or its memory limit, and how long may it take to start.

Pure functions over the config and the catalogs; the config checks, the offline plan and the
server builders all use these, so the figures a user reads are the ones that were enforced.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from components.catalog.models import ModelCard
from components.catalog.skus import GpuType
from components.config.servers import ServerSpec
from components.k8s.quantity import GIB, parse_quantity

BYTES_PER_PARAM = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0, "awq": 0.5625, "gptq": 0.5625,
                   "fp8": 1.0, "bitsandbytes": 0.5625}
# What vLLM holds outside weights and KV cache: CUDA context, activations, CUDA graphs, sampler.
# A conservative figure from vLLM's profiler output on 1-8B models (1-2 GiB); we reserve 1.5 GiB.
VLLM_RUNTIME_RESERVE_GIB = 1.5
# Ollama: the runner process, compute buffers and the Go server beside the weights and KV cache.
OLLAMA_RUNTIME_RESERVE_GIB = 0.75
# Startup: engine warm-up after weights are read (vLLM compiles and captures CUDA graphs).
WARMUP_SECONDS = {"vllm": 180, "ollama": 20, "onnx": 30}
DISK_READ_MBPS = 400  # managed premium disk / Azure Files premium, sustained
STARTUP_SAFETY = 1.5


def resolved_dtype(spec: ServerSpec, card: ModelCard) -> str:
    return card.native_dtype if spec.dtype == "auto" else spec.dtype


def weight_format(spec: ServerSpec, card: ModelCard) -> str:
    """What the weights occupy per parameter: a quantization when there is one, else the dtype."""
    return card.quantization or spec.quantization or resolved_dtype(spec, card)


@dataclass(frozen=True)
class GpuFit:
    weights_gib: float  # per GPU
    kv_cache_gib: float  # per GPU, for max_model_len x max_num_seqs
    reserve_gib: float
    budget_gib: float  # GPU memory x utilization
    max_seqs_that_fit: int

    @property
    def headroom_gib(self) -> float:
        return self.budget_gib - self.weights_gib - self.kv_cache_gib - self.reserve_gib

    @property
    def fits(self) -> bool:
        return self.headroom_gib >= 0


def context_length(spec: ServerSpec, card: ModelCard) -> int:
    return spec.max_model_len or card.max_context


def kv_bytes_per_value(spec: ServerSpec, card: ModelCard) -> float:
    """vLLM's --kv-cache-dtype auto keeps the KV cache in the model's compute dtype (vllm/utils
    get_kv_cache_torch_dtype): 4 bytes for float32, 2 for float16/bfloat16 (also under AWQ/GPTQ/fp8
    weights, whose activations are 16-bit)."""
    return 4.0 if resolved_dtype(spec, card) == "float32" else 2.0


def gpu_fit(spec: ServerSpec, card: ModelCard, gpu: GpuType) -> GpuFit:
    tp = spec.tp
    weights = card.weight_bytes(BYTES_PER_PARAM[weight_format(spec, card)]) / tp / GIB
    kv_dtype_bytes = kv_bytes_per_value(spec, card)
    per_seq = card.kv_bytes_per_token(kv_dtype_bytes) * context_length(spec, card) / tp / GIB
    budget = gpu.memory_gib * spec.gpu_memory_utilization
    free_for_kv = budget - weights - VLLM_RUNTIME_RESERVE_GIB
    return GpuFit(
        weights_gib=weights,
        kv_cache_gib=per_seq * spec.max_num_seqs,
        reserve_gib=VLLM_RUNTIME_RESERVE_GIB,
        budget_gib=budget,
        max_seqs_that_fit=max(0, math.floor(free_for_kv / per_seq)) if per_seq else 0,
    )


@dataclass(frozen=True)
class MemoryFit:
    weights_gib: float
    kv_cache_gib: float
    reserve_gib: float
    limit_gib: float

    @property
    def needed_gib(self) -> float:
        return self.weights_gib + self.kv_cache_gib + self.reserve_gib

    @property
    def fits(self) -> bool:
        return self.needed_gib <= self.limit_gib


def memory_limit_gib(spec: ServerSpec) -> float:
    return parse_quantity(spec.resources.memory_limit or spec.resources.memory) / GIB


def ollama_fit(spec: ServerSpec, card: ModelCard) -> MemoryFit:
    """Ollama keeps q4 weights plus a KV cache of num_ctx tokens for each parallel slot."""
    weights = card.ollama_size_gb * 1e9 / GIB if card.ollama_size_gb else card.weight_bytes(0.5625) / GIB
    kv = card.kv_bytes_per_token(2.0) * spec.ollama.num_ctx * spec.ollama.num_parallel / GIB
    return MemoryFit(weights, kv, OLLAMA_RUNTIME_RESERVE_GIB, memory_limit_gib(spec))


ONNX_BYTES_PER_PARAM = {"int4": 0.5625, "fp16": 2.0, "fp32": 4.0}


def onnx_kv_cache_tokens(spec: ServerSpec, card: ModelCard) -> int:
    """The ONNX server's --kv-cache-tokens: every one of maxConcurrency sequences may reach maxModelLen."""
    return context_length(spec, card) * spec.onnx.max_concurrency


def onnx_kv_bytes_per_value(spec: ServerSpec) -> float:
    """The model builder's KV (I/O) dtype: fp32 for fp32, and for int4/int8 on CPU; fp16 otherwise
    (onnxruntime-genai 0.18.0, models/quantization/quant_config.py default_io_dtype)."""
    o = spec.onnx
    return 4.0 if o.precision == "fp32" or (o.precision == "int4" and o.execution_provider == "cpu") else 2.0


def onnx_fit(spec: ServerSpec, card: ModelCard) -> MemoryFit:
    weights = card.weight_bytes(ONNX_BYTES_PER_PARAM[spec.onnx.precision]) / GIB
    kv = card.kv_bytes_per_token(onnx_kv_bytes_per_value(spec)) * onnx_kv_cache_tokens(spec, card) / GIB
    return MemoryFit(weights, kv, 0.5, memory_limit_gib(spec))


def download_gib(spec: ServerSpec, card: ModelCard) -> float:
    """What the server fetches on first start (the published checkpoint)."""
    if spec.engine == "ollama":
        return ollama_fit(spec, card).weights_gib
    if spec.engine == "onnx" and spec.onnx.source == "prebuilt":
        return onnx_fit(spec, card).weights_gib
    return card.weight_bytes(BYTES_PER_PARAM[card.quantization or card.native_dtype]) / GIB


@dataclass(frozen=True)
class StartupBudget:
    download_s: int
    load_s: int
    warmup_s: int
    total_s: int  # what the startupProbe allows

    @property
    def deploy_timeout_s(self) -> int:
        """Pulumi's await: the startup budget plus image pull and scheduling (a GPU node from zero
        takes minutes to join), never below Pulumi's own 10-minute default."""
        return max(600, self.total_s + 900)


def startup_budget(spec: ServerSpec, card: ModelCard) -> StartupBudget:
    size_mb = download_gib(spec, card) * GIB / 1e6
    download = size_mb / spec.download_mbps
    load = size_mb / DISK_READ_MBPS
    if spec.engine == "onnx" and spec.onnx.source == "convert":
        download = 0  # the conversion Job downloads and converts before the server starts
    warmup = WARMUP_SECONDS[spec.engine]
    total = math.ceil((download + load + warmup) * STARTUP_SAFETY / 10) * 10
    if spec.startup_timeout_seconds:
        total = spec.startup_timeout_seconds
    return StartupBudget(round(download), round(load), warmup, total)
