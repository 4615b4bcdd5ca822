"""The routing table: every server reachable by each of its served model names, and nothing else."""

from __future__ import annotations

import dataclasses

import pytest

from components.endpoints import server_endpoints
from components.traffic import gateway, names
from components.traffic.routing import routing_table

from .configs import loaded


def _route_table(route: dict) -> dict[str, list[str]]:
    """model name -> backend names, read back from the AIGatewayRoute as the AI Gateway sees it."""
    out: dict[str, list[str]] = {}
    for rule in route["spec"]["rules"]:
        (match,) = rule["matches"]
        (header,) = match["headers"]
        assert header["name"] == names.MODEL_HEADER and header["type"] == "Exact"
        assert header["value"] not in out, f"two rules for {header['value']}"
        out[header["value"]] = [b["name"] for b in rule["backendRefs"]]
    return out


def test_every_served_name_routes_to_exactly_its_server():
    cfg = loaded().stack
    eps = server_endpoints(cfg)
    table = _route_table(gateway.ai_gateway_route(cfg, eps))
    assert table == {
        "qwen-1.5b": ["phi"],
        "qwen2.5-0.5b-instruct": ["qwen-cpu"],
        "gemma3:1b": ["gemma"], "gemma-strict": ["gemma"], "gemma-creative:v2": ["gemma"],
    }


def test_each_route_backend_exists_and_points_at_its_servers_service():
    cfg = loaded().stack
    eps = {ep.name: ep for ep in server_endpoints(cfg)}
    objs = gateway.gateway_objects(cfg, list(eps.values()))
    ai_backends = {o["metadata"]["name"]: o for o in objs if o["kind"] == "AIServiceBackend"}
    backends = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Backend"}
    route = next(o for o in objs if o["kind"] == "AIGatewayRoute")
    for model, targets in _route_table(route).items():
        (target,) = targets
        ref = ai_backends[target]["spec"]["backendRef"]
        (endpoint,) = backends[ref["name"]]["spec"]["endpoints"]
        ep = eps[target]
        assert endpoint["fqdn"] == {"hostname": f"{ep.service_name}.{ep.namespace}.svc.cluster.local", "port": ep.port}
        assert model in ep.served_names


def test_only_servers_that_require_a_key_get_the_gateway_to_present_one():
    cfg = loaded().stack
    eps = server_endpoints(cfg)
    policy = gateway.backend_security_policy(eps, cfg.namespaces.models)
    assert {t["name"] for t in policy["spec"]["targetRefs"]} == {"phi", "qwen-cpu"}  # not Ollama
    assert policy["spec"]["apiKey"]["secretRef"]["name"] == names.BACKEND_KEY_SECRET


def test_a_model_name_served_twice_is_refused():
    eps = server_endpoints(loaded().stack)
    twin = dataclasses.replace(eps[0], name="other")
    with pytest.raises(ValueError, match="served by both phi and other"):
        routing_table([eps[0], twin])


def test_route_attaches_to_the_https_listener_which_admits_only_the_models_namespace():
    cfg = loaded().stack
    route = gateway.ai_gateway_route(cfg, server_endpoints(cfg))
    (parent,) = route["spec"]["parentRefs"]
    assert (parent["namespace"], parent["sectionName"]) == (cfg.namespaces.gateway, "https")
    gw = gateway.gateway(cfg)
    https = next(listener for listener in gw["spec"]["listeners"] if listener["name"] == "https")
    selector = https["allowedRoutes"]["namespaces"]["selector"]["matchLabels"]
    assert selector == {"kubernetes.io/metadata.name": cfg.namespaces.models}
    assert [listener["name"] for listener in gw["spec"]["listeners"]] == ["https"]  # no plain HTTP with self-signed
