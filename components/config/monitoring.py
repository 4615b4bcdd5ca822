"""The monitoring section: kube-prometheus-stack sizing and alert thresholds."""

from __future__ import annotations


from pydantic import Field

from .base import ConfigModel


class AlertThresholds(ConfigModel):
    error_rate_warning: float = Field(default=0.01, gt=0, lt=1)
    error_rate_critical: float = Field(default=0.05, gt=0, lt=1)
    ttft_p99_warning_seconds: float = Field(default=10, gt=0)
    ttft_p99_critical_seconds: float = Field(default=30, gt=0)
    kv_cache_usage: float = Field(default=0.9, gt=0, le=1)
    queue_backlog: float = Field(default=50, gt=0)
    preemptions_per_second: float = Field(default=1, gt=0)
    gpu_memory_usage: float = Field(default=0.95, gt=0, le=1)


class Monitoring(ConfigModel):
    enabled: bool = True
    retention: str = Field(default="7d", pattern=r"^[0-9]+[hdwy]$")
    storage_size: str = "20Gi"
    prometheus_replicas: int = Field(default=1, ge=1, le=3)
    alerts: AlertThresholds = Field(default_factory=AlertThresholds)
