"""Reading pod templates out of workload resources (Deployment, Job, CronJob, Pod, ...)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .base import Resource, as_list, as_map, dig

MODEL_SERVER_LABEL = ("app.kubernetes.io/name", "model-server")
GPU_RESOURCE = "nvidia.com/gpu"

# kind -> path from the object's inputs to its pod template (metadata + spec)
_TEMPLATE_PATHS = {
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}


@dataclass(frozen=True)
class PodTemplate:
    labels: Mapping[str, Any]
    spec: Mapping[str, Any]

    @property
    def containers(self) -> list[Mapping[str, Any]]:
        """Every container that runs in the pod: init, main and ephemeral."""
        out: list[Mapping[str, Any]] = []
        for key in ("initContainers", "containers", "ephemeralContainers"):
            out += [as_map(c) for c in as_list(self.spec.get(key))]
        return out

    @property
    def is_model_server(self) -> bool:
        key, value = MODEL_SERVER_LABEL
        return self.labels.get(key) == value

    @property
    def requests_gpu(self) -> bool:
        for c in self.containers:
            res = as_map(c.get("resources"))
            if any(_positive(as_map(res.get(part)).get(GPU_RESOURCE)) for part in ("limits", "requests")):
                return True
        return False


def pod_template(resource: Resource) -> PodTemplate | None:
    if not resource.is_kubernetes:
        return None
    if resource.kind == "Pod":
        return PodTemplate(as_map(resource.metadata.get("labels")), as_map(resource.inputs.get("spec")))
    path = _TEMPLATE_PATHS.get(resource.kind)
    if path is None:
        return None
    template = as_map(dig(resource.inputs, *path))
    return PodTemplate(as_map(dig(template, "metadata", "labels")), as_map(template.get("spec")))


def workloads(resources: Iterable[Resource]) -> Iterable[tuple[Resource, PodTemplate]]:
    for r in resources:
        pod = pod_template(r)
        if pod is not None:
            yield r, pod


def container_name(container: Mapping[str, Any]) -> str:
    return str(container.get("name") or "?")


def _positive(quantity: Any) -> bool:
    # GPU counts arrive as ints, floats (mock engine) or strings ("1").
    try:
        return float(quantity) > 0
    except (TypeError, ValueError):
        return False
