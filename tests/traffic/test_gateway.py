"""The gateway's client side (keys, TLS, buffers, timeouts, rate limits) and the operator releases."""

from __future__ import annotations

import json

import pytest

from components.catalog.charts import CHARTS
from components.endpoints import server_endpoints
from components.traffic import gateway, keys, names, operators, ratelimit_store

from .configs import VLLM, loaded, server

PROD_GATEWAY = {"hostname": "llm.example.com", "tls": {"issuer": "letsencrypt", "email": "ops@example.com"},
                "rateLimit": {"tokensPerMinute": 50000}}


def test_api_keys_are_required_stripped_and_the_client_named_for_rate_limits():
    auth = gateway.security_policy(loaded().stack)["spec"]["apiKeyAuth"]
    assert auth["credentialRefs"] == [{"group": "", "kind": "Secret", "name": names.CLIENT_KEYS_SECRET}]
    assert "authorization" in auth["extractFrom"][0]["headers"]  # OpenAI SDKs send Authorization: Bearer
    assert auth["sanitize"] is True and auth["forwardClientIDHeader"] == names.CLIENT_ID_HEADER


def test_token_rate_limit_charges_total_tokens_per_client_key():
    cfg = loaded(environment="dev", gateway=PROD_GATEWAY).stack
    (rule,) = gateway.rate_limit_policy(cfg)["spec"]["rateLimit"]["global"]["rules"]
    assert rule["clientSelectors"] == [{"headers": [{"name": names.CLIENT_ID_HEADER, "type": "Distinct"}]}]
    assert rule["limit"] == {"requests": 50000, "unit": "Minute"}
    assert rule["cost"]["request"] == {"from": "Number", "number": 0}
    assert rule["cost"]["response"]["metadata"] == {"namespace": "io.envoy.ai_gateway", "key": names.TOTAL_TOKENS_KEY}
    route = gateway.ai_gateway_route(cfg, [])
    assert {"metadataKey": names.TOTAL_TOKENS_KEY, "type": "TotalToken"} in route["spec"]["llmRequestCosts"]
    assert gateway.rate_limit_policy(loaded().stack) is None


def test_big_prompts_and_long_streams_fit():
    cfg = loaded(gateway={"requestBufferLimit": "8Mi", "requestTimeoutSeconds": 900, "streamIdleTimeoutSeconds": 120}).stack
    client = gateway.client_traffic_policy(cfg)["spec"]
    assert client["connection"]["bufferLimit"] == "8Mi"
    assert client["timeout"]["http"]["streamIdleTimeout"] == "120s"
    route = gateway.ai_gateway_route(cfg, server_endpoints(cfg))
    assert route["spec"]["rules"]
    for rule in route["spec"]["rules"]:
        assert rule["timeouts"] == {"request": "900s"} and rule["streamIdleTimeout"] == "120s"


def test_tls_self_signed_names_what_in_cluster_and_port_forward_clients_dial():
    cfg = loaded().stack
    cert = gateway.certificate(cfg)["spec"]
    assert cert["dnsNames"] == [names.proxy_service_host(cfg.namespaces.system), "localhost"]
    assert cert["issuerRef"]["name"] == gateway.issuer(cfg)["metadata"]["name"]
    assert gateway.envoy_proxy(cfg)["spec"]["provider"]["kubernetes"]["envoyService"]["name"] == names.PROXY_SERVICE


def test_lets_encrypt_solves_http01_through_the_kits_gateway():
    cfg = loaded(gateway=PROD_GATEWAY).stack
    acme = gateway.issuer(cfg)["spec"]["acme"]
    assert acme["server"].startswith("https://acme-v02.api.letsencrypt.org")
    (parent,) = acme["solvers"][0]["http01"]["gatewayHTTPRoute"]["parentRefs"]
    assert (parent["name"], parent["sectionName"]) == (names.GATEWAY, "http")
    assert gateway.certificate(cfg)["spec"]["dnsNames"] == ["llm.example.com"]
    listeners = {x["name"]: x for x in gateway.gateway(cfg)["spec"]["listeners"]}
    assert set(listeners) == {"https", "http"} and listeners["https"]["hostname"] == "llm.example.com"


def test_supplied_keys_are_checked_and_missing_names_fall_back_to_generated():
    text = json.dumps({"primary": "k" * 40})
    assert keys.pick_key(text, "primary") == "k" * 40
    assert keys.pick_key(text, "secondary") is None
    with pytest.raises(ValueError, match="JSON object"):
        keys.pick_key("primary=abc", "primary")
    with pytest.raises(ValueError, match="shorter than 32"):
        keys.pick_key(json.dumps({"primary": "short"}), "primary")
    with pytest.raises(ValueError, match="map key names"):
        keys.pick_key(json.dumps({"primary": 5}), "primary")
    secret = keys.client_keys_secret("gw", {"a": "x", "b": "y"})
    assert secret["metadata"]["name"] == names.CLIENT_KEYS_SECRET and secret["stringData"] == {"a": "x", "b": "y"}
    assert keys.backend_key_secret("m", "s")["stringData"] == {"apiKey": "s"}


def test_operator_releases_are_pinned_and_wired_to_each_other():
    cfg = loaded(gateway=PROD_GATEWAY).stack
    specs = {r.release: r for r in operators.releases(cfg, autoscaling=True)}
    assert list(specs) == ["gateway-crds", "cert-manager", "ai-gateway-crds", "envoy-gateway", "ai-gateway", "keda"]
    for spec in specs.values():
        assert spec.chart in CHARTS.values() and spec.chart.version and spec.namespace == cfg.namespaces.system
    eg = specs["envoy-gateway"].values["config"]["envoyGateway"]
    assert eg["extensionManager"]["service"]["fqdn"] == {
        "hostname": f"{names.AI_GATEWAY_CONTROLLER}.{cfg.namespaces.system}.svc.cluster.local", "port": 1063}
    assert eg["extensionApis"]["enableBackend"] is True
    assert eg["rateLimit"]["backend"]["redis"]["url"] == ratelimit_store.redis_url(cfg)
    # cert-manager v1.21: gatewayAPI.enabled (enableGatewayAPI is deprecated) once the CRDs exist.
    assert specs["cert-manager"].values["config"]["gatewayAPI"] == {"enabled": True}
    assert "enableGatewayAPI" not in specs["cert-manager"].values["config"]
    # Gateway API CRDs come from Envoy Gateway's CRD chart, rendered by Pulumi (no Helm release
    # record: the chart's would pass the 1 MiB Secret limit); Envoy Gateway's own copy is off.
    crds = specs["gateway-crds"]
    assert crds.templated and crds.values["crds"] == {"gatewayAPI": {"enabled": True, "channel": "experimental"},
                                                       "envoyGateway": {"enabled": True}}
    assert specs["envoy-gateway"].values["crds"] == {"enabled": False} and specs["envoy-gateway"].skip_crds
    # Token metrics carry the client key's name (the header the SecurityPolicy forwards).
    attributes = specs["ai-gateway"].values["controller"]["metricsRequestHeaderAttributes"]
    assert attributes.split(":")[0] == gateway.security_policy(cfg)["spec"]["apiKeyAuth"]["forwardClientIDHeader"]
    assert gateway.public_url(cfg) == "https://llm.example.com/v1"


def test_no_gateway_no_gateway_operators_and_no_autoscaling_no_keda():
    cfg = loaded([server(VLLM, replicas={"min": 1, "max": 1})], gateway={"enabled": False}).stack
    assert operators.releases(cfg, autoscaling=False) == []
    no_limit = operators.releases(loaded().stack, autoscaling=False)
    assert [r.release for r in no_limit] == ["gateway-crds", "cert-manager", "ai-gateway-crds", "envoy-gateway",
                                             "ai-gateway"]
    assert "rateLimit" not in no_limit[3].values["config"]["envoyGateway"]


CHAT = {"enabled": True, "hostname": "chat.example.com"}


def test_chat_ui_gets_its_own_listener_and_no_api_key_demand():
    cfg = loaded(gateway=PROD_GATEWAY, chatUi=CHAT).stack
    listeners = {x["name"]: x for x in gateway.gateway(cfg)["spec"]["listeners"]}
    chat = [x for x in listeners.values() if x.get("hostname") == "chat.example.com"]
    assert len(chat) == 1 and listeners["https"]["hostname"] == "llm.example.com"
    assert "hostname" not in listeners["http"]  # HTTP-01 challenges for both names
    # Keys and token limits guard the API listener only: browsers sign in to the chat UI itself.
    for policy in (gateway.security_policy(cfg), gateway.rate_limit_policy(cfg)):
        assert [t.get("sectionName") for t in policy["spec"]["targetRefs"]] == ["https"]


def test_chat_ui_and_api_cannot_share_a_hostname():
    from .configs import problems

    lines = problems(gateway={"hostname": "llm.example.com"}, chatUi={"enabled": True, "hostname": "llm.example.com"})
    assert any("slmkit:chatUi.hostname = llm.example.com" in line and "its own name" in line for line in lines)
