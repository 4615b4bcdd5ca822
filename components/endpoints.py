"""What other concerns need to know about each model server, derived from the config alone.

Monitoring, the gateway, autoscaling, network policies and the load test all read these pure
records instead of reaching into component objects or matching names by string.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.catalog import models as model_catalog
from components.config import StackConfig
from components.config.checks import served_names
from components.config.servers import ServerSpec

# engine -> (container port, liveness path, readiness path, metrics path or None)
ENGINE_HTTP = {
    "vllm": (8000, "/health", "/health", "/metrics"),
    "ollama": (11434, "/", "/api/tags", None),  # Ollama has no /metrics: the gateway counts its tokens
    "onnx": (8000, "/health", "/ready", "/metrics"),
}
# Engines whose API requires the server key (vLLM --api-key via VLLM_API_KEY, the ONNX server's key file).
ENGINE_AUTH = {"vllm": True, "ollama": False, "onnx": True}
# The metric each engine exposes for "requests waiting": what autoscaling scales on.
QUEUE_METRIC = {"vllm": "vllm:num_requests_waiting", "onnx": "onnxserver:num_requests_waiting", "ollama": None}


@dataclass(frozen=True)
class ServerEndpoint:
    name: str
    engine: str
    namespace: str
    model: str
    served_names: tuple[str, ...]
    port: int
    liveness_path: str
    readiness_path: str
    metrics_path: str | None
    requires_api_key: bool
    tool_capable: bool
    gpus: int
    min_replicas: int
    max_replicas: int
    spec: ServerSpec

    @property
    def service_name(self) -> str:
        return self.name

    @property
    def deployment_name(self) -> str:
        return self.name

    @property
    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": "model-server", "app.kubernetes.io/instance": self.name}

    @property
    def labels(self) -> dict[str, str]:
        return {**self.selector, "app.kubernetes.io/part-of": "slmkit", "app.kubernetes.io/managed-by": "pulumi",
                "slmkit.io/engine": self.engine}

    @property
    def url(self) -> str:
        """In-cluster base URL of the Service."""
        return f"http://{self.service_name}.{self.namespace}.svc.cluster.local:{self.port}"

    @property
    def queue_metric(self) -> str | None:
        return QUEUE_METRIC[self.engine]


def server_endpoints(cfg: StackConfig) -> list[ServerEndpoint]:
    out = []
    for spec in cfg.servers:
        port, live, ready, metrics = ENGINE_HTTP[spec.engine]
        card = model_catalog.lookup(spec.model, spec.engine)
        out.append(ServerEndpoint(
            name=spec.name, engine=spec.engine, namespace=cfg.namespaces.models, model=spec.model,
            served_names=tuple(served_names(spec)), port=port, liveness_path=live, readiness_path=ready,
            metrics_path=metrics, requires_api_key=ENGINE_AUTH[spec.engine],
            # Ollama and the ONNX server do not parse tool calls; only vLLM with the catalog's parser does.
            tool_capable=bool(card and card.tool_capable and spec.engine == "vllm"),
            gpus=spec.gpus, min_replicas=spec.replicas.min, max_replicas=spec.replicas.max, spec=spec,
        ))
    return out
