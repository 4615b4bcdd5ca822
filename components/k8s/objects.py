"""Small builders for the Kubernetes objects every concern uses."""

from __future__ import annotations

from typing import Any

PART_OF = {"app.kubernetes.io/part-of": "slmkit", "app.kubernetes.io/managed-by": "pulumi"}


def meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None,
         annotations: dict[str, str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "labels": {**PART_OF, **(labels or {})}}
    if namespace:
        out["namespace"] = namespace
    if annotations:
        out["annotations"] = annotations
    return out


def namespace(name: str, pod_security: str = "restricted") -> dict:
    """Pod Security Admission enforces the profile; warn/audit make violations visible too."""
    labels = {f"pod-security.kubernetes.io/{mode}": pod_security for mode in ("enforce", "warn", "audit")}
    labels["pod-security.kubernetes.io/enforce-version"] = "latest"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name, labels=labels)}


def service_account(name: str, ns: str, annotations: dict[str, str] | None = None,
                    labels: dict[str, str] | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(name, ns, labels, annotations),
            "automountServiceAccountToken": False}


def service(name: str, ns: str, labels: dict[str, str], selector: dict[str, str], port: int,
            port_name: str = "http") -> dict:
    """ClusterIP only: model servers are reached through the gateway, never directly from outside."""
    return {
        "apiVersion": "v1", "kind": "Service", "metadata": meta(name, ns, labels),
        "spec": {"type": "ClusterIP", "selector": selector,
                 "ports": [{"name": port_name, "port": port, "targetPort": port_name, "protocol": "TCP"}]},
    }


def pvc(name: str, ns: str, labels: dict[str, str], size: str, access_mode: str,
        storage_class: str | None) -> dict:
    spec: dict[str, Any] = {"accessModes": [access_mode], "resources": {"requests": {"storage": size}}}
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta(name, ns, labels), "spec": spec}


def pdb(name: str, ns: str, labels: dict[str, str], selector: dict[str, str]) -> dict:
    """At most one replica down at a time during node drains and upgrades."""
    return {
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": meta(name, ns, labels),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}},
    }


def config_map(name: str, ns: str, labels: dict[str, str], data: dict[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name, ns, labels), "data": data}


def secret_env(env_name: str, secret: str, key: str, optional: bool = False) -> dict:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": env_name, "valueFrom": {"secretKeyRef": ref}}


def http_probe(path: str, port: str, period: int, failure_threshold: int, timeout: int = 5,
               initial_delay: int = 0) -> dict:
    probe = {"httpGet": {"path": path, "port": port}, "periodSeconds": period,
             "failureThreshold": failure_threshold, "timeoutSeconds": timeout}
    if initial_delay:
        probe["initialDelaySeconds"] = initial_delay
    return probe
