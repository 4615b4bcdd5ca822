"""`ChatUi`: Open WebUI (pinned upstream chart) in front of the kit's gateway.

Layout (namespace `chatUi.namespace`, Pod Security `restricted`):
  Secret `slmkit-chat-ui`   WEBUI_SECRET_KEY (generated), the UI's gateway key, the OIDC client secret
  helm Release open-webui   its own SQLite on a PVC, hardened pods, signup off, offline mode
  NetworkPolicies           deny all; DNS; in from the gateway's proxies; out to the proxies only
                            (and to the OIDC provider over HTTPS when configured)
  HTTPRoute + Certificate   with `chatUi.hostname`: the chat host on its own Gateway listener
The Gateway itself belongs to components/traffic: `chat_listeners(cfg)` are the listeners it adds
for this host, and `proxy_egress_rule(cfg)` the rule its proxies need to reach the UI.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.catalog.charts import CHARTS
from components.config import NAMESPACE, StackConfig
from components.context import StackContext
from components.k8s import objects, security
from components.k8s.declare import declare
from components.platform.secrets import secret_object
from components.traffic import names as gateway_names
from components.traffic.access import gateway_of, issuer_name, public_url

RELEASE = "open-webui"  # also the chart's Service, StatefulSet and PVC name
PORT, SERVICE_PORT = 8080, 80
SECRET = "slmkit-chat-ui"
SECRET_KEY_FIELD, API_KEY_FIELD, OIDC_FIELD = "webui-secret-key", "openai-api-key", "oidc-client-secret"
LISTENER = "chat-ui"
TLS_SECRET = "slmkit-chat-ui-tls"
POD = {"app.kubernetes.io/name": RELEASE}  # the chart's selector label
LABELS = {"app.kubernetes.io/component": "chat-ui"}
ANYWHERE = "0.0.0.0/0"
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]


# --- the release's values ----------------------------------------------------------------------------

def _secret_env(name: str, field: str) -> dict:
    return objects.secret_env(name, SECRET, field)


def release_values(cfg: StackConfig) -> dict:
    ui = cfg.chat_ui
    env = [
        _secret_env("WEBUI_SECRET_KEY", SECRET_KEY_FIELD),  # signs sessions: generated, never the image default
        _secret_env("OPENAI_API_KEY", API_KEY_FIELD),
        # The first account becomes the admin; after it nobody signs up (the admin adds users).
        {"name": "ENABLE_SIGNUP", "value": "False"},
        {"name": "DEFAULT_USER_ROLE", "value": "pending"},
        # No downloads (embedding models, version checks): the NetworkPolicy allows the gateway only.
        {"name": "OFFLINE_MODE", "value": "True"},
        {"name": "HF_HUB_OFFLINE", "value": "1"},
        {"name": "ENABLE_COMMUNITY_SHARING", "value": "False"},
        {"name": "HOME", "value": "/tmp"},
    ]
    if ui.hostname:
        env.append({"name": "WEBUI_URL", "value": f"https://{ui.hostname}"})
    sso: dict = {"enabled": False}
    if ui.oidc is not None:
        env.append({"name": "ENABLE_LOGIN_FORM", "value": "False"})  # the provider is the only way in
        sso = {"enabled": True, "enableSignup": True, "oidc": {
            "enabled": True, "clientId": ui.oidc.client_id, "providerUrl": ui.oidc.provider_url,
            "providerName": ui.oidc.provider_name, "scopes": ui.oidc.scopes,
            "clientExistingSecret": SECRET, "clientExistingSecretKey": OIDC_FIELD}}
    persistence = {"enabled": True, "provider": "local", "size": ui.storage_size, "accessModes": ["ReadWriteOnce"]}
    if ui.storage_class:
        persistence["storageClass"] = ui.storage_class
    return {
        "replicaCount": 1,  # SQLite on a ReadWriteOnce disk: one writer
        "ollama": {"enabled": False}, "pipelines": {"enabled": False}, "tika": {"enabled": False},
        "websocket": {"enabled": False, "redis": {"enabled": False}},
        "enableOpenaiApi": True,
        "openaiBaseApiUrl": public_url(cfg),
        "openaiApiKey": "",  # the key comes from the Secret (extraEnvVars), never from values
        "extraEnvVars": env,
        "sso": sso,
        "persistence": persistence,
        "service": {"type": "ClusterIP", "port": SERVICE_PORT, "containerPort": PORT},
        "serviceAccount": {"enable": True, "create": True, "name": RELEASE, "automountServiceAccountToken": False},
        "podSecurityContext": security.pod_security_context(),
        "containerSecurityContext": security.container_security_context(),
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
        "volumeMounts": {"container": [{"name": "tmp", "mountPath": "/tmp"}]},
        "startupProbe": objects.http_probe("/health", "http", 5, 60),
        "livenessProbe": objects.http_probe("/health", "http", 15, 4),
        "readinessProbe": objects.http_probe("/health/db", "http", 10, 3),
        "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
        "copyAppData": {"resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                      "limits": {"cpu": "500m", "memory": "256Mi"}}},
        # The kit's own HTTPRoute, below (chart 10.2.1 has no route template of its own).
        "ingress": {"enabled": False},
    }


# --- isolation --------------------------------------------------------------------------------------

def _proxies(cfg: StackConfig) -> dict:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": cfg.namespaces.system}},
            "podSelector": {"matchLabels": gateway_names.proxy_pod_labels(cfg.namespaces.gateway)}}


def _policy(name: str, ns: str, pods: dict | None, ingress: list | None = None, egress: list | None = None) -> dict:
    spec: dict = {"podSelector": {"matchLabels": pods} if pods else {}, "policyTypes": []}
    if ingress is not None:
        spec["policyTypes"].append("Ingress")
        spec["ingress"] = ingress
    if egress is not None:
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": objects.meta(name, ns, LABELS),
            "spec": spec}


def network_policies(cfg: StackConfig) -> list[dict]:
    ns = cfg.chat_ui.namespace
    https = gateway_names.proxy_container_port(gateway_names.HTTPS_PORT)
    egress = [{"to": [_proxies(cfg)], "ports": [{"protocol": "TCP", "port": https}]}]
    if cfg.chat_ui.oidc is not None:
        # The provider's token and key endpoints: a DNS name, so public HTTPS addresses.
        egress.append({"to": [{"ipBlock": {"cidr": ANYWHERE, "except": PRIVATE_RANGES}}],
                       "ports": [{"protocol": "TCP", "port": 443}]})
    dns = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                   "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
           "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}
    return [
        _policy("default-deny", ns, None, ingress=[], egress=[]),
        _policy("allow-dns", ns, None, egress=[dns]),
        _policy("chat-ui", ns, POD, ingress=[{"from": [_proxies(cfg)], "ports": [{"protocol": "TCP", "port": PORT}]}],
                egress=egress),
    ]


def proxy_egress_rule(cfg: StackConfig) -> dict:
    """What the gateway proxies' egress policy (components/traffic/network.py) must allow."""
    return {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": cfg.chat_ui.namespace}},
                    "podSelector": {"matchLabels": POD}}],
            "ports": [{"protocol": "TCP", "port": PORT}]}


# --- the route through the gateway ------------------------------------------------------------------

def chat_listeners(cfg: StackConfig) -> list[dict]:
    """The Gateway listeners for the chat host (added by components/traffic/gateway.py)."""
    host = cfg.chat_ui.hostname
    if not (cfg.chat_ui.enabled and host):
        return []
    return [{
        "name": LISTENER, "protocol": "HTTPS", "port": gateway_names.HTTPS_PORT, "hostname": host,
        "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "group": "", "name": TLS_SECRET}]},
        "allowedRoutes": {"namespaces": {"from": "Selector", "selector": {
            "matchLabels": {"kubernetes.io/metadata.name": cfg.chat_ui.namespace}}}},
    }]


def http_route(cfg: StackConfig) -> dict:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": objects.meta(RELEASE, cfg.chat_ui.namespace, LABELS),
        "spec": {
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway_names.GATEWAY,
                            "namespace": cfg.namespaces.gateway, "sectionName": LISTENER}],
            "hostnames": [cfg.chat_ui.hostname],
            "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                       "backendRefs": [{"group": "", "kind": "Service", "name": RELEASE, "port": SERVICE_PORT}]}],
        },
    }


def certificate(cfg: StackConfig, issuer: str) -> dict:
    """The chat host's certificate, from the gateway's issuer, next to the Gateway that serves it."""
    return {
        "apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": objects.meta(LISTENER, cfg.namespaces.gateway, LABELS),
        "spec": {"secretName": TLS_SECRET, "dnsNames": [cfg.chat_ui.hostname], "duration": "2160h",
                 "renewBefore": "360h", "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
                 "issuerRef": {"group": "cert-manager.io", "kind": "Issuer", "name": issuer}},
    }


def chat_ui_objects(cfg: StackConfig, issuer: str) -> list[dict]:
    """Everything but the Secret and the release: namespace, policies, and the route when exposed."""
    ui = cfg.chat_ui
    if not ui.enabled:
        return []
    out = [objects.namespace(ui.namespace), *network_policies(cfg)]
    if ui.hostname:
        out += [certificate(cfg, issuer), http_route(cfg)]
    return out


def secret(cfg: StackConfig, values: dict[str, pulumi.Input[str]]) -> dict:
    return secret_object(SECRET, cfg.chat_ui.namespace, values)


# --- the component ----------------------------------------------------------------------------------

class ChatUi(pulumi.ComponentResource):
    def __init__(self, ctx: StackContext, after: list[pulumi.Resource] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("slmkit:chat:ChatUi", "chat-ui", None, opts)
        cfg = ctx.cfg
        ns = cfg.chat_ui.namespace
        key = gateway_of(ctx, "the chat UI").client_key()
        webui_key = random.RandomPassword("chat-ui-secret-key", length=64, special=False,
                                          opts=pulumi.ResourceOptions(parent=self)).result
        values: dict[str, pulumi.Input[str]] = {SECRET_KEY_FIELD: pulumi.Output.secret(webui_key), API_KEY_FIELD: key}
        if cfg.chat_ui.oidc is not None:
            client_secret = pulumi.Config(NAMESPACE).get_secret("chatUiOidcClientSecret")
            if client_secret is None:
                raise ValueError(f"{NAMESPACE}:chatUi.oidc needs the client secret: "
                                 f"`pulumi config set --secret {NAMESPACE}:chatUiOidcClientSecret ...`")
            values[OIDC_FIELD] = client_secret

        namespace_obj, *rest = chat_ui_objects(cfg, issuer_name(cfg))
        namespace = declare(namespace_obj, ctx.opts(parent=self))
        for obj in rest:  # policies first in the list: nothing runs before its allow-list exists
            declare(obj, ctx.opts(parent=self, namespace=obj["metadata"]["namespace"],
                                  depends_on=[namespace, *(after or [])]))
        stored = declare(secret(cfg, values), ctx.opts(parent=self, depends_on=[namespace]))
        chart = CHARTS["open-webui"]
        k8s.helm.v3.Release(
            RELEASE, name=RELEASE, namespace=ns, chart=chart.name, version=chart.version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo), values=release_values(cfg),
            create_namespace=False, atomic=True, cleanup_on_fail=True, timeout=900,
            opts=ctx.opts(parent=self, depends_on=[namespace, stored, *(after or [])]))
        url = f"https://{cfg.chat_ui.hostname}" if cfg.chat_ui.hostname else None
        ctx.outputs["chatUi"] = {"url": url, "portForward": f"kubectl -n {ns} port-forward svc/{RELEASE} 8080:{SERVICE_PORT}"}
        self.register_outputs({"url": url})
