"""Container images the kit deploys, pinned, and the images the kit builds itself.

Tags are upstream release tags (vLLM GitHub releases, Ollama releases, Docker Hub). Digests are left
to the stack files: they cannot be resolved offline, so a stack pins one with the `digest` of the
image's key (`slmkit:servers[N].image.digest`, `slmkit:images.loadtest.digest`, ...; get it with
`docker buildx imagetools inspect IMAGE:TAG`); the policy pack advises it in prod. Checked 2026-11-28.

The kit's own images (KIT_IMAGES) are built by `make images` and `.github/workflows/release.yml`
from the same Dockerfile, context and target, and tagged with the kit version from pyproject.toml
(plus the git SHA in the release workflow).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

SOURCE = "github.com/vllm-project/vllm/releases; github.com/ollama/ollama/releases; hub.docker.com"
CHECKED = "2026-11-28"

REPO_ROOT = Path(__file__).resolve().parents[2]
# One version for the kit and its images: pyproject.toml's.
KIT_VERSION: str = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
# Where the release workflow publishes (ghcr.io/<owner>); `slmkit:images.registry` points elsewhere.
KIT_REGISTRY = "ghcr.io/slmkit"

AMD64, ARM64 = "linux/amd64", "linux/arm64"


@dataclass(frozen=True)
class KitImage:
    """One image the kit builds: `<registry>/<name>:<version><suffix>`."""

    name: str
    dockerfile: str
    context: str  # what `docker build` is given; every COPY source is relative to it
    target: str | None
    suffix: str
    # arm64 only where every wheel exists for it: onnxruntime-genai-cuda 0.18.0 and onnxruntime-gpu
    # 1.31.1 publish manylinux x86_64 wheels only (PyPI, checked 2026-12-03).
    platforms: tuple[str, ...]

    @property
    def tag(self) -> str:
        return f"{KIT_VERSION}{self.suffix}"


KIT_IMAGES: dict[str, KitImage] = {
    "onnx-cpu": KitImage("onnx-server", "docker/onnx-server/Dockerfile", "docker/onnx-server", "cpu", "-cpu", (AMD64, ARM64)),
    "onnx-cuda": KitImage("onnx-server", "docker/onnx-server/Dockerfile", "docker/onnx-server", "cuda", "-cuda", (AMD64,)),
    "onnx-convert": KitImage("onnx-server", "docker/onnx-server/Dockerfile", "docker/onnx-server", "convert", "-convert", (AMD64, ARM64)),
    # The repository root: the image carries loadtests/ (docker/locust/Dockerfile.dockerignore keeps the rest out).
    "loadtest": KitImage("loadtest", "docker/locust/Dockerfile", ".", None, "", (AMD64, ARM64)),
}

# engine -> (repository, tag); the kit-built ONNX server follows `slmkit:images.registry`.
ENGINE_IMAGES: dict[str, tuple[str, str]] = {
    "vllm": ("docker.io/vllm/vllm-openai", "v0.18.2"),
    "ollama": ("docker.io/ollama/ollama", "0.13.5"),
    "onnx": (f"{KIT_REGISTRY}/onnx-server", KIT_IMAGES["onnx-cpu"].tag),
}
ONNX_CUDA_TAG = KIT_IMAGES["onnx-cuda"].tag
ONNX_CONVERT_TAG = KIT_IMAGES["onnx-convert"].tag
LOADTEST_IMAGE = (f"{KIT_REGISTRY}/loadtest", KIT_IMAGES["loadtest"].tag)
# Valkey (BSD, Redis-protocol compatible) for the gateway's rate-limit counters; hub.docker.com/r/valkey/valkey.
RATELIMIT_STORE_IMAGE = ("docker.io/valkey/valkey", "8.1.1-alpine")

# Where the vllm/vllm-openai image holds vLLM's examples/ folder (chat templates): its Dockerfile's
# vllm-base stage sets WORKDIR /vllm-workspace and runs `COPY examples examples`; vllm-openai builds
# on that stage. Read in docker/Dockerfile of vllm-project/vllm (checked 2026-12-03).
VLLM_EXAMPLES_DIR = "/vllm-workspace/examples"
