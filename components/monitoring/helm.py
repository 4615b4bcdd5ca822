"""Values for the Helm releases monitoring installs: kube-prometheus-stack and, on the AKS-driver
GPU path, NVIDIA's dcgm-exporter. Pure: config in, values dict out (tests read them; releases are
not rendered offline)."""

from __future__ import annotations

from components.catalog.charts import CHARTS, Chart
from components.config import StackConfig
from components.config.checks import gpu_of_pool
from components.platform.pools import tolerations

from .dashboards import FOLDER_ANNOTATION, SIDECAR_LABEL
from .scrape import DCGM_RELEASE

STACK_RELEASE = "kube-prometheus-stack"
FULLNAME = "slmkit"  # Services: slmkit-prometheus, slmkit-alertmanager; Grafana: slmkit-grafana
GRAFANA_SERVICE = "slmkit-grafana"
GRAFANA_ADMIN_SECRET = "slmkit-grafana-admin"
GRAFANA_ADMIN_USER_KEY = "admin-user"
GRAFANA_ADMIN_PASSWORD_KEY = "admin-password"


def stack_chart() -> Chart:
    return CHARTS["kube-prometheus-stack"]


def dcgm_chart() -> Chart:
    return CHARTS["dcgm-exporter"]


def _select_everything() -> dict:
    """Prometheus picks up ServiceMonitors, PodMonitors and PrometheusRules in every namespace,
    whatever their labels: the kit's, other concerns' (gateway, KEDA) and the chart's own."""
    out: dict = {}
    for kind in ("serviceMonitor", "podMonitor", "rule", "probe", "scrapeConfig"):
        out[f"{kind}SelectorNilUsesHelmValues"] = False
        out[f"{kind}Selector"] = {}
        out[f"{kind}NamespaceSelector"] = {}
    return out


def _storage(cfg: StackConfig) -> dict:
    m = cfg.monitoring
    spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": m.storage_size}}}
    storage_class = m.storage_class or getattr(cfg.cluster, "storage_class", None)
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"volumeClaimTemplate": {"spec": spec}}


def _resources(cpu: str, memory: str) -> dict:
    # Memory limit = request: an OOM kill is clearer than a node under memory pressure.
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}


def _hardened_pod() -> dict:
    return {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 2000, "fsGroup": 2000,
            "seccompProfile": {"type": "RuntimeDefault"}}


def _hardened_container() -> dict:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def scrapes_control_plane(cfg: StackConfig) -> bool:
    """kube-controller-manager, kube-scheduler and etcd: the chart renders Services, ServiceMonitors
    and `absent(up{job=...})` alerts for them; a managed control plane has no such pods, so the
    alerts would fire for ever."""
    plane = cfg.monitoring.control_plane
    return not cfg.is_aks if plane == "auto" else plane == "self-managed"


def scrapes_kube_proxy(cfg: StackConfig) -> bool:
    opt = cfg.monitoring.kube_proxy
    return not cfg.is_aks if opt is None else opt


def control_plane_values(cfg: StackConfig) -> dict:
    plane = scrapes_control_plane(cfg)
    return {"kubeControllerManager": {"enabled": plane}, "kubeScheduler": {"enabled": plane},
            "kubeEtcd": {"enabled": plane}, "kubeProxy": {"enabled": scrapes_kube_proxy(cfg)}}


def stack_values(cfg: StackConfig) -> dict:
    m = cfg.monitoring
    ns = cfg.namespaces.monitoring
    values: dict = {
        "fullnameOverride": FULLNAME,
        "crds": {"enabled": True},
        "prometheus": {"prometheusSpec": {
            "replicas": m.prometheus_replicas,
            "retention": m.retention,
            "scrapeInterval": m.scrape_interval,
            "evaluationInterval": m.scrape_interval,
            "resources": _resources(m.prometheus_cpu, m.prometheus_memory),
            "storageSpec": _storage(cfg),
            # Pod-level only: the operator itself gives the Prometheus containers a read-only root
            # filesystem, no privilege escalation and no capabilities.
            "securityContext": _hardened_pod(),
            **_select_everything(),
        }},
        "alertmanager": {"alertmanagerSpec": {
            "replicas": m.alertmanager_replicas,
            "resources": _resources("50m", "128Mi"),
            "securityContext": _hardened_pod(),
        }},
        "prometheusOperator": {
            "resources": _resources("100m", "256Mi"),
            "containerSecurityContext": _hardened_container(),
        },
        "kube-state-metrics": kube_state_metrics_values(cfg),
        # Node exporter reads the host (hostNetwork, hostPID, /proc, /sys): the monitoring namespace
        # needs Pod Security `privileged` for it. It tolerates every NoSchedule taint, so it covers GPU nodes.
        "prometheus-node-exporter": {"resources": _resources("50m", "64Mi")},
        "grafana": grafana_values(cfg, ns),
        **control_plane_values(cfg),
    }
    return values


def vpa_custom_resource_state() -> dict:
    """kube-state-metrics custom-resource metrics for VPA recommendations (kube-state-metrics v2.20.0
    docs/metrics/extend/customresourcestate-metrics.md; the subchart's `customResourceState` and
    `rbac.extraRules` values). One metric per bound and resource; names in catalog.metrics.VPA_RECOMMENDATION."""
    metrics = []
    for bound, path in (("target", "target"), ("lowerbound", "lowerBound"), ("upperbound", "upperBound")):
        for resource, unit in (("cpu", "core"), ("memory", "byte")):
            metrics.append({
                "name": f"verticalpodautoscaler_status_recommendation_containerrecommendations_{bound}",
                "help": f"VPA {bound} recommendation for a container's {resource} request.",
                "commonLabels": {"resource": resource, "unit": unit},
                "each": {"type": "Gauge", "gauge": {"path": ["status", "recommendation", "containerRecommendations"],
                                                    "labelsFromPath": {"container": ["containerName"]},
                                                    "valueFrom": [path, resource]}},
            })
    return {"kind": "CustomResourceStateMetrics", "spec": {"resources": [{
        "groupVersionKind": {"group": "autoscaling.k8s.io", "kind": "VerticalPodAutoscaler", "version": "v1"},
        "labelsFromPath": {"verticalpodautoscaler": ["metadata", "name"], "namespace": ["metadata", "namespace"],
                           "target_kind": ["spec", "targetRef", "kind"], "target_name": ["spec", "targetRef", "name"]},
        "metrics": metrics}]}}


def kube_state_metrics_values(cfg: StackConfig) -> dict:
    from components.config.vertical import vpa_enabled

    values: dict = {"resources": _resources("50m", "256Mi")}
    if vpa_enabled(cfg):
        values["customResourceState"] = {"enabled": True, "config": vpa_custom_resource_state()}
        values["rbac"] = {"extraRules": [{"apiGroups": ["autoscaling.k8s.io"], "resources": ["verticalpodautoscalers"],
                                          "verbs": ["list", "watch"]}]}
    return values


def grafana_values(cfg: StackConfig, ns: str) -> dict:
    from . import logs

    g = cfg.monitoring.grafana
    extra = {"additionalDataSources": [logs.grafana_datasource(cfg)]} if logs.enabled(cfg) else {}
    return {
        **extra,
        "enabled": g.enabled,
        "fullnameOverride": GRAFANA_SERVICE,
        # The admin password comes from a Kubernetes Secret the kit creates from a Pulumi secret;
        # it never appears in the release values.
        "admin": {"existingSecret": GRAFANA_ADMIN_SECRET, "userKey": GRAFANA_ADMIN_USER_KEY,
                  "passwordKey": GRAFANA_ADMIN_PASSWORD_KEY},
        "persistence": {"enabled": g.persistence},
        "resources": _resources("100m", "256Mi"),
        "sidecar": {
            "dashboards": {
                "enabled": True, "label": next(iter(SIDECAR_LABEL)), "labelValue": next(iter(SIDECAR_LABEL.values())),
                "searchNamespace": ns, "folderAnnotation": next(iter(FOLDER_ANNOTATION)),
                "provider": {"foldersFromFilesStructure": True},
            },
            "datasources": {"enabled": True},
        },
        "grafana.ini": {
            "analytics": {"reporting_enabled": False, "check_for_updates": False},
            "users": {"allow_sign_up": False},
            "auth.anonymous": {"enabled": False},
            "security": {"disable_gravatar": True, "cookie_samesite": "strict"},
        },
    }


def dcgm_values(cfg: StackConfig) -> dict:
    """The kit's own DCGM exporter (AKS GPU driver path): one pod per GPU node. It runs as root with
    SYS_ADMIN, as NVIDIA requires for DCGM; it is the one exception to the kit's pod hardening."""
    gpu_pools = [p for p in cfg.node_pools if gpu_of_pool(p)]
    tol: list[dict] = []
    for pool in gpu_pools:
        tol += [t for t in tolerations(pool, cfg.cluster.kind) if t not in tol]
    terms = []
    if cfg.is_aks:
        terms = [{"matchExpressions": [{"key": "kubernetes.azure.com/agentpool", "operator": "In",
                                        "values": sorted(p.name for p in gpu_pools)}]}]
    else:
        terms = [{"matchExpressions": [{"key": k, "operator": "In", "values": [v]} for k, v in sorted(p.node_labels.items())]}
                 for p in gpu_pools if p.node_labels]
    values: dict = {
        "fullnameOverride": DCGM_RELEASE,
        "serviceMonitor": {"enabled": False},  # the kit's own ServiceMonitor (honorLabels) scrapes it
        "service": {"enable": True},
        "resources": _resources("100m", "256Mi"),
        "tolerations": tol,
    }
    if terms:
        values["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}
    return values
