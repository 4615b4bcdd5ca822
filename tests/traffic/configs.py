"""Stack configs for the traffic tests, validated by the real config loader."""

from __future__ import annotations

import copy
from typing import Any

from components.config import ConfigError, LoadedConfig, validate_raw

VLLM = {"name": "phi", "engine": "vllm", "model": "Qwen/Qwen2.5-1.5B-Instruct", "servedModelName": "qwen-1.5b",
        "gpus": 1, "nodePool": "gpu", "dtype": "float16", "maxModelLen": 4096, "replicas": {"min": 1, "max": 3}}
ONNX = {"name": "qwen-cpu", "engine": "onnx", "model": "Qwen/Qwen2.5-0.5B-Instruct", "revision": "1" * 40,
        "resources": {"cpu": "2", "memory": "8Gi"}, "replicas": {"min": 1, "max": 2}}
OLLAMA = {"name": "gemma", "engine": "ollama", "model": "gemma3:1b", "resources": {"cpu": "2", "memory": "8Gi"},
          "replicas": {"min": 1, "max": 2},
          "ollama": {"variants": [{"name": "gemma-strict", "parameters": {"temperature": 0.1}},
                                  {"name": "gemma-creative:v2", "parameters": {"temperature": 1.0}}]}}
GPU_POOL = {"name": "gpu", "gpuType": "T4", "gpusPerNode": 1, "nodeLabels": {"pool": "gpu"},
            "taints": [{"key": "nvidia.com/gpu", "value": "present"}]}


def server(base: dict, **changes: Any) -> dict:
    out = copy.deepcopy(base)
    out.update(changes)
    return out


def raw_config(servers: list[dict] | None = None, environment: str = "dev", **extra: Any) -> dict:
    servers = servers if servers is not None else [VLLM, ONNX, OLLAMA]
    return {"environment": environment, "cluster": {"kind": "existing"},
            "nodePools": [GPU_POOL] if any(s.get("gpus") for s in servers) else [],
            "servers": servers, **extra}


def loaded(servers: list[dict] | None = None, environment: str = "dev", **extra: Any) -> LoadedConfig:
    """An existing-cluster stack with the given servers (default: one vLLM, one ONNX, one Ollama)."""
    return validate_raw(raw_config(servers, environment, **extra), "stacks/Pulumi.test.yaml", set())


def problems(servers: list[dict] | None = None, environment: str = "dev", **extra: Any) -> list[str]:
    """Rendered error lines, or [] when the config loads."""
    try:
        loaded(servers, environment, **extra)
    except ConfigError as err:
        return err.lines()
    return []


def warnings(servers: list[dict] | None = None, environment: str = "dev", **extra: Any) -> list[str]:
    return loaded(servers, environment, **extra).warning_lines()
