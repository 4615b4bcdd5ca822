"""NetworkPolicies: deny everything in every namespace the kit owns, then allow what each part needs.

NetworkPolicy cannot name a DNS host, so "egress to the model hubs" is TCP 443 to public
addresses (private ranges and the cloud metadata address excluded), and only for the pods of
servers that download a model (all three engines do: vLLM and the ONNX preparation Job from
Hugging Face, Ollama from its registry). The API server's address is not known in advance either:
controllers get TCP 443/6443 egress, and webhook / aggregated-API ports accept ingress from any
address (the API server calls them).

Nodes, the API server and in-cluster LoadBalancer addresses are never reached through `ipBlock`:
on AKS with Azure CNI powered by Cilium an ipBlock cannot select node or pod IPs (AKS docs), and
Cilium translates a LoadBalancer address to the backend pod before policy. So a rule that must reach
kubelets, host-network exporters or the API server names ports and no peer (Cilium turns a rule
without `to` into its wildcard selector, which selects every identity, host and remote-node included:
cilium pkg/k8s/network_policy.go ParseNetworkPolicy), and a rule that reaches the gateway through its
public address also names the proxy pods. `ipBlock` stays only for public addresses (model hubs).
"""

from __future__ import annotations

from components import chat_ui
from components.catalog import upstream
from components.config import StackConfig
from components.endpoints import ServerEndpoint
from components.k8s.objects import meta
from components.platform.namespaces import kit_namespaces

from . import names

API = "networking.k8s.io/v1"
LABELS = {"app.kubernetes.io/component": "network-policy"}
ANYWHERE = "0.0.0.0/0"
PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16"]
API_SERVER_PORTS = (443, 6443)
# Ports the API server calls in the operators' namespaces: cert-manager and prometheus-operator
# webhooks (10250), KEDA and AI Gateway admission webhooks (9443), KEDA's metrics API server (6443).
WEBHOOK_PORTS = tuple(sorted({upstream.KEDA_WEBHOOK_PORT.value, upstream.AIGW_WEBHOOK_PORT.value,
                              upstream.CERT_MANAGER_WEBHOOK_PORT.value, upstream.PROMETHEUS_OPERATOR_WEBHOOK_PORT.value,
                              upstream.KEDA_METRICS_API_PORT.value}))
# What Prometheus scrapes on the nodes: kubelets (cAdvisor) and node exporter (host network).
NODE_SCRAPE_PORTS = (upstream.KUBELET_PORT.value, upstream.NODE_EXPORTER_PORT.value)
PROMETHEUS_POD = upstream.PROMETHEUS_POD_LABELS.value
KUBE_DNS = upstream.KUBE_DNS_LABELS.value
CERT_MANAGER_CONTROLLER = upstream.CERT_MANAGER_CONTROLLER_LABELS.value
ACME_SOLVER = upstream.ACME_SOLVER_LABELS.value
ACME_SOLVER_PORT = upstream.ACME_SOLVER_PORT.value
GRAFANA_POD = {"app.kubernetes.io/name": "grafana"}  # the grafana subchart's selector labels
ALERTMANAGER_POD = {"app.kubernetes.io/name": "alertmanager"}
NOT_LOKI = {"matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "NotIn", "values": ["loki"]}]}


def _ns(name: str) -> dict:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def _pods_in(namespace: str, labels: dict[str, str]) -> dict:
    return {**_ns(namespace), "podSelector": {"matchLabels": dict(labels)}}


def _tcp(*ports: int) -> list[dict]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _policy(name: str, namespace: str, pod_labels: dict[str, str] | None, ingress: list[dict] | None = None,
            egress: list[dict] | None = None) -> dict:
    types, spec = [], {"podSelector": {"matchLabels": dict(pod_labels)} if pod_labels else {}}
    if ingress is not None:
        types.append("Ingress")
        spec["ingress"] = ingress
    if egress is not None:
        types.append("Egress")
        spec["egress"] = egress
    spec["policyTypes"] = types
    return {"apiVersion": API, "kind": "NetworkPolicy", "metadata": meta(name, namespace, LABELS), "spec": spec}


def default_deny(namespace: str) -> dict:
    return _policy("default-deny", namespace, None, ingress=[], egress=[])


def allow_dns(namespace: str) -> dict:
    to = [{**_ns("kube-system"), "podSelector": {"matchLabels": KUBE_DNS}}]
    ports = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    return _policy("allow-dns", namespace, None, egress=[{"to": to, "ports": ports}])


def _same_namespace(namespace: str) -> dict:
    """Operators and monitoring talk among their own pods (controller <-> proxies, Grafana -> Prometheus)."""
    return _policy("allow-same-namespace", namespace, None,
                   ingress=[{"from": [{"podSelector": {}}]}], egress=[{"to": [{"podSelector": {}}]}])


def _any_destination(*ports: int) -> dict:
    """Egress to these ports wherever they are: nodes, the API server, pods (no ipBlock, see above)."""
    return {"ports": _tcp(*ports)}


def _public_443() -> dict:
    return {"to": [{"ipBlock": {"cidr": ANYWHERE, "except": PRIVATE_RANGES}}], "ports": _tcp(443)}


# --- models namespace ------------------------------------------------------------------------------

def server_ingress(cfg: StackConfig, ep: ServerEndpoint) -> dict:
    """Who may call a server: the gateway's proxies (or, without a gateway, the load test),
    and Prometheus on the metrics port."""
    sources = []
    if cfg.gateway.enabled:
        sources.append(_pods_in(cfg.namespaces.system, names.proxy_pod_labels(cfg.namespaces.gateway)))
    else:
        sources.append(_ns(cfg.namespaces.loadtest))
    rules = [{"from": sources, "ports": _tcp(ep.port)}]
    if ep.metrics_path and cfg.monitoring.enabled:
        rules.append({"from": [_pods_in(cfg.namespaces.monitoring, PROMETHEUS_POD)], "ports": _tcp(ep.port)})
    return _policy(f"{ep.name}-ingress", ep.namespace, ep.selector, ingress=rules)


def server_download_egress(ep: ServerEndpoint) -> dict:
    """The server's pods and its preparation Jobs (same instance label) fetch the model over HTTPS."""
    return _policy(f"{ep.name}-model-download", ep.namespace, {"app.kubernetes.io/instance": ep.name},
                   egress=[_public_443()])


# --- gateway proxies and operators (system namespace) ----------------------------------------------

def system_policies(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[dict]:
    ns = cfg.namespaces.system
    out = [
        _same_namespace(ns),
        # Controllers (Envoy Gateway, AI Gateway, cert-manager, KEDA) watch the API server;
        # cert-manager also talks to Let's Encrypt over 443.
        _policy("allow-api-server-egress", ns, None, egress=[_any_destination(*API_SERVER_PORTS)]),
        _policy("allow-webhooks", ns, None, ingress=[{"ports": _tcp(*WEBHOOK_PORTS)}]),
    ]
    if cfg.monitoring.enabled:
        # Prometheus scrapes the operators and the proxies; KEDA asks Prometheus for the triggers.
        out.append(_policy("allow-prometheus", ns, None,
                           ingress=[{"from": [_pods_in(cfg.namespaces.monitoring, PROMETHEUS_POD)]}],
                           egress=[{"to": [_pods_in(cfg.namespaces.monitoring, PROMETHEUS_POD)],
                                    "ports": _tcp(9090)}]))
    if cfg.gateway.enabled:
        proxies = names.proxy_pod_labels(cfg.namespaces.gateway)
        listener_ports = [names.proxy_container_port(names.HTTPS_PORT)]
        if cfg.gateway.tls.issuer.startswith("letsencrypt"):
            listener_ports.append(names.proxy_container_port(names.HTTP_PORT))
        egress = [{"to": [_pods_in(ep.namespace, ep.selector)], "ports": _tcp(ep.port)} for ep in endpoints]
        if cfg.chat_ui.enabled:
            egress.append(chat_ui.proxy_egress_rule(cfg))
        if cfg.gateway.tls.issuer.startswith("letsencrypt"):
            # cert-manager's HTTP-01 solver pods run in the gateway namespace.
            egress.append({"to": [_ns(cfg.namespaces.gateway)], "ports": _tcp(ACME_SOLVER_PORT)})
            # cert-manager checks its HTTP-01 answer at the public address before telling Let's Encrypt.
            # Inside the cluster that address is the gateway's own LoadBalancer, which the dataplane
            # (Cilium, kube-proxy) turns into a proxy pod on its container port before policy applies;
            # port 80 to any destination covers a load balancer or CDN outside the cluster.
            out.append(_policy("cert-manager-http01-self-check", ns, CERT_MANAGER_CONTROLLER, egress=[
                {"to": [_pods_in(ns, proxies)], "ports": _tcp(names.proxy_container_port(names.HTTP_PORT))},
                _any_destination(names.HTTP_PORT)]))
        # The public endpoint: clients come from anywhere (a LoadBalancer keeps their address).
        out.append(_policy("gateway-proxy", ns, proxies, ingress=[{"ports": _tcp(*listener_ports)}], egress=egress))
    return out


def gateway_namespace_policies(cfg: StackConfig) -> list[dict]:
    """The gateway namespace holds configuration; its only pods are cert-manager's HTTP-01 solvers."""
    if not cfg.gateway.tls.issuer.startswith("letsencrypt"):
        return []
    proxies = _pods_in(cfg.namespaces.system, names.proxy_pod_labels(cfg.namespaces.gateway))
    return [_policy("acme-solver", cfg.namespaces.gateway, ACME_SOLVER,
                    ingress=[{"from": [proxies], "ports": _tcp(ACME_SOLVER_PORT)}])]


# --- monitoring and load test ---------------------------------------------------------------------

def monitoring_policies(cfg: StackConfig) -> list[dict]:
    """Prometheus scrapes pods in every namespace and kubelets / node exporters on the nodes (node
    addresses: ports without a peer, see the module docstring); the operator and kube-state-metrics
    read the API server; KEDA queries Prometheus."""
    ns = cfg.namespaces.monitoring
    scrape = [{"to": [{"namespaceSelector": {}}]}, _any_destination(*API_SERVER_PORTS, *NODE_SCRAPE_PORTS)]
    from components.monitoring import logs  # imported here: monitoring imports the traffic names

    if logs.enabled(cfg):
        base = _monitoring_base(cfg, scrape)
        for policy in base[:2]:  # scraping, the API server and webhooks are not Loki's business
            policy["spec"]["podSelector"] = NOT_LOKI
        return [*log_policies(cfg), *base]
    return [_same_namespace(ns), *_monitoring_base(cfg, scrape)]


def log_policies(cfg: StackConfig) -> list[dict]:
    """Loki talks only to the collector (push), Grafana (queries), Prometheus (its metrics), itself
    (memberlist, gRPC) and Alertmanager (the ruler's alerts); everything else in the namespace keeps
    the same-namespace allowance. On AKS it also reaches its blob storage over HTTPS."""
    from components.monitoring import logs

    ns = cfg.namespaces.monitoring
    not_loki = NOT_LOKI
    rest = {"apiVersion": API, "kind": "NetworkPolicy", "metadata": meta("allow-same-namespace", ns, LABELS),
            "spec": {"podSelector": not_loki, "policyTypes": ["Ingress", "Egress"],
                     "ingress": [{"from": [{"podSelector": not_loki}]}], "egress": [{"to": [{"podSelector": {}}]}]}}
    readers = [{"podSelector": {"matchLabels": dict(logs.ALLOY_POD)}},
               {"podSelector": {"matchLabels": GRAFANA_POD}}, {"podSelector": {"matchLabels": PROMETHEUS_POD}}]
    loki_pods = [{"podSelector": {"matchLabels": dict(logs.LOKI_POD)}}]
    egress = [{"to": loki_pods, "ports": _tcp(logs.LOKI_PORT, 7946, 9095)},
              {"to": [{"podSelector": {"matchLabels": ALERTMANAGER_POD}}], "ports": _tcp(9093)}]
    if cfg.is_aks:
        egress.append({"to": [{"ipBlock": {"cidr": ANYWHERE}}], "ports": _tcp(443)})  # Azure Blob Storage
    loki = _policy("loki", ns, logs.LOKI_POD,
                   ingress=[{"from": readers, "ports": _tcp(logs.LOKI_PORT)},
                            {"from": loki_pods, "ports": _tcp(logs.LOKI_PORT, 7946, 9095)}],
                   egress=egress)
    alertmanager = _policy("alertmanager-from-loki", ns, ALERTMANAGER_POD,
                           ingress=[{"from": loki_pods, "ports": _tcp(9093)}])
    return [rest, loki, alertmanager]


def _monitoring_base(cfg: StackConfig, scrape: list[dict]) -> list[dict]:
    ns = cfg.namespaces.monitoring
    return [
        _policy("allow-scrape-and-api", ns, None, egress=scrape),
        _policy("allow-webhooks", ns, None, ingress=[{"ports": _tcp(*WEBHOOK_PORTS)}]),
        _policy("allow-keda-queries", ns, PROMETHEUS_POD,
                ingress=[{"from": [_ns(cfg.namespaces.system)], "ports": _tcp(9090)}]),
    ]


def loadtest_policies(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[dict]:
    """The load test calls the gateway (or the servers directly when there is none); Locust's
    master and workers talk among themselves; the gate pods write their result through the API server."""
    ns = cfg.namespaces.loadtest
    if cfg.gateway.enabled:
        proxies = _pods_in(cfg.namespaces.system, names.proxy_pod_labels(cfg.namespaces.gateway))
        targets = [{"to": [proxies], "ports": _tcp(names.proxy_container_port(names.HTTPS_PORT))}]
    else:
        targets = [{"to": [_pods_in(ep.namespace, ep.selector)], "ports": _tcp(ep.port)} for ep in endpoints]
    out = [_same_namespace(ns), _policy("allow-load-targets", ns, None, egress=targets)]
    if cfg.loadtest.gate and endpoints:
        from components.loadtest import common  # imported here: the load test imports the traffic names

        # The gate pods publish their result to a ConfigMap through the API server (ports only: see above).
        out.append(_policy("gate-api-server-egress", ns, common.labels("gate"), egress=[_any_destination(*API_SERVER_PORTS)]))
    if cfg.monitoring.enabled:
        out.append(_policy("allow-prometheus", ns, None,
                           ingress=[{"from": [_pods_in(cfg.namespaces.monitoring, PROMETHEUS_POD)]}]))
    return out


def network_policies(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[dict]:
    owned = kit_namespaces(cfg)
    out = []
    for namespace in owned.values():
        out += [default_deny(namespace), allow_dns(namespace)]
    for ep in endpoints:
        out += [server_ingress(cfg, ep), server_download_egress(ep)]
    out += system_policies(cfg, endpoints)
    out += loadtest_policies(cfg, endpoints)
    if "gateway" in owned:
        out += gateway_namespace_policies(cfg)
    if "monitoring" in owned:
        out += monitoring_policies(cfg)
    return out
