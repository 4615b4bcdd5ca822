"""Log lines the log-based alerts look for, per engine, with where each was read (checked 2026-12-03).

Patterns are RE2 (LogQL `|~`), matched case-sensitively against the raw line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LogPattern:
    regex: str
    source: str


CUDA_OOM = LogPattern(
    # PyTorch's allocator (vLLM): "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate ...";
    # ONNX Runtime's CUDA provider: "CUDA failure 2: out of memory"; llama.cpp (Ollama): "cudaMalloc failed: out of memory".
    "CUDA out of memory|CUDA failure 2: out of memory|cudaMalloc failed: out of memory",
    "pytorch c10/cuda/CUDACachingAllocator.cpp message; onnxruntime core/providers/cuda/cuda_call.cc; "
    "Ollama runner errors as reported in user logs")
MODEL_LOAD_FAILED = LogPattern(
    # The kit's ONNX server (docker/onnx-server/onnx_server/app.py, _load): "model load failed: ...";
    # vLLM v1: "RuntimeError: Engine core initialization failed. See root cause above."; Ollama: "error loading model".
    "model load failed|Engine core initialization failed|error loading model",
    "docker/onnx-server/onnx_server/app.py; vLLM v1 engine start-up error as printed; Ollama llama runner error")
ENGINE_DIED = LogPattern(
    # ONNX server (engine_client.py, _engine_gone): "engine process exited (code N)"; vLLM v1: EngineDeadError.
    "engine process exited|EngineDeadError",
    "docker/onnx-server/onnx_server/engine_client.py; vLLM v1 vllm/v1/engine/exceptions.py EngineDeadError")
