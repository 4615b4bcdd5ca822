"""The monitoring section: kube-prometheus-stack sizing, GPU metrics and alert thresholds.

Threshold defaults are llm-d's production alerts (error rate, P99 TTFT, KV cache, queue, preemptions).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from components.k8s.quantity import parse_quantity

from .base import ConfigModel

Duration = Annotated[str, Field(pattern=r"^[0-9]+(ms|s|m|h)$", description="Prometheus duration, e.g. 15s")]


def _quantity(value: str | None) -> str | None:
    if value is not None:
        parse_quantity(value)
    return value


class AlertThresholds(ConfigModel):
    error_rate_warning: float = Field(default=0.01, gt=0, lt=1)  # share of 5xx responses, for 10m
    error_rate_critical: float = Field(default=0.05, gt=0, lt=1)  # for 2m
    ttft_p99_warning_seconds: float = Field(default=10, gt=0)
    ttft_p99_critical_seconds: float = Field(default=30, gt=0)
    kv_cache_usage: float = Field(default=0.9, gt=0, le=1)  # average over a server's pods, for 10m
    queue_backlog: float = Field(default=50, gt=0)  # requests waiting per server, for 5m
    preemptions_per_second: float = Field(default=1, gt=0)
    gpu_memory_usage: float = Field(default=0.95, gt=0, le=1)  # framebuffer used / total, for 10m
    pod_restarts: int = Field(default=3, ge=1)  # container restarts in 30m


class GpuMetrics(ConfigModel):
    """Where DCGM exporter runs. auto: the GPU Operator's `nvidia-dcgm-exporter` Service wherever
    there are GPU pools (on AKS the platform provides it for both gpuSoftware choices);
    dcgm-exporter: monitoring installs NVIDIA's chart itself (existing clusters without the GPU
    Operator); none: no GPU metrics."""

    source: Literal["auto", "gpu-operator", "dcgm-exporter", "none"] = "auto"
    operator_namespace: str = "gpu-operator"  # where the GPU Operator runs its nvidia-dcgm-exporter


class Grafana(ConfigModel):
    enabled: bool = True
    persistence: bool = False  # dashboards are code; only ad-hoc edits would be lost


class Logs(ConfigModel):
    """Log aggregation: Loki (monolithic, one StatefulSet) and Grafana Alloy shipping the pod logs of
    the kit's namespaces. enabled unset: on everywhere but the `local` stack (laptop-sized)."""

    enabled: bool | None = None
    retention: str = Field(default="7d", pattern=r"^[0-9]+[hdw]$")  # Loki deletes older chunks (compactor)
    storage_size: str = "10Gi"  # Loki's PVC: the whole store off AKS, WAL and index cache on AKS (blob)
    storage_class: str | None = None  # None: monitoring.storageClass, then the cluster's
    loki_cpu: str = "250m"
    loki_memory: str = "1Gi"
    collector_cpu: str = "100m"
    collector_memory: str = "256Mi"
    alerts: bool = True  # log-based alerts through Loki's ruler (CUDA OOM, model load failure, engine restarts)

    _q = field_validator("storage_size", "loki_cpu", "loki_memory", "collector_cpu", "collector_memory")(
        classmethod(lambda cls, v: _quantity(v))
    )


class Monitoring(ConfigModel):
    enabled: bool = True
    retention: str = Field(default="7d", pattern=r"^[0-9]+[hdwy]$")
    storage_size: str = "20Gi"
    storage_class: str | None = None  # None: the cluster's default StorageClass
    prometheus_replicas: int = Field(default=1, ge=1, le=3)
    alertmanager_replicas: int = Field(default=1, ge=1, le=3)
    prometheus_cpu: str = "500m"
    prometheus_memory: str = "2Gi"
    scrape_interval: Duration = "15s"
    # Whether kube-controller-manager, kube-scheduler and etcd run where Prometheus can scrape them.
    # auto: managed on AKS (they run outside the cluster), self-managed on an existing cluster;
    # set managed for EKS, GKE or AKS clusters brought as `existing`. Managed: no scrapes, no alerts.
    control_plane: Literal["auto", "managed", "self-managed"] = "auto"
    # kube-proxy metrics. None: off on AKS (the kit's clusters run Cilium, which replaces kube-proxy),
    # on for an existing cluster.
    kube_proxy: bool | None = None
    grafana: Grafana = Field(default_factory=Grafana)
    gpu_metrics: GpuMetrics = Field(default_factory=GpuMetrics)
    alerts: AlertThresholds = Field(default_factory=AlertThresholds)
    logs: Logs = Field(default_factory=Logs)

    _q = field_validator("storage_size", "prometheus_cpu", "prometheus_memory")(
        classmethod(lambda cls, v: _quantity(v))
    )


def logs_enabled(cfg) -> bool:
    """Loki and the collector run: monitoring is on and logs are on (unset: every stack but local)."""
    logs = cfg.monitoring.logs
    return cfg.monitoring.enabled and (logs.enabled if logs.enabled is not None else cfg.environment != "local")


def monitoring_problems(cfg) -> list:
    """Cross-layer checks of the monitoring section (called from checks.cross_layer_problems)."""
    from .base import Problem

    m = cfg.monitoring
    t = m.alerts
    key = "slmkit:monitoring"
    problems: list[Problem] = []
    if cfg.environment == "prod" and not m.enabled:
        problems.append(Problem(f"{key}.enabled", False, "production without metrics, dashboards or alerts",
                                "keep monitoring on in prod", warning=True))
    if not m.enabled:
        if m.logs.enabled:
            problems.append(Problem(f"{key}.logs.enabled", True, "logs are read in the monitoring stack's Grafana, which is off",
                                    "set slmkit:monitoring.enabled: true, or remove logs.enabled"))
        return problems
    if t.error_rate_warning >= t.error_rate_critical:
        problems.append(Problem(f"{key}.alerts.errorRateWarning", t.error_rate_warning,
                                f"not below errorRateCritical ({t.error_rate_critical})",
                                "the warning threshold must be the lower one"))
    if t.ttft_p99_warning_seconds >= t.ttft_p99_critical_seconds:
        problems.append(Problem(f"{key}.alerts.ttftP99WarningSeconds", t.ttft_p99_warning_seconds,
                                f"not below ttftP99CriticalSeconds ({t.ttft_p99_critical_seconds})",
                                "the warning threshold must be the lower one"))
    for i, spec in enumerate(cfg.servers):
        # vLLM reserves gpuMemoryUtilization of the GPU up front (+ CUDA context): an alert threshold at
        # or below that fires forever.
        if spec.engine == "vllm" and spec.gpu_memory_utilization + 0.02 >= t.gpu_memory_usage:
            problems.append(Problem(f"{key}.alerts.gpuMemoryUsage", t.gpu_memory_usage,
                                    f"servers[{i}] ({spec.name}) reserves gpuMemoryUtilization "
                                    f"{spec.gpu_memory_utilization} of its GPU: SlmGpuMemoryHigh would never clear",
                                    f"set gpuMemoryUsage above {min(spec.gpu_memory_utilization + 0.03, 1.0):.2f} "
                                    "or lower the server's gpuMemoryUtilization", warning=True))
    if cfg.environment == "prod" and m.prometheus_replicas < 2:
        problems.append(Problem(f"{key}.prometheusReplicas", m.prometheus_replicas,
                                "one Prometheus replica: alerts stop while it restarts or its node drains",
                                "use 2 in prod", warning=True))
    return problems
