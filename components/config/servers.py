"""Model servers: one entry per Deployment the kit runs."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from components.catalog import images
from components.k8s.quantity import parse_quantity

from .autoscaling import ServerAutoscaling
from .base import ConfigModel

DNS_LABEL = r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$"
# Pod shutdown budget (one source for the manifests, components/servers): the grace period counts from the
# start of preStop, whose sleep lets the endpoint controller drop the pod first; after its drain a server
# still closes its connections and stops its engine (onnx_server: 5 s + 2 x 5 s, see its drain.py).
PRE_STOP_SLEEP_SECONDS = 10
EXIT_AFTER_DRAIN_SECONDS = 15
MIN_DRAIN_SECONDS = 5
MIN_GRACE_SECONDS = PRE_STOP_SLEEP_SECONDS + EXIT_AFTER_DRAIN_SECONDS + MIN_DRAIN_SECONDS
Quantity = Annotated[str, Field(description="Kubernetes quantity, e.g. 500m, 2, 8Gi")]


def _check_quantity(value: str | None) -> str | None:
    if value is not None:
        parse_quantity(value)
    return value


# OCI distribution grammar (github.com/distribution/reference): a lower-case repository path,
# optionally behind a registry host[:port]; a tag of up to 128 word characters, dots and dashes.
REPOSITORY = r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
DIGEST = r"^sha256:[0-9a-f]{64}$"


class ImageRef(ConfigModel):
    """An image: repository, tag and (pinned) digest; each defaults to the kit's catalog."""

    repository: str | None = Field(default=None, pattern=REPOSITORY)
    tag: str | None = Field(default=None, pattern=TAG)
    digest: str | None = Field(default=None, pattern=DIGEST)
    # Always (default) re-checks the registry on every start; IfNotPresent uses an image side-loaded
    # into a local cluster (`kind load`, `k3d image import`, `minikube image load`).
    pull_policy: Literal["Always", "IfNotPresent"] = "Always"

    @field_validator("tag")
    @classmethod
    def _no_latest(cls, tag: str | None) -> str | None:
        if tag == "latest":
            raise ValueError("'latest' is not a pinned version; use a release tag such as v0.18.2")
        return tag

    def resolve(self, engine: str, registry: str | None = None) -> ImageRef:
        """The catalog's image for an engine, overridden by what the stack file sets. The kit-built
        ONNX server lives in `registry` (`slmkit:images.registry`) unless the repository is set."""
        repo, tag = images.ENGINE_IMAGES[engine]
        if engine == "onnx" and registry:
            repo = f"{registry}/{images.KIT_IMAGES['onnx-cpu'].name}"
        return self.model_copy(update={"repository": self.repository or repo, "tag": self.tag or tag})

    @property
    def ref(self) -> str:
        base = f"{self.repository}:{self.tag}"
        return f"{base}@{self.digest}" if self.digest else base


class Replicas(ConfigModel):
    min: int = Field(default=1, ge=0)
    max: int = Field(default=1, ge=1)


class Resources(ConfigModel):
    """Requests; limits default to the requests for memory (no overcommit of model memory)."""

    cpu: Quantity = "2"
    memory: Quantity = "8Gi"
    cpu_limit: Quantity | None = None
    memory_limit: Quantity | None = None
    ephemeral_storage: Quantity = "2Gi"

    _q = field_validator("cpu", "memory", "cpu_limit", "memory_limit", "ephemeral_storage")(
        classmethod(lambda cls, v: _check_quantity(v))
    )


class OllamaVariant(ConfigModel):
    """A Modelfile variant served under its own name, e.g. a low-temperature 'reasoning' model."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*(:[a-z0-9._-]+)?$")
    system: str | None = None
    parameters: dict[str, float | int | str] = Field(default_factory=dict)

    @field_validator("parameters")
    @classmethod
    def _known_parameters(cls, params: dict) -> dict:
        known = {"temperature", "top_p", "top_k", "num_ctx", "num_predict", "repeat_penalty", "seed", "min_p", "stop"}
        unknown = sorted(set(params) - known)
        if "context_length" in params:
            raise ValueError("Ollama calls the context size num_ctx, not context_length")
        if unknown:
            raise ValueError(f"unknown Modelfile parameter(s) {unknown}; known: {sorted(known)}")
        return params


class OllamaOptions(ConfigModel):
    num_parallel: int = Field(default=4, ge=1, le=64)
    max_loaded_models: int = Field(default=1, ge=1)
    keep_alive: str = "24h"
    flash_attention: bool = False
    num_ctx: int = Field(default=4096, ge=256)
    variants: list[OllamaVariant] = Field(default_factory=list)


class OnnxOptions(ConfigModel):
    """Where the ONNX model folder comes from: converted in-cluster, or a prebuilt ONNX repo."""

    source: Literal["convert", "prebuilt"] = "convert"
    prebuilt_repo: str | None = None  # HF repo holding genai_config.json + ONNX files
    prebuilt_subfolder: str | None = None
    precision: Literal["int4", "fp16", "fp32"] = "int4"
    execution_provider: Literal["cpu", "cuda"] = "cpu"
    max_concurrency: int = Field(default=4, ge=1, le=256)
    max_queue: int = Field(default=32, ge=0)

    @model_validator(mode="after")
    def _prebuilt_needs_repo(self) -> OnnxOptions:
        if self.source == "prebuilt" and not self.prebuilt_repo:
            raise ValueError("source: prebuilt needs prebuiltRepo (a Hugging Face repo with ONNX files)")
        return self


class ServerSpec(ConfigModel):
    name: str = Field(pattern=DNS_LABEL)
    engine: Literal["vllm", "ollama", "onnx"]
    model: str = Field(min_length=1)  # HF repo id (vllm, onnx) or Ollama tag (ollama)
    revision: str | None = None  # HF commit SHA; required outside local for vllm/onnx
    served_model_name: str | None = None
    image: ImageRef = Field(default_factory=ImageRef)
    node_pool: str | None = None
    gpus: int = Field(default=0, ge=0, le=8)
    tensor_parallel: int | None = Field(default=None, ge=1, le=8)
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "auto"
    max_model_len: int | None = Field(default=None, ge=128)
    max_num_seqs: int = Field(default=32, ge=1, le=1024)
    gpu_memory_utilization: float = Field(default=0.9, gt=0.1, le=0.98)
    quantization: Literal["awq", "gptq", "fp8", "bitsandbytes"] | None = None
    replicas: Replicas = Field(default_factory=Replicas)
    resources: Resources = Field(default_factory=Resources)
    model_cache_size: Quantity = "40Gi"
    storage_class: str | None = None
    download_mbps: float = Field(default=100, gt=0)  # model download speed, for the startup budget
    startup_timeout_seconds: int | None = Field(default=None, ge=60)
    termination_grace_seconds: int = Field(default=120, le=3600)
    autoscaling: ServerAutoscaling = Field(default_factory=ServerAutoscaling)
    vertical: Literal["off", "recommend", "auto"] | None = None  # VPA; unset: recommend on CPU, off on GPU (vertical.py)
    ollama: OllamaOptions = Field(default_factory=OllamaOptions)
    onnx: OnnxOptions = Field(default_factory=OnnxOptions)
    extra_args: list[str] = Field(default_factory=list)
    extra_env: dict[str, str] = Field(default_factory=dict)

    _q = field_validator("model_cache_size")(classmethod(lambda cls, v: _check_quantity(v)))

    @field_validator("revision")
    @classmethod
    def _revision_looks_pinned(cls, rev: str | None) -> str | None:
        if rev is not None and rev in {"main", "master", "HEAD"}:
            raise ValueError(f"'{rev}' is a moving branch, not a pinned revision; use a commit SHA")
        return rev

    @field_validator("termination_grace_seconds")
    @classmethod
    def _grace_holds_a_drain(cls, seconds: int) -> int:
        if seconds < MIN_GRACE_SECONDS:
            raise ValueError(f"must be at least {MIN_GRACE_SECONDS}: the preStop sleep ({PRE_STOP_SLEEP_SECONDS} s) "
                             f"and the server's exit ({EXIT_AFTER_DRAIN_SECONDS} s) come out of it, leaving "
                             f"{MIN_DRAIN_SECONDS} s or more for running requests to finish")
        return seconds

    @property
    def drain_seconds(self) -> int:
        """What the server may spend finishing running requests after SIGTERM."""
        return self.termination_grace_seconds - PRE_STOP_SLEEP_SECONDS - EXIT_AFTER_DRAIN_SECONDS

    @field_validator("extra_args")
    @classmethod
    def _no_secrets_in_args(cls, args: list[str]) -> list[str]:
        for arg in args:
            if re.match(r"^--(api-key|hf-token|token)\b", arg):
                raise ValueError(f"{arg.split('=')[0]} must not be passed as an argument (it shows in `ps` and in the Deployment); the kit mounts it from a Secret")
        return args

    @property
    def served_name(self) -> str:
        """The name clients send as `model`; defaults to the model id's last part, lowercased."""
        if self.served_model_name:
            return self.served_model_name
        return self.model.split("/")[-1].lower()

    @property
    def tp(self) -> int:
        return self.tensor_parallel or max(self.gpus, 1)
