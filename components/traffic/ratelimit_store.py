"""The Redis that holds the gateway's global rate-limit counters (Envoy Gateway's rate-limit
service needs one). Only deployed when `gateway.rateLimit` is set. Counters are short-lived, so
nothing is persisted; NetworkPolicy keeps it reachable from the system namespace only.
"""

from __future__ import annotations

from components.config import StackConfig
from components.config.images import image_key_annotations
from components.k8s import objects
from components.k8s.security import container_security_context, pod_security_context

NAME = "slmkit-ratelimit-redis"
PORT = 6379
LABELS = {"app.kubernetes.io/name": "ratelimit-redis", "app.kubernetes.io/component": "gateway"}
SELECTOR = {"app.kubernetes.io/name": "ratelimit-redis", "app.kubernetes.io/instance": NAME}


def redis_url(cfg: StackConfig) -> str:
    return f"{NAME}.{cfg.namespaces.system}.svc.cluster.local:{PORT}"


def redis_objects(cfg: StackConfig) -> list[dict]:
    if cfg.gateway.rate_limit is None:
        return []
    ns = cfg.namespaces.system
    labels = {**LABELS, **SELECTOR}
    image = cfg.images.ratelimit()  # Valkey (components/catalog/images.py) unless slmkit:images.ratelimitStore says otherwise
    container = {
        "name": "redis", "image": image.ref, "imagePullPolicy": image.pull_policy,
        "args": ["--save", "", "--appendonly", "no", "--port", str(PORT), "--protected-mode", "no"],
        "ports": [{"name": "redis", "containerPort": PORT, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": container_security_context(),
        "readinessProbe": {"tcpSocket": {"port": "redis"}, "periodSeconds": 10},
        "livenessProbe": {"exec": {"command": ["valkey-cli", "ping"]}, "periodSeconds": 20, "timeoutSeconds": 5},
        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": objects.meta(NAME, ns, labels, image_key_annotations({"redis": "images.ratelimitStore"})),
        "spec": {"replicas": 1, "selector": {"matchLabels": SELECTOR}, "template": {
            "metadata": {"labels": labels},
            "spec": {"serviceAccountName": NAME, "automountServiceAccountToken": False,
                     "securityContext": pod_security_context(), "containers": [container],
                     "volumes": [{"name": "data", "emptyDir": {"sizeLimit": "64Mi"}}]}}},
    }
    service = objects.service(NAME, ns, labels, SELECTOR, PORT, port_name="redis")
    return [objects.service_account(NAME, ns, labels=labels), deployment, service]
