"""Vertical Pod Autoscalers (autoscaling.k8s.io/v1): one per CPU model server and one for the gateway
proxies. Recommendation mode (updateMode Off) unless a server says `vertical: auto`; GPU servers get
none (the capacity plan sizes them). Schema facts: components/catalog/vpa.py.
"""

from __future__ import annotations

import math

from components import capacity
from components.catalog import models as model_catalog
from components.catalog import vpa as catalog
from components.config import StackConfig
from components.config.vertical import server_mode, vpa_enabled
from components.endpoints import ServerEndpoint
from components.k8s.objects import meta

from . import names

LABELS = {"app.kubernetes.io/component": "autoscaling"}


def _memory_floor_gib(ep: ServerEndpoint) -> int | None:
    """The model's own footprint (weights + KV cache + runtime, the config check's arithmetic): the VPA
    may never recommend less, or the first full batch would be OOM-killed."""
    card = model_catalog.lookup(ep.spec.model, ep.engine)
    if card is None:
        return None
    if ep.engine == "ollama":
        return math.ceil(capacity.ollama_fit(ep.spec, card).needed_gib)
    if ep.engine == "onnx":
        return math.ceil(capacity.onnx_fit(ep.spec, card).needed_gib)
    return None


def vpa(name: str, namespace: str, deployment: str, mode: str, min_memory_gib: int | None = None) -> dict:
    policy: dict = {"containerName": "*", "controlledResources": ["cpu", "memory"],
                    "controlledValues": catalog.CONTROLLED_VALUES}
    if min_memory_gib:
        policy["minAllowed"] = {"memory": f"{min_memory_gib}Gi"}
    return {
        "apiVersion": catalog.API, "kind": catalog.KIND,
        "metadata": meta(name, namespace, {**LABELS, "slmkit.io/vertical": mode}),
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": deployment},
            "updatePolicy": {"updateMode": catalog.UPDATE_MODES[mode]},
            "resourcePolicy": {"containerPolicies": [policy]},
        },
    }


def server_vpas(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[dict]:
    out = []
    for ep in endpoints:
        mode = server_mode(cfg, ep.spec)
        if mode != "off":
            out.append(vpa(ep.name, ep.namespace, ep.deployment_name, mode, _memory_floor_gib(ep)))
    return out


def gateway_vpa(cfg: StackConfig) -> dict | None:
    """The Envoy proxies (Deployment named in the EnvoyProxy, system namespace): recommendations only."""
    if not (vpa_enabled(cfg) and cfg.vertical_scaling.gateway and cfg.gateway.enabled):
        return None
    return vpa("slmkit-gateway-proxy", cfg.namespaces.system, names.PROXY_DEPLOYMENT, "recommend")


def vertical_pod_autoscalers(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[dict]:
    out = server_vpas(cfg, endpoints)
    gw = gateway_vpa(cfg)
    return out + ([gw] if gw else [])


def vpa_summary(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[str]:
    """One line per Deployment with a VPA, for plan.txt."""
    return [f"{o['metadata']['namespace']}/{o['spec']['targetRef']['name']}: "
            f"VPA updateMode {o['spec']['updatePolicy']['updateMode']}"
            for o in vertical_pod_autoscalers(cfg, endpoints)]
