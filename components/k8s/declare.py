"""Turn a Kubernetes object dict (from a pure builder) into a typed pulumi-kubernetes resource.

Builders stay pure and testable; this is the one place that knows which Pulumi class each kind
maps to. The offline plan reads back exactly these inputs, so what tests check is what
`pulumi up` applies.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

_TYPED = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "Service"): k8s.core.v1.Service,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "PersistentVolumeClaim"): k8s.core.v1.PersistentVolumeClaim,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("rbac.authorization.k8s.io/v1", "Role"): k8s.rbac.v1.Role,
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): k8s.rbac.v1.RoleBinding,
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def resource_name(obj: dict[str, Any]) -> str:
    """Stable Pulumi name: kind-qualified by Pulumi's type, so namespace/name is unique."""
    meta = obj["metadata"]
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else meta["name"]


def declare(obj: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> pulumi.CustomResource:
    api_version, kind = obj["apiVersion"], obj["kind"]
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
    cls = _TYPED.get((api_version, kind))
    if cls is None:
        # Custom resources (ServiceMonitor, ScaledObject, Gateway, ...): schema-checked in tests
        # against the upstream CRDs in ../shared/crd-schemas.
        return k8s.apiextensions.CustomResource(
            resource_name(obj), api_version=api_version, kind=kind, opts=opts, **body
        )
    return cls(resource_name(obj), opts=opts, **{_snake(k): v for k, v in body.items()})


def declare_all(objs: list[dict[str, Any]], opts: pulumi.ResourceOptions | None = None) -> list[pulumi.CustomResource]:
    return [declare(o, opts) for o in objs]
