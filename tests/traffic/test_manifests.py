"""Every object the traffic builders produce, over the configurations that change them, is one a
cluster would accept: upstream CRD schemas (strict) and Kubernetes' own schemas (strict)."""

from __future__ import annotations

import json
from functools import cache

import jsonschema
import kubernetes_validate
import pytest

from components.endpoints import server_endpoints
from components.traffic import autoscaling, gateway, keys, network, ratelimit_store

from .configs import OLLAMA, ONNX, VLLM, loaded, server

K8S_VERSION = kubernetes_validate.latest_version()
PLACEHOLDER = "placeholder-secret-value"

CONFIGS = {
    "default": {},
    "letsencrypt-rate-limit": {"environment": "prod", "gateway": {
        "hostname": "llm.example.com", "tls": {"issuer": "letsencrypt", "email": "ops@example.com"},
        "rateLimit": {"tokensPerMinute": 100000}, "proxyReplicas": 2}},
    "scale-to-zero-kv-cache": {"servers": [
        server(VLLM, replicas={"min": 0, "max": 2},
               autoscaling={"scaleToZero": True, "kvCacheThreshold": 0.8, "fallbackReplicas": 1}),
        server(OLLAMA, replicas={"min": 0, "max": 3}, autoscaling={"scaleToZero": True})]},
    "no-gateway-port-forward": {"servers": [server(ONNX)], "gateway": {"enabled": False}},
    "cluster-ip-gateway": {"gateway": {"serviceType": "ClusterIP"}, "monitoring": {"enabled": True}},
}


def all_objects(name: str) -> list[dict]:
    extra = dict(CONFIGS[name])
    cfg = loaded(**extra).stack
    eps = server_endpoints(cfg)
    objs = network.network_policies(cfg, eps) + autoscaling.scaled_objects(cfg, eps) + ratelimit_store.redis_objects(cfg)
    if cfg.gateway.enabled:
        objs += gateway.gateway_objects(cfg, eps)
        objs.append(keys.client_keys_secret(cfg.namespaces.gateway, {n: PLACEHOLDER for n in cfg.gateway.api_key_names}))
        objs.append(keys.backend_key_secret(cfg.namespaces.models, PLACEHOLDER))
    return objs


@cache
def validator(crd_dir: str, api_version: str, kind: str) -> jsonschema.Draft7Validator:
    group, _, version = api_version.rpartition("/")
    path = f"{crd_dir}/{group}_{kind.lower()}_{version}_strict.json"
    with open(path, encoding="utf-8") as fh:
        return jsonschema.Draft7Validator(json.load(fh))


def is_core(obj: dict) -> bool:
    return "." not in obj["apiVersion"].split("/")[0] or obj["apiVersion"].startswith("networking.k8s.io/")


@pytest.mark.parametrize("name", CONFIGS)
def test_custom_resources_pass_the_strict_upstream_schemas(name, crd_schemas):
    errors = []
    for obj in all_objects(name):
        if is_core(obj):
            continue
        for err in validator(str(crd_schemas), obj["apiVersion"], obj["kind"]).iter_errors(obj):
            errors.append(f"{obj['kind']}/{obj['metadata']['name']} {'/'.join(map(str, err.absolute_path))}: {err.message}")
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("name", CONFIGS)
def test_core_objects_pass_kubernetes_validate_strict(name):
    core = [o for o in all_objects(name) if is_core(o)]
    assert core
    for obj in core:
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


@pytest.mark.parametrize("name", CONFIGS)
def test_every_object_has_a_stable_name_and_the_kit_labels(name):
    seen = set()
    for obj in all_objects(name):
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace"), meta["name"])
        assert key not in seen, f"{key} declared twice"
        seen.add(key)
        assert meta["labels"]["app.kubernetes.io/part-of"] == "slmkit"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "pulumi"


def test_the_rate_limit_store_runs_hardened():
    cfg = loaded(**CONFIGS["letsencrypt-rate-limit"]).stack
    (deployment,) = [o for o in ratelimit_store.redis_objects(cfg) if o["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] and pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert ":" in container["image"] and not container["image"].endswith(":latest")
    assert container["resources"]["limits"] and container["readinessProbe"] and container["livenessProbe"]
    assert ratelimit_store.redis_objects(loaded().stack) == []  # no rate limit, no Redis
