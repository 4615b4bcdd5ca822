"""Stack-wide sections: namespaces and the secret store."""

from __future__ import annotations

from typing import Literal

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
