"""Small builders for resources as the engine records them, hardened by default so each test
breaks exactly one thing."""

from __future__ import annotations

import copy
from typing import Any

from policy.rules import Resource

SAFE_CONTEXT = {"runAsNonRoot": True, "runAsUser": 1000, "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
MODEL_LABELS = {"app.kubernetes.io/name": "model-server", "app.kubernetes.io/instance": "phi"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"}
DIGEST = "sha256:" + "a" * 64


def container(name: str = "server", image: str = "docker.io/vllm/vllm-openai:v0.18.2", **overrides: Any) -> dict:
    c = {"name": name, "image": image, "securityContext": dict(SAFE_CONTEXT)}
    c.update(overrides)
    return c


def deployment(name: str = "phi", namespace: str = "slmkit-models", containers: list[dict] | None = None,
               labels: dict | None = None, **pod_spec: Any) -> Resource:
    spec = {"containers": containers if containers is not None else [container()], **pod_spec}
    inputs = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"replicas": 1.0, "template": {"metadata": {"labels": dict(labels if labels is not None else MODEL_LABELS)}, "spec": spec}},
    }
    return Resource("kubernetes:apps/v1:Deployment", f"{namespace}/{name}", inputs, f"urn:pulumi:dev::slmkit::kubernetes:apps/v1:Deployment::{namespace}/{name}")


def k8s(kind: str, api_version: str, name: str, namespace: str | None = None, **body: Any) -> Resource:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    group = api_version if "/" in api_version else f"core/{api_version}"
    inputs = {"apiVersion": api_version, "kind": kind, "metadata": meta, **copy.deepcopy(body)}
    return Resource(f"kubernetes:{group}:{kind}", f"{namespace}/{name}" if namespace else name, inputs)


def service(name: str = "phi", namespace: str = "slmkit-models", type_: str = "ClusterIP", selector: dict | None = None) -> Resource:
    return k8s("Service", "v1", name, namespace, spec={"type": type_, "selector": selector if selector is not None else dict(MODEL_LABELS), "ports": [{"port": 8000.0}]})


def with_pod_spec(resource: Resource, **changes: Any) -> Resource:
    inputs = copy.deepcopy(dict(resource.inputs))
    inputs["spec"]["template"]["spec"].update(changes)
    return Resource(resource.type, resource.name, inputs, resource.urn)
