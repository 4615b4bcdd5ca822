"""The gateway's objects as pure builders: config and server endpoints in, manifest dicts out.

Layout:
  gateway namespace   Gateway, EnvoyProxy, SecurityPolicy (client keys), ClientTrafficPolicy,
                      BackendTrafficPolicy (token rate limit), Issuer, Certificate, client-key Secret
  models namespace    AIGatewayRoute (attached to the Gateway across namespaces), one
                      AIServiceBackend + Backend per server, BackendSecurityPolicy (server key)
The route lives next to the servers so the server key Secret never leaves the models namespace.
"""

from __future__ import annotations

from components import chat_ui
from components.catalog import upstream
from components.config import StackConfig
from components.endpoints import ServerEndpoint
from components.k8s.objects import meta
from components.k8s.security import container_security_context

from . import names
from .access import WAIT_FOR, azure_host, issuer_name, public_url, uses_private_ca
from .routing import routing_table

__all__ = ["issuer_name", "public_url", "uses_private_ca"]  # the clients' facts live in access.py

GW_API = "gateway.networking.k8s.io/v1"
EG_API = "gateway.envoyproxy.io/v1alpha1"
AIGW_API = "aigateway.envoyproxy.io/v1beta1"
CM_API = "cert-manager.io/v1"
LABELS = {"app.kubernetes.io/component": "gateway"}
ENVOY_UID = 65532
API_LISTENER = "https"  # the distroless envoy image's non-root user


def _gateway_ref(cfg: StackConfig, section: str | None = None) -> dict:
    ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": names.GATEWAY}
    if section:
        ref["sectionName"] = section
    return ref


def _seconds(value: int) -> str:
    return f"{value}s"


def gateway_class() -> dict:
    return {"apiVersion": GW_API, "kind": "GatewayClass", "metadata": meta(names.GATEWAY_CLASS, labels=LABELS),
            "spec": {"controllerName": names.ENVOY_GATEWAY_CONTROLLER_NAME}}


def envoy_proxy(cfg: StackConfig, dns_label=None) -> dict:
    """How Envoy Gateway runs this Gateway's proxies: hardened pods, sized, and the Service type
    (ClusterIP for stacks reached by port-forward). `dns_label` (str or Output, when
    `cfg.uses_azure_dns_label`) gives the Service its Azure DNS name."""
    gw = cfg.gateway
    service = {"name": names.PROXY_SERVICE, "type": gw.service_type}
    if dns_label is not None:
        service["annotations"] = {upstream.AZURE_DNS_LABEL_ANNOTATION.value: dns_label}
    pod_sc = {"runAsNonRoot": True, "runAsUser": ENVOY_UID, "runAsGroup": ENVOY_UID,
              "seccompProfile": {"type": "RuntimeDefault"}}
    return {
        "apiVersion": EG_API, "kind": "EnvoyProxy", "metadata": meta(names.ENVOY_PROXY, cfg.namespaces.gateway, LABELS),
        "spec": {"provider": {"type": "Kubernetes", "kubernetes": {
            "envoyDeployment": {
                "name": names.PROXY_DEPLOYMENT,
                "replicas": gw.proxy_replicas,
                "pod": {"securityContext": pod_sc},
                "container": {
                    "securityContext": container_security_context(),
                    "resources": {"requests": {"cpu": "200m", "memory": "256Mi"},
                                  "limits": {"cpu": "2", "memory": "1Gi"}},
                },
            },
            "envoyService": service,
        }}},
    }


def _chat_listeners(cfg: StackConfig) -> list[dict]:
    """The chat UI's own HTTPS listener (its hostname), defined next to the chat UI."""
    if not cfg.chat_ui.enabled:
        return []
    return chat_ui.chat_listeners(cfg)


def gateway(cfg: StackConfig) -> dict:
    """One HTTPS listener for the API; an HTTP listener (any host: the API's and the chat UI's
    challenges) only for Let's Encrypt's HTTP-01 challenge."""
    gw = cfg.gateway
    https = {
        "name": API_LISTENER, "protocol": "HTTPS", "port": names.HTTPS_PORT,
        **({"hostname": gw.hostname} if gw.hostname else {}),
        "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "group": "", "name": names.TLS_SECRET}]},
        # The AIGatewayRoute lives in the models namespace: admit routes from there only.
        "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {
            "matchLabels": {"kubernetes.io/metadata.name": cfg.namespaces.models}}}},
    }
    listeners = [https, *_chat_listeners(cfg)]
    if gw.tls.issuer.startswith("letsencrypt"):
        listeners.append({"name": "http", "protocol": "HTTP", "port": names.HTTP_PORT,
                          "allowedRoutes": {"namespaces": {"from": "Same"}}})
    return {
        "apiVersion": GW_API, "kind": "Gateway", "metadata": meta(names.GATEWAY, cfg.namespaces.gateway, LABELS),
        "spec": {
            "gatewayClassName": names.GATEWAY_CLASS,
            "infrastructure": {"parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy",
                                                 "name": names.ENVOY_PROXY}},
            "listeners": listeners,
        },
    }




# --- TLS -----------------------------------------------------------------------------------------

def issuer(cfg: StackConfig) -> dict:
    gw = cfg.gateway
    ns = cfg.namespaces.gateway
    if gw.tls.issuer == "self-signed":
        return {"apiVersion": CM_API, "kind": "Issuer", "metadata": meta(names.SELF_SIGNED_ISSUER, ns, LABELS),
                "spec": {"ca": {"secretName": names.CA_SECRET}}}
    name, server = names.LETSENCRYPT_ISSUERS[gw.tls.issuer]
    return {
        "apiVersion": CM_API, "kind": "Issuer", "metadata": meta(name, ns, LABELS),
        "spec": {"acme": {
            "server": server, "email": gw.tls.email,
            "privateKeySecretRef": {"name": f"{name}-account-key"},
            # cert-manager answers the challenge through the kit's own Gateway (HTTP listener).
            "solvers": [{"http01": {"gatewayHTTPRoute": {"parentRefs": [
                {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": names.GATEWAY,
                 "namespace": ns, "sectionName": "http"}]}}}],
        }},
    }




def ca_secret(cfg: StackConfig, cert_pem, key_pem) -> dict:
    """The kit's CA for the CA issuer (values are Pulumi outputs; the key is a secret)."""
    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": meta(names.CA_SECRET, cfg.namespaces.gateway, LABELS),
            "stringData": {"tls.crt": cert_pem, "tls.key": key_pem}}


def ca_bundle(namespace: str, cert_pem) -> dict:
    """The CA certificate (public) for clients in another namespace to trust the gateway."""
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(names.CA_BUNDLE, namespace, LABELS),
            "data": {names.CA_BUNDLE_KEY: cert_pem}}




def certificate(cfg: StackConfig, public_host=None) -> dict:
    """Let's Encrypt certifies the public hostname only. A self-signed certificate also names what
    in-cluster clients (the load test) and port-forwarded clients dial, and on AKS the gateway's
    Azure DNS name (`public_host`, str or Output), which a runner-side gate calls."""
    gw = cfg.gateway
    dns = [gw.hostname] if gw.hostname else []
    if public_host is not None:
        dns.append(public_host)
    if gw.tls.issuer == "self-signed":
        dns += [names.proxy_service_host(cfg.namespaces.system), "localhost"]
    return {
        # Pulumi waits for Ready (access.WAIT_FOR): the gate calls the gateway over TLS after it.
        "apiVersion": CM_API, "kind": "Certificate",
        "metadata": meta(names.CERTIFICATE, cfg.namespaces.gateway, LABELS, dict(WAIT_FOR)),
        "spec": {
            "secretName": names.TLS_SECRET, "dnsNames": dns, "duration": "2160h", "renewBefore": "360h",
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": issuer_name(cfg)},
        },
    }


# --- client side: keys, buffers, timeouts, rate limits ---------------------------------------------

def security_policy(cfg: StackConfig) -> dict:
    """Every request needs a key from the client-key Secret. The key is stripped before the request
    reaches a server, and the client's name is forwarded for per-key rate limits and metrics."""
    return {
        "apiVersion": EG_API, "kind": "SecurityPolicy", "metadata": meta("slmkit-api-keys", cfg.namespaces.gateway, LABELS),
        "spec": {
            "targetRefs": [_gateway_ref(cfg, API_LISTENER)],  # the API only; the chat UI has its own login
            "apiKeyAuth": {
                "credentialRefs": [{"group": "", "kind": "Secret", "name": names.CLIENT_KEYS_SECRET}],
                "extractFrom": [{"headers": list(names.KEY_HEADERS)}],
                "forwardClientIDHeader": names.CLIENT_ID_HEADER,
                "sanitize": True,
            },
        },
    }


def client_traffic_policy(cfg: StackConfig) -> dict:
    """Envoy's 32 KiB default buffer rejects long prompts; streams may idle through a cold start."""
    gw = cfg.gateway
    return {
        "apiVersion": EG_API, "kind": "ClientTrafficPolicy", "metadata": meta("slmkit-clients", cfg.namespaces.gateway, LABELS),
        "spec": {
            "targetRefs": [_gateway_ref(cfg)],
            "connection": {"bufferLimit": gw.request_buffer_limit},
            # Keep the client's x-request-id (the load-test gate's record id) so the ONNX server logs
            # the same id; Envoy's default (Generate) replaces it at the edge.
            "headers": {"requestID": "PreserveOrGenerate"},
            "timeout": {"http": {
                "requestReceivedTimeout": "60s",  # a slow client cannot hold a connection open with half a prompt
                "streamIdleTimeout": _seconds(gw.stream_idle_timeout_seconds),
            }},
        },
    }


def rate_limit_policy(cfg: StackConfig) -> dict | None:
    """Tokens per minute per client key: the request only checks the budget (cost 0); the response
    charges the total tokens the AI Gateway read from `usage`. Global rate limiting (Redis) so the
    budget holds across proxy replicas."""
    rl = cfg.gateway.rate_limit
    if rl is None:
        return None
    return {
        "apiVersion": EG_API, "kind": "BackendTrafficPolicy", "metadata": meta("slmkit-token-limit", cfg.namespaces.gateway, LABELS),
        "spec": {
            "targetRefs": [_gateway_ref(cfg, API_LISTENER)],
            "rateLimit": {"global": {"rules": [{
                "clientSelectors": [{"headers": [{"name": names.CLIENT_ID_HEADER, "type": "Distinct"}]}],
                "limit": {"requests": rl.tokens_per_minute, "unit": "Minute"},
                "cost": {
                    "request": {"from": "Number", "number": 0},
                    "response": {"from": "Metadata", "metadata": {
                        "namespace": names.AI_GATEWAY_METADATA_NAMESPACE, "key": names.TOTAL_TOKENS_KEY}},
                },
            }]}},
        },
    }


# --- routing to the servers (models namespace) -----------------------------------------------------

def backend(ep: ServerEndpoint) -> dict:
    return {
        "apiVersion": EG_API, "kind": "Backend", "metadata": meta(ep.name, ep.namespace, LABELS),
        "spec": {"endpoints": [{"fqdn": {"hostname": f"{ep.service_name}.{ep.namespace}.svc.cluster.local",
                                          "port": ep.port}}]},
    }


def ai_service_backend(ep: ServerEndpoint) -> dict:
    """All three engines speak the OpenAI API."""
    return {
        "apiVersion": AIGW_API, "kind": "AIServiceBackend", "metadata": meta(ep.name, ep.namespace, LABELS),
        "spec": {"schema": {"name": "OpenAI", "version": "v1"},
                 "backendRef": {"group": "gateway.envoyproxy.io", "kind": "Backend", "name": ep.name}},
    }


def backend_security_policy(endpoints: list[ServerEndpoint], namespace: str) -> dict | None:
    """The gateway presents the server key (Authorization: Bearer) to servers that require one;
    Ollama has no auth, so NetworkPolicy is its only guard."""
    keyed = [ep for ep in endpoints if ep.requires_api_key]
    if not keyed:
        return None
    return {
        "apiVersion": AIGW_API, "kind": "BackendSecurityPolicy", "metadata": meta("slmkit-server-key", namespace, LABELS),
        "spec": {
            "type": "APIKey",
            "apiKey": {"secretRef": {"name": names.BACKEND_KEY_SECRET}},
            "targetRefs": [{"group": "aigateway.envoyproxy.io", "kind": "AIServiceBackend", "name": ep.name}
                           for ep in keyed],
        },
    }


def ai_gateway_route(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> dict:
    """One rule per served model name, to exactly its server. Token costs feed the rate limit and
    the per-model token metrics."""
    gw = cfg.gateway
    table = routing_table(endpoints)
    rules = [{
        "name": _rule_name(model),
        "matches": [{"headers": [{"type": "Exact", "name": names.MODEL_HEADER, "value": model}]}],
        "backendRefs": [{"name": ep.name}],
        "timeouts": {"request": _seconds(gw.request_timeout_seconds)},
        "streamIdleTimeout": _seconds(gw.stream_idle_timeout_seconds),
    } for model, ep in sorted(table.items())]
    parent = {**_gateway_ref(cfg, API_LISTENER), "namespace": cfg.namespaces.gateway}
    return {
        "apiVersion": AIGW_API, "kind": "AIGatewayRoute", "metadata": meta(names.ROUTE, cfg.namespaces.models, LABELS),
        "spec": {
            "parentRefs": [parent],
            "rules": rules,
            "llmRequestCosts": [
                {"metadataKey": "llm_input_token", "type": "InputToken"},
                {"metadataKey": "llm_output_token", "type": "OutputToken"},
                {"metadataKey": names.TOTAL_TOKENS_KEY, "type": "TotalToken"},
            ],
        },
    }


def _rule_name(model: str) -> str:
    """Rule names must be DNS-label-like; model names may hold ':' and '.'."""
    out = "".join(c if c.isalnum() or c == "-" else "-" for c in model.lower()).strip("-")
    return f"model-{out}"[:63].rstrip("-")


def gateway_objects(cfg: StackConfig, endpoints: list[ServerEndpoint], dns_label=None) -> list[dict]:
    """Everything the gateway declares except Secrets (they carry Pulumi secret values).
    `dns_label`: the Azure DNS label when `cfg.uses_azure_dns_label` (components/traffic/component.py)."""
    if cfg.uses_azure_dns_label and dns_label is None:
        raise ValueError("an AKS gateway without a hostname needs its Azure DNS label (dns_label)")
    public_host = azure_host(cfg, dns_label) if dns_label is not None else None
    objs = [gateway_class(), envoy_proxy(cfg, dns_label), gateway(cfg), issuer(cfg), certificate(cfg, public_host),
            security_policy(cfg), client_traffic_policy(cfg), rate_limit_policy(cfg)]
    objs += [backend(ep) for ep in endpoints]
    objs += [ai_service_backend(ep) for ep in endpoints]
    objs += [backend_security_policy(endpoints, cfg.namespaces.models), ai_gateway_route(cfg, endpoints)]
    return [o for o in objs if o is not None]
