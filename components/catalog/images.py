"""Container images and Helm charts the kit deploys, pinned.

Tags are upstream release tags (vLLM GitHub releases, Ollama releases, Docker Hub). Digests are left
to the stack files: they cannot be resolved offline, so a stack pins one with `image.digest`
(`docker buildx imagetools inspect IMAGE:TAG`); prod stacks must (policy pack). Checked 2026-11-28.
"""

from __future__ import annotations

SOURCE = "github.com/vllm-project/vllm/releases; github.com/ollama/ollama/releases; hub.docker.com"
CHECKED = "2026-11-28"

# engine -> (repository, tag)
ENGINE_IMAGES: dict[str, tuple[str, str]] = {
    "vllm": ("docker.io/vllm/vllm-openai", "v0.18.2"),
    "ollama": ("docker.io/ollama/ollama", "0.13.5"),
    # Built by this kit from docker/onnx-server (make images REGISTRY=...).
    "onnx": ("ghcr.io/slmkit/onnx-server", "0.1.0-cpu"),
}
ONNX_CUDA_TAG = "0.1.0-cuda"
ONNX_CONVERT_TAG = "0.1.0-convert"
LOADTEST_IMAGE = ("ghcr.io/slmkit/loadtest", "0.1.0")

# Where the vllm/vllm-openai image holds vLLM's examples/ folder (chat templates): its Dockerfile's
# vllm-base stage sets WORKDIR /vllm-workspace and runs `COPY examples examples`; vllm-openai builds
# on that stage. Read in docker/Dockerfile of vllm-project/vllm (checked 2026-12-03).
VLLM_EXAMPLES_DIR = "/vllm-workspace/examples"
