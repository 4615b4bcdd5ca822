"""Stable names other concerns (AKS Key Vault sync, load test, chat UI, docs) refer to.

Kept in one place so a rename cannot leave a dangling reference.
"""

from __future__ import annotations

from components.catalog import upstream

GATEWAY_CLASS = "slmkit"
GATEWAY = "slmkit"  # the one Gateway per stack, in the gateway namespace
ENVOY_PROXY = "slmkit-proxy"  # EnvoyProxy: how Envoy Gateway runs the proxy pods of that Gateway
ROUTE = "slmkit-models"  # the AIGatewayRoute, in the models namespace
# The proxies' Service (EnvoyProxy envoyService.name), in the system namespace where Envoy Gateway
# runs the proxies: the in-cluster address of the gateway (load test, port-forward).
PROXY_SERVICE = "slmkit-gateway"
# The proxies' Deployment (EnvoyProxy envoyDeployment.name; unset, Envoy Gateway generates a hashed
# name): fixed so the gateway's VerticalPodAutoscaler can name its target.
PROXY_DEPLOYMENT = "slmkit-gateway"

# Client API keys: an Opaque Secret in the gateway namespace, one data key per client name
# (the format Envoy Gateway's SecurityPolicy apiKeyAuth reads). On AKS the Key Vault sync writes
# the same Secret name.
CLIENT_KEYS_SECRET = "slmkit-gateway-api-keys"
# The header the gateway sets to the authenticated client's name: rate limits count per value.
CLIENT_ID_HEADER = "x-slmkit-client"
CLIENT_METRIC_ATTRIBUTE = "slmkit.client"  # Prometheus label `slmkit_client` on the gateway's token metrics
# Where clients may put their key: the OpenAI SDKs send `Authorization: Bearer <key>`.
KEY_HEADERS = ("authorization", "x-api-key")

# The key the gateway presents to model servers that require one (vLLM, ONNX server), in the
# format AI Gateway's BackendSecurityPolicy type APIKey reads (data key `apiKey`).
BACKEND_KEY_SECRET = "slmkit-gateway-backend-key"
BACKEND_KEY_FIELD = "apiKey"

TLS_SECRET = "slmkit-gateway-tls"
CERTIFICATE = "slmkit-gateway"
SELF_SIGNED_ISSUER = "slmkit-self-signed"
# Without a public CA, the kit is its own: a CA made by Pulumi (pulumi-tls) signs the gateway's
# certificate (cert-manager CA issuer), and in-cluster clients (the load-test gate) trust it from
# a ConfigMap in their namespace.
CA_SECRET = "slmkit-gateway-ca"  # kubernetes.io/tls Secret in the gateway namespace
CA_BUNDLE = "slmkit-gateway-ca"  # ConfigMap in client namespaces
CA_BUNDLE_KEY = "ca.crt"
LETSENCRYPT_ISSUERS = {
    "letsencrypt": ("slmkit-letsencrypt", "https://acme-v02.api.letsencrypt.org/directory"),
    "letsencrypt-staging": ("slmkit-letsencrypt-staging", "https://acme-staging-v02.api.letsencrypt.org/directory"),
}

# The AI Gateway filter copies the request body's `model` into this header; routes match on it.
MODEL_HEADER = "x-ai-eg-model"
AI_GATEWAY_METADATA_NAMESPACE = "io.envoy.ai_gateway"
TOTAL_TOKENS_KEY = "llm_total_token"

# Helm release names (fixed, so Service names derived from them are stable).
RELEASE_GATEWAY_CRDS = "gateway-crds"  # a helm.v4.Chart (no Helm release): Gateway API + Envoy Gateway CRDs
RELEASE_ENVOY_GATEWAY = "envoy-gateway"
RELEASE_AI_GATEWAY_CRDS = "ai-gateway-crds"
RELEASE_AI_GATEWAY = "ai-gateway"
RELEASE_CERT_MANAGER = "cert-manager"
RELEASE_KEDA = "keda"
AI_GATEWAY_CONTROLLER = upstream.AIGW_CONTROLLER.value  # the chart's controller.fullnameOverride default
AI_GATEWAY_EXTENSION_PORT = upstream.AIGW_EXTENSION_PORT.value
ENVOY_GATEWAY_CONTROLLER_NAME = upstream.ENVOY_GATEWAY_CONTROLLER_NAME.value

# Envoy Gateway maps privileged listener ports into the proxy container (port + 10000).
HTTPS_PORT, HTTP_PORT = 443, 80


def proxy_service_host(system_namespace: str) -> str:
    return f"{PROXY_SERVICE}.{system_namespace}.svc.cluster.local"


def proxy_container_port(listener_port: int) -> int:
    below, shift = upstream.ENVOY_PRIVILEGED_PORT_SHIFT.value
    return listener_port + shift if listener_port < below else listener_port


def proxy_pod_labels(gateway_namespace: str) -> dict[str, str]:
    """Labels Envoy Gateway puts on the proxy pods of the kit's Gateway."""
    owner_name, owner_namespace = upstream.ENVOY_OWNING_GATEWAY_LABELS.value
    return {**upstream.ENVOY_PROXY_LABELS.value, owner_name: GATEWAY, owner_namespace: gateway_namespace}
