"""What Prometheus scrapes: a PodMonitor per model server with /metrics, the Envoy AI Gateway's
token metrics, and DCGM exporter's GPU metrics. Pure builders: config in, manifest dicts out.

Every target gets the labels the rules and dashboards group by:
  server         the model server's name (pod label app.kubernetes.io/instance)
  slmkit_engine  vllm | onnx (vLLM already uses a label called `engine`)
"""

from __future__ import annotations

from components.catalog import metrics as catalog
from components.catalog import upstream
from components.config import StackConfig
from components.endpoints import ServerEndpoint
from components.k8s.objects import meta
from components.traffic.names import proxy_pod_labels

API = "monitoring.coreos.com/v1"
# The operator selects monitors and rules carrying this label (kube-prometheus-stack values).
SELECT_LABEL = {"slmkit.io/monitoring": "true"}
GATEWAY_MONITOR = "slmkit-ai-gateway"
DCGM_MONITOR = "slmkit-dcgm-exporter"
DCGM_RELEASE = "slmkit-dcgm-exporter"  # monitoring's own exporter (source dcgm-exporter), monitoring namespace
# The GPU Operator's exporter Service; on AKS the platform gives the AKS-driver path the same shape.
GPU_OPERATOR_DCGM_LABELS = upstream.GPU_OPERATOR_DCGM_SERVICE.value["labels"]
# Service port names: the GPU Operator's nvidia-dcgm-exporter Service and the dcgm-exporter chart's.
DCGM_PORT_NAMES = {"gpu-operator": upstream.GPU_OPERATOR_DCGM_SERVICE.value["port_name"],
                   "dcgm-exporter": upstream.DCGM_EXPORTER_PORT_NAME.value}


def _labels(extra: dict[str, str] | None = None) -> dict[str, str]:
    return {**SELECT_LABEL, "app.kubernetes.io/component": "monitoring", **(extra or {})}


def monitor_name(ep: ServerEndpoint) -> str:
    return f"{ep.name}-metrics"


def server_pod_monitor(ep: ServerEndpoint, monitoring_ns: str, interval: str) -> dict:
    """Scrape every pod of one server directly: all replicas, ready or not (a pod stuck loading
    still shows up as a target)."""
    if ep.metrics_path is None:
        raise ValueError(f"server {ep.name} ({ep.engine}) has no metrics endpoint; its tokens are counted at the gateway")
    relabel = [
        {"sourceLabels": ["__meta_kubernetes_pod_label_app_kubernetes_io_instance"], "targetLabel": "server"},
        {"targetLabel": "slmkit_engine", "replacement": ep.engine},
    ]
    return {
        "apiVersion": API, "kind": "PodMonitor",
        "metadata": meta(monitor_name(ep), monitoring_ns, _labels({"app.kubernetes.io/instance": ep.name})),
        "spec": {
            "selector": {"matchLabels": dict(ep.selector)},
            "namespaceSelector": {"matchNames": [ep.namespace]},
            "podMetricsEndpoints": [{
                "portNumber": ep.port, "path": ep.metrics_path, "interval": interval, "relabelings": relabel,
            }],
        },
    }


def gateway_pod_monitor(cfg: StackConfig, interval: str) -> dict:
    """The ext_proc sidecar in each Envoy proxy pod of the kit's gateway serves token usage per model.
    Envoy Gateway runs proxy pods in its controller namespace (the kit's system namespace) by
    default, or next to the Gateway in namespace mode: watch both."""
    gw = catalog.GATEWAY
    namespaces = sorted({cfg.namespaces.system, cfg.namespaces.gateway})
    return {
        "apiVersion": API, "kind": "PodMonitor",
        "metadata": meta(GATEWAY_MONITOR, cfg.namespaces.monitoring, _labels()),
        "spec": {
            "selector": {"matchLabels": proxy_pod_labels(cfg.namespaces.gateway)},
            "namespaceSelector": {"matchNames": namespaces},
            "podMetricsEndpoints": [{"port": gw.container_port_name, "path": gw.path, "interval": interval}],
        },
    }


def gpu_metrics_source(cfg: StackConfig) -> str:
    """gpu-operator | dcgm-exporter | none, resolving `auto`.

    On AKS the platform always provides the exporter behind the GPU Operator's Service shape
    (components/platform/aks.py: the GPU Operator's own, or the dcgm-exporter chart with the AKS
    driver), so `auto` means gpu-operator wherever there are GPU pools."""
    from components.config.checks import gpu_of_pool

    source = cfg.monitoring.gpu_metrics.source
    if source != "auto":
        return source
    return "gpu-operator" if any(gpu_of_pool(p) for p in cfg.node_pools) else "none"


def dcgm_service_monitor(cfg: StackConfig, interval: str) -> dict | None:
    """honorLabels keeps the exporter's own namespace/pod labels: they name the GPU's workload pod,
    not the exporter pod, which is what the GPU dashboard groups by. The exporter pod's own target
    labels are dropped so they cannot stand in for a missing workload."""
    source = gpu_metrics_source(cfg)
    if source == "none":
        return None
    if source == "gpu-operator":
        selector, namespace = GPU_OPERATOR_DCGM_LABELS, cfg.monitoring.gpu_metrics.operator_namespace
    else:
        selector = {"app.kubernetes.io/name": "dcgm-exporter", "app.kubernetes.io/instance": DCGM_RELEASE}
        namespace = cfg.namespaces.monitoring
    return {
        "apiVersion": API, "kind": "ServiceMonitor",
        "metadata": meta(DCGM_MONITOR, cfg.namespaces.monitoring, _labels()),
        "spec": {
            "selector": {"matchLabels": dict(selector)},
            "namespaceSelector": {"matchNames": [namespace]},
            "endpoints": [{"port": DCGM_PORT_NAMES[source], "path": "/metrics", "interval": interval,
                           "honorLabels": True,
                           # Without this an idle GPU (no workload labels from DCGM) would be attributed
                           # to the exporter's own pod and namespace.
                           "relabelings": [{"action": "labeldrop", "regex": "pod|namespace|container"}]}],
        },
    }


def monitors(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[dict]:
    interval = cfg.monitoring.scrape_interval
    ns = cfg.namespaces.monitoring
    out = [server_pod_monitor(ep, ns, interval) for ep in endpoints if ep.metrics_path]
    if cfg.gateway.enabled:
        out.append(gateway_pod_monitor(cfg, interval))
    dcgm = dcgm_service_monitor(cfg, interval)
    if dcgm is not None:
        out.append(dcgm)
    return out
