"""Shared pure builder for a model server: everything but the engine's own container details.

`server_objects()` returns the Kubernetes objects (dicts) for one server. The engine modules
(vllm.py, ollama.py, onnx.py) supply the container, init steps, extra volumes and objects.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from components import capacity
from components.catalog.models import ModelCard
from components.config import StackConfig
from components.config.servers import PRE_STOP_SLEEP_SECONDS
from components.config.images import image_key_annotations, pull_policy_skip, server_image_key
from components.config.servers import ImageRef
from components.endpoints import ServerEndpoint
from components.k8s import objects, security
from components.platform.pools import scheduling_for
from components.platform.secrets import (
    HF_TOKEN_KEY,
    HF_TOKEN_SECRET,
    SERVER_API_KEY_KEY,
    SERVER_API_KEY_SECRET,
    PodSecretWiring,
)

MODEL_CACHE_MOUNT = "/models"
SERVER_KEY_DIR = "/var/run/slmkit/server-key"
HF_TOKEN_DIR = "/var/run/slmkit/hf-token"
HOME_DIR = "/home/slmkit"
PROBE_PERIOD = 10


@dataclass(frozen=True)
class ServerInputs:
    """Everything the pure builders need for one server."""

    cfg: StackConfig
    endpoint: ServerEndpoint
    card: ModelCard
    secrets: PodSecretWiring
    has_hf_token: bool

    @property
    def spec(self):
        return self.endpoint.spec

    @property
    def budget(self) -> capacity.StartupBudget:
        return capacity.startup_budget(self.spec, self.card)


@dataclass
class EngineParts:
    container: dict[str, Any]
    init_containers: list[dict] = field(default_factory=list)
    volumes: list[dict] = field(default_factory=list)
    objects: list[dict] = field(default_factory=list)  # ConfigMaps, Jobs
    shm_size: str = "1Gi"
    pre_jobs: list[dict] = field(default_factory=list)  # must complete before the Deployment starts


class Engine(Protocol):
    def parts(self, inp: ServerInputs) -> EngineParts: ...


def spec_hash(inp: ServerInputs) -> str:
    """Changes when anything about the server changes: names Jobs so each change runs anew."""
    body = json.dumps(inp.spec.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:8]


def base_env(inp: ServerInputs) -> list[dict]:
    env = [
        {"name": "HOME", "value": HOME_DIR},
        {"name": "XDG_CACHE_HOME", "value": f"{HOME_DIR}/.cache"},
        {"name": "HF_HOME", "value": f"{MODEL_CACHE_MOUNT}/hf"},
    ]
    if inp.has_hf_token:
        # huggingface_hub reads the token from this file: no token in the environment.
        env.append({"name": "HF_TOKEN_PATH", "value": f"{HF_TOKEN_DIR}/{HF_TOKEN_KEY}"})
    env += [{"name": k, "value": v} for k, v in sorted(inp.spec.extra_env.items())]
    return env


def secret_volumes(inp: ServerInputs) -> tuple[list[dict], list[dict]]:
    volumes = [{"name": "server-key", "secret": {"secretName": SERVER_API_KEY_SECRET, "defaultMode": 0o440,
                                                 "items": [{"key": SERVER_API_KEY_KEY, "path": SERVER_API_KEY_KEY}]}}]
    mounts = [{"name": "server-key", "mountPath": SERVER_KEY_DIR, "readOnly": True}]
    if inp.has_hf_token:
        volumes.append({"name": "hf-token", "secret": {"secretName": HF_TOKEN_SECRET, "defaultMode": 0o440}})
        mounts.append({"name": "hf-token", "mountPath": HF_TOKEN_DIR, "readOnly": True})
    return volumes + list(inp.secrets.volumes), mounts + list(inp.secrets.mounts)


def writable_mounts() -> list[dict]:
    return [
        {"name": "model-cache", "mountPath": MODEL_CACHE_MOUNT},
        {"name": "home", "mountPath": HOME_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "dshm", "mountPath": "/dev/shm"},
    ]


def resources(inp: ServerInputs) -> dict:
    r = inp.spec.resources
    requests = {"cpu": r.cpu, "memory": r.memory, "ephemeral-storage": r.ephemeral_storage}
    limits = {"cpu": r.cpu_limit or _double(r.cpu), "memory": r.memory_limit or r.memory,
              "ephemeral-storage": r.ephemeral_storage}
    if inp.spec.gpus:
        requests["nvidia.com/gpu"] = limits["nvidia.com/gpu"] = str(inp.spec.gpus)
    return {"requests": requests, "limits": limits}


def _double(cpu: str) -> str:
    from components.k8s.quantity import parse_quantity

    return str(int(parse_quantity(cpu) * 2000)) + "m"


def probes(inp: ServerInputs) -> dict:
    """startupProbe covers download + load + warm-up; only then do liveness/readiness start, so
    a model that is still loading is never killed."""
    ep = inp.endpoint
    startup_failures = max(3, -(-inp.budget.total_s // PROBE_PERIOD))
    return {
        "startupProbe": objects.http_probe(ep.liveness_path, "http", PROBE_PERIOD, startup_failures),
        "livenessProbe": objects.http_probe(ep.liveness_path, "http", 15, 4, timeout=10),
        "readinessProbe": objects.http_probe(ep.readiness_path, "http", 5, 3, timeout=5),
    }


def finish_container(inp: ServerInputs, container: dict) -> dict:
    """Add what every engine's main container shares."""
    ep = inp.endpoint
    _, secret_mounts = secret_volumes(inp)
    out = {
        "imagePullPolicy": inp.spec.image.pull_policy,
        "ports": [{"name": "http", "containerPort": ep.port, "protocol": "TCP"}],
        "resources": resources(inp),
        "securityContext": security.container_security_context(),
        "volumeMounts": writable_mounts() + secret_mounts,
        # Let the endpoint controller drop the pod before the server stops taking requests.
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SLEEP_SECONDS}}},
        **probes(inp),
        **container,
    }
    out["env"] = base_env(inp) + container.get("env", [])
    return out


def storage_access_mode(inp: ServerInputs) -> str:
    """Several replicas share one cache only on RWX storage (Azure Files); one replica uses a disk."""
    return "ReadWriteMany" if inp.spec.replicas.max > 1 else "ReadWriteOnce"


def storage_class(inp: ServerInputs) -> str | None:
    if inp.spec.storage_class:
        return inp.spec.storage_class
    if inp.cfg.is_aks:
        return "azurefile-csi-premium" if storage_access_mode(inp) == "ReadWriteMany" else "managed-csi-premium"
    return getattr(inp.cfg.cluster, "storage_class", None)


def pod_spec(inp: ServerInputs, parts: EngineParts) -> dict:
    ep = inp.endpoint
    node_selector, tolerations = scheduling_for(inp.cfg, inp.spec.node_pool, inp.spec.gpus)
    extra_secret_volumes, _ = secret_volumes(inp)
    spec: dict[str, Any] = {
        "serviceAccountName": ep.name,
        "automountServiceAccountToken": False,
        "securityContext": security.pod_security_context(),
        "terminationGracePeriodSeconds": inp.spec.termination_grace_seconds,
        "enableServiceLinks": False,
        "containers": [finish_container(inp, parts.container)],
        "volumes": [
            {"name": "model-cache", "persistentVolumeClaim": {"claimName": f"{ep.name}-model-cache"}},
            {"name": "home", "emptyDir": {"sizeLimit": "2Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "4Gi"}},
            {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": parts.shm_size}},
            *extra_secret_volumes,
            *parts.volumes,
        ],
    }
    if parts.init_containers:
        spec["initContainers"] = parts.init_containers
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    if inp.spec.replicas.max > 1:
        spec["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": ep.selector},
        }]
    return spec


def server_image(inp: ServerInputs) -> ImageRef:
    """The server's image: the catalog's for its engine, overridden by `servers[N].image`."""
    return inp.spec.image.resolve(inp.spec.engine, inp.cfg.images.registry)


def image_key(inp: ServerInputs) -> str:
    """The stack key that sets this server's image (the policy pack's digest advice names it)."""
    return server_image_key(inp.cfg.servers.index(inp.spec))


def deployment(inp: ServerInputs, parts: EngineParts) -> dict:
    ep = inp.endpoint
    labels = {**ep.labels, **inp.secrets.pod_labels}
    if storage_access_mode(inp) == "ReadWriteOnce":
        strategy = {"type": "Recreate"}  # a disk attaches to one node: the old pod must let go first
    elif inp.spec.gpus:
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    else:
        strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": objects.meta(ep.deployment_name, ep.namespace, ep.labels,
                                 {"slmkit.io/startup-budget-seconds": str(inp.budget.total_s),
                                  "slmkit.io/spec-hash": spec_hash(inp),
                                  **image_key_annotations({c["name"]: image_key(inp)
                                                           for c in [*parts.init_containers, parts.container]}),
                                  **pull_policy_skip(inp.spec.image)}),
        "spec": {
            "replicas": max(inp.spec.replicas.min, 1),
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": inp.budget.deploy_timeout_s,
            "strategy": strategy,
            "selector": {"matchLabels": ep.selector},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec(inp, parts)},
        },
    }


def server_objects(inp: ServerInputs, engine: Engine) -> tuple[list[dict], list[dict], dict]:
    """(objects declared before the Deployment, pre-jobs, the Deployment)."""
    ep = inp.endpoint
    parts = engine.parts(inp)
    before = [
        objects.service_account(ep.name, ep.namespace, inp.secrets.service_account_annotations, ep.labels),
        objects.pvc(f"{ep.name}-model-cache", ep.namespace, ep.labels, inp.spec.model_cache_size,
                    storage_access_mode(inp), storage_class(inp)),
        objects.service(ep.service_name, ep.namespace, ep.labels, ep.selector, ep.port),
        objects.pdb(ep.name, ep.namespace, ep.labels, ep.selector),
        *parts.objects,
    ]
    return before, parts.pre_jobs, deployment(inp, parts)


def job_pod_defaults(inp: ServerInputs) -> dict:
    """Pod-level settings shared by the server and its preparation Jobs."""
    node_selector, tolerations = scheduling_for(inp.cfg, inp.spec.node_pool, inp.spec.gpus)
    spec: dict[str, Any] = {
        "serviceAccountName": inp.endpoint.name,
        "automountServiceAccountToken": False,
        "securityContext": security.pod_security_context(),
        "restartPolicy": "Never",
    }
    if node_selector:
        spec["nodeSelector"] = node_selector
    if tolerations:
        spec["tolerations"] = tolerations
    return spec
