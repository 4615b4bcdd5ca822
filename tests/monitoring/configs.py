"""Stack configs for the monitoring tests, validated by the real config loader."""

from __future__ import annotations

from typing import Any

from components.config import LoadedConfig, validate_raw

VLLM = {"name": "phi", "engine": "vllm", "model": "Qwen/Qwen2.5-1.5B-Instruct", "gpus": 1, "nodePool": "gpu",
        "dtype": "float16", "maxModelLen": 4096, "replicas": {"min": 1, "max": 2}}
ONNX = {"name": "qwen-cpu", "engine": "onnx", "model": "Qwen/Qwen2.5-0.5B-Instruct", "revision": "1" * 40,
        "resources": {"cpu": "2", "memory": "8Gi"}}
OLLAMA = {"name": "gemma", "engine": "ollama", "model": "gemma3:1b", "resources": {"cpu": "2", "memory": "8Gi"}}
GPU_POOL = {"name": "gpu", "gpuType": "T4", "gpusPerNode": 1, "nodeLabels": {"pool": "gpu"},
            "taints": [{"key": "nvidia.com/gpu", "value": "present"}]}


def loaded(servers: list[dict] | None = None, monitoring: dict | None = None, **extra: Any) -> LoadedConfig:
    """An existing-cluster local stack with the given servers (default: one vLLM, one ONNX, one Ollama)."""
    servers = servers if servers is not None else [VLLM, ONNX, OLLAMA]
    raw: dict[str, Any] = {
        "environment": "local", "cluster": {"kind": "existing"},
        "nodePools": [GPU_POOL] if any(s.get("gpus") for s in servers) else [],
        "servers": servers, **extra,
    }
    if monitoring is not None:
        raw["monitoring"] = monitoring
    return validate_raw(raw, "stacks/Pulumi.test.yaml", set())
