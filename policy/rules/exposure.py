"""Who can reach a model server: only through the authenticated gateway, inside namespaces that
have a NetworkPolicy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .base import Resource, Rule, as_list, as_map, dig, strings_in
from .pods import MODEL_SERVER_LABEL, pod_template, workloads

_PUBLIC_SERVICE_TYPES = ("LoadBalancer", "NodePort")
# Envoy Gateway SecurityPolicy fields that authenticate a client.
_AUTH_FIELDS = ("apiKeyAuth", "jwt", "oidc", "basicAuth", "extAuth")
# Kinds that send gateway traffic to a backend (Gateway API, Envoy Gateway, Envoy AI Gateway,
# Inference Extension).
_ROUTING_KINDS = ("HTTPRoute", "GRPCRoute", "AIGatewayRoute", "AIServiceBackend", "Backend", "InferencePool")


def _selects_model_server(service: Resource) -> bool:
    key, value = MODEL_SERVER_LABEL
    return as_map(dig(service.inputs, "spec", "selector")).get(key) == value


def _public_model_service(resource: Resource, environment: str) -> Iterable[str]:
    if not (resource.is_kubernetes and resource.kind == "Service" and _selects_model_server(resource)):
        return
    spec = as_map(resource.inputs.get("spec"))
    kind = spec.get("type")
    if kind in _PUBLIC_SERVICE_TYPES:
        yield f"type {kind} exposes a model server without the gateway's authentication; use ClusterIP and route through the gateway"
    if as_list(spec.get("externalIPs")):
        yield "externalIPs expose a model server without the gateway's authentication; remove them"


def _of_kind(resources: Sequence[Resource], *kinds: str) -> list[Resource]:
    return [r for r in resources if r.is_kubernetes and r.kind in kinds]


def _services_for(pod_labels: Mapping[str, Any], namespace: str, services: Sequence[Resource]) -> list[Resource]:
    out = []
    for svc in services:
        selector = as_map(dig(svc.inputs, "spec", "selector"))
        if svc.namespace == namespace and selector and all(pod_labels.get(k) == v for k, v in selector.items()):
            out.append(svc)
    return out


def _routed(service: Resource, routing: Sequence[Resource]) -> bool:
    """A route, backend or pool names the Service (by name or in-cluster DNS name)."""
    name = str(service.metadata.get("name"))
    fqdn_prefix = f"{name}.{service.namespace}"
    for r in routing:
        for text in strings_in(r.inputs.get("spec")):
            if text == name or text.startswith(fqdn_prefix):
                return True
    return False


def _unauthenticated_model_servers(resources: Sequence[Resource], environment: str) -> Iterable[tuple[Resource, str]]:
    servers = [(r, pod) for r, pod in workloads(resources) if pod.is_model_server]
    if not servers:
        return
    gateways = _of_kind(resources, "Gateway")
    auth = [p for p in _of_kind(resources, "SecurityPolicy") if any(dig(p.inputs, "spec", f) for f in _AUTH_FIELDS)]
    services = _of_kind(resources, "Service")
    routing = _of_kind(resources, *_ROUTING_KINDS)
    for workload, pod in servers:
        if not gateways:
            yield workload, "no Gateway in the stack; set slmkit:gateway.enabled: true so clients reach models through it"
            continue
        if not auth:
            yield workload, "the gateway has no SecurityPolicy with client authentication (apiKeyAuth, jwt, oidc); anyone can call the model"
            continue
        svcs = _services_for(pod.labels, workload.namespace, services)
        if not svcs:
            yield workload, "no Service selects this model server, so the gateway cannot route to it"
        elif not any(_routed(s, routing) for s in svcs):
            yield workload, f"no gateway route points at Service {svcs[0].metadata.get('name')}; it is reachable only around the gateway"


def _kit_namespaces(resources: Sequence[Resource]) -> dict[str, Resource]:
    """Namespaces the stack creates or puts workloads and Services in -> a resource to report on."""
    found: dict[str, Resource] = {}
    for ns in _of_kind(resources, "Namespace"):
        found.setdefault(str(ns.metadata.get("name")), ns)
    for r in resources:
        if r.is_kubernetes and (pod_template(r) is not None or r.kind == "Service"):
            found.setdefault(r.namespace, r)
    return found


def _namespaces_without_policy(resources: Sequence[Resource], environment: str) -> Iterable[tuple[Resource, str]]:
    covered = {p.namespace for p in _of_kind(resources, "NetworkPolicy")}
    for name, owner in sorted(_kit_namespaces(resources).items()):
        if name not in covered:
            yield owner, f"namespace {name} has no NetworkPolicy; every pod in it accepts traffic from anywhere in the cluster"


NO_PUBLIC_MODEL_SERVICE = Rule(
    "no-public-model-service",
    "No LoadBalancer or NodePort Service (or externalIPs) in front of a model server.",
    "mandatory", resource_check=_public_model_service,
)
MODEL_SERVER_BEHIND_GATEWAY = Rule(
    "model-server-behind-gateway",
    "Every model server is routed through a Gateway that authenticates clients.",
    # local: a laptop cluster reaches models by `kubectl port-forward`, authenticated by the API server.
    "mandatory", stack_check=_unauthenticated_model_servers, environments=("dev", "staging", "prod"),
)
NAMESPACE_NETWORK_POLICY = Rule(
    "namespace-network-policy",
    "Every namespace the kit uses has at least one NetworkPolicy.",
    "mandatory", stack_check=_namespaces_without_policy,
)

RULES = [NO_PUBLIC_MODEL_SERVICE, MODEL_SERVER_BEHIND_GATEWAY, NAMESPACE_NETWORK_POLICY]
