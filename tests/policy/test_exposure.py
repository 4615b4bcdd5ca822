"""no-public-model-service, model-server-behind-gateway, namespace-network-policy."""

from __future__ import annotations

import pytest

from policy.rules import rule_named

from .factories import deployment, k8s, service


def resource_violations(rule: str, resource) -> list[str]:
    return [v.message for v in rule_named(rule).check_resource(resource, "dev")]


def stack_violations(rule: str, resources) -> list[tuple[str, str]]:
    return [(v.resource, v.message) for v in rule_named(rule).check_stack(resources, "dev")]


@pytest.mark.parametrize("type_, bad", [("ClusterIP", False), ("LoadBalancer", True), ("NodePort", True)])
def test_model_server_service_type(type_, bad):
    assert bool(resource_violations("no-public-model-service", service(type_=type_))) is bad


def test_other_services_may_be_load_balancers():
    gateway_svc = service("envoy", "slmkit-gateway", "LoadBalancer", selector={"app.kubernetes.io/name": "envoy"})
    assert resource_violations("no-public-model-service", gateway_svc) == []


def test_external_ips_on_model_service_fail():
    svc = service()
    svc.inputs["spec"]["externalIPs"] = ["203.0.113.7"]
    assert "externalIPs" in resource_violations("no-public-model-service", svc)[0]


def gateway_stack(auth: dict | None = None, backend: str = "phi") -> list:
    return [
        deployment(), service(),
        k8s("Gateway", "gateway.networking.k8s.io/v1", "slmkit", "slmkit-gateway", spec={"gatewayClassName": "envoy"}),
        k8s("SecurityPolicy", "gateway.envoyproxy.io/v1alpha1", "api-keys", "slmkit-gateway",
            spec={"targetRefs": [{"kind": "Gateway", "name": "slmkit"}], **({"apiKeyAuth": auth} if auth else {})}),
        k8s("HTTPRoute", "gateway.networking.k8s.io/v1", "phi", "slmkit-models",
            spec={"parentRefs": [{"name": "slmkit", "namespace": "slmkit-gateway"}],
                  "rules": [{"backendRefs": [{"name": backend, "port": 8000.0}]}]}),
    ]


AUTH = {"credentialRefs": [{"name": "api-keys"}], "extractFrom": [{"headers": ["authorization"]}]}


def test_routed_and_authenticated_model_server_passes():
    assert stack_violations("model-server-behind-gateway", gateway_stack(AUTH)) == []


def test_backend_by_cluster_dns_name_counts_as_routed():
    stack = gateway_stack(AUTH)[:4] + [k8s("Backend", "gateway.envoyproxy.io/v1alpha1", "phi", "slmkit-gateway", spec={
        "endpoints": [{"fqdn": {"hostname": "phi.slmkit-models.svc.cluster.local", "port": 8000.0}}]})]
    assert stack_violations("model-server-behind-gateway", stack) == []


def test_no_gateway_fails():
    assert "no Gateway" in stack_violations("model-server-behind-gateway", [deployment(), service()])[0][1]


def test_gateway_without_authentication_fails():
    assert "no SecurityPolicy with client authentication" in stack_violations("model-server-behind-gateway", gateway_stack(None))[0][1]


def test_model_server_no_route_points_at_fails():
    found = stack_violations("model-server-behind-gateway", gateway_stack(AUTH, backend="other"))
    assert found == [("Deployment slmkit-models/phi", "no gateway route points at Service phi; it is reachable only around the gateway")]


def test_model_server_without_service_fails():
    stack = [r for r in gateway_stack(AUTH) if r.kind != "Service"]
    assert "no Service selects" in stack_violations("model-server-behind-gateway", stack)[0][1]


def test_stack_without_model_servers_needs_no_gateway():
    assert stack_violations("model-server-behind-gateway", [deployment(labels={"app": "ui"})]) == []


def test_every_kit_namespace_needs_a_network_policy():
    resources = [
        k8s("Namespace", "v1", "slmkit-models"), k8s("Namespace", "v1", "slmkit-monitoring"),
        deployment(), deployment("gate", "slmkit-loadtest", labels={"app": "gate"}),
        k8s("NetworkPolicy", "networking.k8s.io/v1", "default-deny", "slmkit-models", spec={"podSelector": {}}),
    ]
    found = stack_violations("namespace-network-policy", resources)
    assert sorted(msg.split()[1] for _, msg in found) == ["slmkit-loadtest", "slmkit-monitoring"]


def test_namespaces_all_covered_pass():
    resources = [k8s("Namespace", "v1", "slmkit-models"), deployment(),
                 k8s("NetworkPolicy", "networking.k8s.io/v1", "default-deny", "slmkit-models", spec={"podSelector": {}})]
    assert stack_violations("namespace-network-policy", resources) == []
