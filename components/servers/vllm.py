"""vLLM: the OpenAI-compatible server on GPUs."""

from __future__ import annotations

from components import capacity
from components.catalog import images

from .common import HOME_DIR, SERVER_KEY_DIR, EngineParts, ServerInputs, server_image

# vLLM reads its key from --api-key or VLLM_API_KEY only. The shell reads the mounted file into the
# variable at start, so the key is neither in the pod spec's env nor in the process arguments.
_START = 'VLLM_API_KEY="$(cat "$SLMKIT_SERVER_KEY_FILE")" && export VLLM_API_KEY && exec vllm serve "$@"'


def tool_chat_template_path(repo_path: str) -> str:
    """A template from vLLM's examples/ folder, where the vllm-openai image holds it."""
    return f"{images.VLLM_EXAMPLES_DIR}/{repo_path.removeprefix('examples/')}"


def vllm_args(inp: ServerInputs) -> list[str]:
    spec, card = inp.spec, inp.card
    args = [
        spec.model,
        "--served-model-name", spec.served_name,
        "--host", "0.0.0.0",
        "--port", str(inp.endpoint.port),
        "--dtype", capacity.resolved_dtype(spec, card),
        "--max-model-len", str(capacity.context_length(spec, card)),
        "--max-num-seqs", str(spec.max_num_seqs),
        "--gpu-memory-utilization", str(spec.gpu_memory_utilization),
        "--tensor-parallel-size", str(spec.tp),
    ]
    if spec.revision:
        args += ["--revision", spec.revision]
    if spec.quantization:
        args += ["--quantization", spec.quantization]
    elif card.quantization:
        args += ["--quantization", card.quantization]
    if card.tool_parser:
        args += ["--enable-auto-tool-choice", "--tool-call-parser", card.tool_parser]
        if card.tool_chat_template:
            args += ["--chat-template", tool_chat_template_path(card.tool_chat_template)]
    if card.trust_remote_code:
        args.append("--trust-remote-code")
    return args + list(spec.extra_args)


class Vllm:
    def parts(self, inp: ServerInputs) -> EngineParts:
        cache = f"{HOME_DIR}/.cache"
        container = {
            "name": "vllm",
            "image": server_image(inp).ref,
            "command": ["/bin/sh", "-c", _START, "vllm"],
            "args": vllm_args(inp),
            "env": [
                {"name": "SLMKIT_SERVER_KEY_FILE", "value": f"{SERVER_KEY_DIR}/api-key"},
                # Caches vLLM and its compilers write: on writable volumes, not the read-only root.
                {"name": "VLLM_CACHE_ROOT", "value": f"{cache}/vllm"},
                {"name": "NUMBA_CACHE_DIR", "value": f"{cache}/numba"},
                {"name": "TRITON_CACHE_DIR", "value": f"{cache}/triton"},
                {"name": "TORCHINDUCTOR_CACHE_DIR", "value": f"{cache}/torchinductor"},
                {"name": "VLLM_NO_USAGE_STATS", "value": "1"},
                {"name": "DO_NOT_TRACK", "value": "1"},
            ],
        }
        # NCCL uses /dev/shm between tensor-parallel ranks; the 64 MiB default is far too small.
        shm = f"{max(2, 4 * inp.spec.tp)}Gi"
        return EngineParts(container=container, shm_size=shm)
