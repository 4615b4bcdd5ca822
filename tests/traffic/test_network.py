"""Isolation: who may reach whom, asked of the NetworkPolicies the kit declares."""

from __future__ import annotations

import json

import pytest

from components.endpoints import server_endpoints
from components.platform.namespaces import kit_namespaces
from components.traffic import names, network
from components.traffic.network import PROMETHEUS_POD

from .configs import ONNX, loaded, server
from .netpol import External, Node, Pod, allowed

HTTPS_IN_PROXY = names.proxy_container_port(names.HTTPS_PORT)


@pytest.fixture(scope="module")
def stack():
    cfg = loaded(gateway={"hostname": "llm.example.com", "tls": {"issuer": "letsencrypt", "email": "a@example.com"}}).stack
    eps = {ep.name: ep for ep in server_endpoints(cfg)}
    return cfg, eps, network.network_policies(cfg, list(eps.values()))


def _server_pod(ep) -> Pod:
    return Pod(ep.namespace, dict(ep.labels))


def _proxy(cfg) -> Pod:
    return Pod(cfg.namespaces.system, names.proxy_pod_labels(cfg.namespaces.gateway))


def _prometheus(cfg) -> Pod:
    return Pod(cfg.namespaces.monitoring, dict(PROMETHEUS_POD))


def test_every_kit_namespace_denies_by_default_and_resolves_dns(stack):
    cfg, _, policies = stack
    for namespace in kit_namespaces(cfg).values():
        deny = [p for p in policies if p["metadata"]["namespace"] == namespace and p["metadata"]["name"] == "default-deny"]
        assert deny and deny[0]["spec"]["podSelector"] == {} and deny[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]
        anyone = Pod(namespace, {"app": "anything"})
        dns = Pod("kube-system", {"k8s-app": "kube-dns"})
        assert allowed(policies, anyone, dns, 53, "UDP") and allowed(policies, anyone, dns, 53, "TCP")
        assert not allowed(policies, anyone, External("93.184.216.34"), 80)


def test_model_servers_are_reachable_from_the_gateway_only(stack):
    cfg, eps, policies = stack
    for ep in eps.values():
        pod = _server_pod(ep)
        assert allowed(policies, _proxy(cfg), pod, ep.port)
        assert not allowed(policies, _proxy(cfg), pod, ep.port + 1)
        assert not allowed(policies, Pod(cfg.namespaces.loadtest, {"app": "locust"}), pod, ep.port)
        assert not allowed(policies, Pod("default", {"app": "curious"}), pod, ep.port)
        assert not allowed(policies, Pod(cfg.namespaces.system, {"app.kubernetes.io/name": "keda-operator"}), pod, ep.port)
        assert not allowed(policies, External("203.0.113.7"), pod, ep.port)


def test_prometheus_scrapes_servers_with_metrics_and_nothing_opens_ollama_to_it(stack):
    cfg, eps, policies = stack
    assert allowed(policies, _prometheus(cfg), _server_pod(eps["phi"]), eps["phi"].port)
    assert allowed(policies, _prometheus(cfg), _server_pod(eps["qwen-cpu"]), eps["qwen-cpu"].port)
    assert not allowed(policies, _prometheus(cfg), _server_pod(eps["gemma"]), eps["gemma"].port)  # no /metrics


def test_servers_download_models_over_https_from_public_addresses_only(stack):
    _, eps, policies = stack
    for ep in eps.values():
        pod = _server_pod(ep)
        assert allowed(policies, pod, External("18.164.174.50"), 443)  # a public hub address
        assert not allowed(policies, pod, External("18.164.174.50"), 80)
        assert not allowed(policies, pod, External("10.0.0.1"), 443)  # in-cluster / VNet
        assert not allowed(policies, pod, External("169.254.169.254"), 443)  # cloud metadata
        assert not allowed(policies, pod, Pod("default", {"app": "x"}), 8080)
    prepare = Pod(eps["qwen-cpu"].namespace, {"app.kubernetes.io/name": "model-prepare", "app.kubernetes.io/instance": "qwen-cpu"})
    assert allowed(policies, prepare, External("18.164.174.50"), 443)


def test_clients_reach_the_gateway_and_the_load_test_goes_through_it(stack):
    cfg, eps, policies = stack
    assert allowed(policies, External("198.51.100.20"), _proxy(cfg), HTTPS_IN_PROXY)
    assert allowed(policies, External("198.51.100.20"), _proxy(cfg), names.proxy_container_port(80))  # HTTP-01
    assert not allowed(policies, External("198.51.100.20"), _proxy(cfg), 19000)  # Envoy admin
    locust = Pod(cfg.namespaces.loadtest, {"app": "locust"})
    assert allowed(policies, locust, _proxy(cfg), HTTPS_IN_PROXY)
    assert not allowed(policies, locust, _server_pod(eps["phi"]), eps["phi"].port)


def test_without_a_gateway_the_load_test_calls_the_servers_directly():
    cfg = loaded([server(ONNX)], gateway={"enabled": False}).stack
    (ep,) = server_endpoints(cfg)
    policies = network.network_policies(cfg, [ep])
    locust = Pod(cfg.namespaces.loadtest, {"app": "locust"})
    assert allowed(policies, locust, _server_pod(ep), ep.port)
    assert not allowed(policies, Pod("default", {}), _server_pod(ep), ep.port)
    assert cfg.namespaces.gateway not in {p["metadata"]["namespace"] for p in policies}


def test_keda_reads_prometheus_and_the_api_server_calls_webhooks(stack):
    cfg, _, policies = stack
    keda = Pod(cfg.namespaces.system, {"app": "keda-operator"})
    assert allowed(policies, keda, _prometheus(cfg), 9090)
    assert allowed(policies, External("10.0.0.1"), Pod(cfg.namespaces.system, {"app": "keda-admission"}), 9443)
    assert allowed(policies, keda, External("10.0.0.1"), 443)  # the API server
    assert not allowed(policies, Pod(cfg.namespaces.loadtest, {}), _prometheus(cfg), 9090)


def test_gateway_proxies_reach_the_chat_ui_and_nothing_else_new():
    from components import chat_ui

    cfg = loaded(chatUi={"enabled": True, "hostname": "chat.example.com"}).stack
    eps = server_endpoints(cfg)
    policies = network.network_policies(cfg, eps) + chat_ui.network_policies(cfg)
    ui = Pod(cfg.chat_ui.namespace, dict(chat_ui.POD))
    assert allowed(policies, _proxy(cfg), ui, chat_ui.PORT)
    assert not allowed(policies, Pod(cfg.namespaces.loadtest, {}), ui, chat_ui.PORT)
    assert allowed(policies, ui, _proxy(cfg), HTTPS_IN_PROXY)  # the UI calls the API through the gateway
    assert not allowed(policies, ui, _server_pod(eps[0]), eps[0].port)


def test_the_proxies_egress_names_each_server_not_the_whole_namespace(stack):
    cfg, eps, policies = stack
    other = Pod(cfg.namespaces.models, {"app.kubernetes.io/name": "model-prepare", "app.kubernetes.io/instance": "phi"})
    assert not allowed(policies, _proxy(cfg), other, eps["phi"].port)
    proxy_policy = next(p for p in policies if p["metadata"]["name"] == "gateway-proxy")
    rules = [(json.dumps(r["to"], sort_keys=True), json.dumps(r["ports"], sort_keys=True)) for r in proxy_policy["spec"]["egress"]]
    assert len(rules) == len(set(rules)), "duplicate egress rules"


def test_cert_manager_may_self_check_http01_only_with_lets_encrypt(stack):
    cfg, _, policies = stack
    controller = Pod(cfg.namespaces.system, dict(network.CERT_MANAGER_CONTROLLER))
    assert allowed(policies, controller, External("203.0.113.9"), 80)
    # The public address is the gateway's own LoadBalancer: the dataplane hands the connection to a
    # proxy pod on its container port before policy applies (Cilium, kube-proxy alike).
    assert allowed(policies, controller, _proxy(cfg), names.proxy_container_port(80))
    assert not allowed(policies, Pod(cfg.namespaces.system, {"app": "keda-operator"}), External("203.0.113.9"), 80)
    plain = network.network_policies(loaded().stack, server_endpoints(loaded().stack))
    assert not allowed(plain, controller, External("203.0.113.9"), 80)


def test_prometheus_scrapes_kubelets_and_node_exporter_without_ipblock(stack):
    """Node addresses are out of ipBlock's reach on AKS with Cilium: the scrapes still work."""
    cfg, _, policies = stack
    for port in (10250, 9100):
        assert allowed(policies, _prometheus(cfg), Node(), port)
    assert not allowed(policies, Pod(cfg.namespaces.loadtest, {}), Node(), 10250)


def test_controllers_reach_the_api_server_wherever_it_is(stack):
    cfg, _, policies = stack
    for who in (Pod(cfg.namespaces.system, {"app": "keda-operator"}), _prometheus(cfg)):
        assert allowed(policies, who, Node(), 443) and allowed(policies, who, External("20.50.2.1"), 443)


def test_no_policy_reaches_in_cluster_addresses_through_ipblock():
    """ipBlock only for public addresses: every ipBlock excludes the private ranges nodes and pods use."""
    from components import chat_ui

    cfg = loaded(gateway={"hostname": "llm.example.com", "tls": {"issuer": "letsencrypt", "email": "a@example.com"}},
                 chatUi={"enabled": True, "hostname": "chat.example.com", "oidc": {
                     "clientId": "x", "providerUrl": "https://login.example.com/.well-known/openid-configuration"}}).stack
    policies = network.network_policies(cfg, server_endpoints(cfg)) + chat_ui.network_policies(cfg)
    blocks = [peer["ipBlock"] for p in policies for rule in p["spec"].get("egress", []) + p["spec"].get("ingress", [])
              for peer in rule.get("to", rule.get("from", [])) if "ipBlock" in peer]
    assert blocks and all(set(network.PRIVATE_RANGES) <= set(b.get("except", [])) for b in blocks)
