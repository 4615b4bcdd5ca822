"""Stack-wide sections: namespaces, secrets, monitoring, gateway, load test, chat UI."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import ConfigModel


class Namespaces(ConfigModel):
    models: str = "slmkit-models"
    monitoring: str = "slmkit-monitoring"
    gateway: str = "slmkit-gateway"
    loadtest: str = "slmkit-loadtest"
    system: str = "slmkit-system"  # operators: KEDA, Envoy Gateway, cert-manager


class Secrets(ConfigModel):
    # auto: Key Vault + Secrets Store CSI on AKS, Kubernetes Secrets on existing clusters.
    provider: Literal["auto", "kubernetes", "keyvault"] = "auto"


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


class Tls(ConfigModel):
    issuer: Literal["self-signed", "letsencrypt", "letsencrypt-staging"] = "self-signed"
    email: str | None = None  # required for Let's Encrypt


class RateLimit(ConfigModel):
    tokens_per_minute: int = Field(gt=0)


class Gateway(ConfigModel):
    enabled: bool = True
    hostname: str | None = None  # e.g. llm.example.com; None: any host (local)
    tls: Tls = Field(default_factory=Tls)
    api_key_names: list[str] = Field(default_factory=lambda: ["primary", "secondary"], min_length=1)
    rate_limit: RateLimit | None = None  # per API key
    request_buffer_limit: str = "4Mi"
    request_timeout_seconds: int = Field(default=600, ge=30)


class LoadTestUi(ConfigModel):
    enabled: bool = False
    workers: int = Field(default=1, ge=1, le=32)


class LoadTest(ConfigModel):
    gate: bool = True  # a Job after every change to the servers; its failure fails `pulumi up`
    profile: str = "local"  # loadtests/profiles/<name>.yaml
    smoke: bool = True
    skip_content_checks: bool = False  # tiny or test models cannot do arithmetic
    ui: LoadTestUi = Field(default_factory=LoadTestUi)


class ChatUi(ConfigModel):
    enabled: bool = False
    hostname: str | None = None
