"""The operators the traffic concern installs, as pinned Helm releases: chart from the catalog,
values from pure functions (tested, since releases are not rendered offline).

All run in the kit's system namespace. Envoy Gateway is told about the AI Gateway controller (its
extension server) and, when rate limits are configured, about the Redis that holds the counters.

Install order (each waits for the one before; docs/traffic.md "Install order"):
  1. gateway-crds     Gateway API v1.6.1 experimental + Envoy Gateway CRDs (Envoy Gateway's CRD chart),
                      rendered by Pulumi and applied server-side: no Helm release, whose record
                      (about 2.3 MB for this chart) would pass the 1 MiB Secret limit, and the CRDs are
                      upgraded with the pin (a chart's crds/ folder is installed once, never upgraded)
  2. cert-manager     Gateway API support on: it exits on purpose while the Gateway API CRDs are missing
  3. ai-gateway-crds  the AI Gateway's CRDs (templates, so upgraded with the pin)
  4. envoy-gateway    with its bundled CRDs off (crds.enabled false, skipCrds): step 1 owns them
  5. ai-gateway       the controller (watches Gateway API, Envoy Gateway and AI Gateway kinds)
  6. keda             only when some server autoscales (its own CRDs)
"""

from __future__ import annotations

from dataclasses import dataclass

from components.catalog.charts import CHARTS, Chart
from components.config import StackConfig

from . import names
from .ratelimit_store import redis_url

# For charts whose default is no requests or limits at all (AI Gateway controller, cert-manager).
SMALL = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}


@dataclass(frozen=True)
class ReleaseSpec:
    release: str  # Helm release name (fixed: Service names derive from it)
    chart: Chart
    namespace: str
    values: dict
    templated: bool = False  # rendered by Pulumi (helm.v4.Chart) and applied object by object, no Helm release
    skip_crds: bool = False  # the chart's crds/ folder is left out (another step owns those CRDs)


def gateway_crds_values(cfg: StackConfig) -> dict:
    """Envoy Gateway's CRD chart installs nothing unless asked (both switches default to false)."""
    return {"crds": {"gatewayAPI": {"enabled": True, "channel": GATEWAY_API_CHANNEL},
                     "envoyGateway": {"enabled": True}}}


GATEWAY_API_CHANNEL = "experimental"  # what Envoy Gateway v1.9.0's own chart bundles
GATEWAY_API_VERSION = "v1.6.1"  # gateway.networking.k8s.io/bundle-version in that chart


def envoy_gateway_values(cfg: StackConfig) -> dict:
    system = cfg.namespaces.system
    envoy_gateway: dict = {
        "gateway": {"controllerName": names.ENVOY_GATEWAY_CONTROLLER_NAME},
        "provider": {"type": "Kubernetes"},
        "logging": {"level": {"default": "info"}},
        # Backend (FQDN to each server's Service) and the AI Gateway's patches need these APIs.
        "extensionApis": {"enableEnvoyPatchPolicy": True, "enableBackend": True},
        "extensionManager": {
            "hooks": {"xdsTranslator": {
                "translation": {kind: {"includeAll": True} for kind in ("listener", "route", "cluster", "secret")},
                "post": ["Translation", "Cluster", "Route"],
            }},
            "service": {"fqdn": {"hostname": f"{names.AI_GATEWAY_CONTROLLER}.{system}.svc.cluster.local",
                                 "port": names.AI_GATEWAY_EXTENSION_PORT}},
        },
    }
    if cfg.gateway.rate_limit is not None:
        envoy_gateway["rateLimit"] = {"backend": {"type": "Redis", "redis": {"url": redis_url(cfg)}}}
    # The chart's own requests and limits for the controller (100m / 256Mi, up to 1Gi) fit; kept.
    # crds.enabled false: no bundled CRDs and no second copy of the safe-upgrades admission policy
    # (the CRD chart of step 1 installs both).
    return {"config": {"envoyGateway": envoy_gateway}, "deployment": {"replicas": 1}, "crds": {"enabled": False}}


def ai_gateway_values(cfg: StackConfig) -> dict:
    return {
        "controller": {"fullnameOverride": names.AI_GATEWAY_CONTROLLER, "resources": SMALL,
                       # Token metrics per client key: the header the SecurityPolicy sets becomes a label.
                       "metricsRequestHeaderAttributes": f"{names.CLIENT_ID_HEADER}:{names.CLIENT_METRIC_ATTRIBUTE}",
                       "podSecurityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                       "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                           "capabilities": {"drop": ["ALL"]}}},
        "envoyGateway": {"namespace": cfg.namespaces.system},
    }


def cert_manager_values(cfg: StackConfig) -> dict:
    return {
        "crds": {"enabled": True},
        # The ACME HTTP-01 solver answers through the kit's Gateway (gatewayHTTPRoute). v1.21 reads
        # gatewayAPI.enabled (enableGatewayAPI is deprecated: pkg/apis/config/controller/v1alpha1/types.go).
        "config": {"apiVersion": "controller.config.cert-manager.io/v1alpha1", "kind": "ControllerConfiguration",
                   "gatewayAPI": {"enabled": True}},
        "resources": SMALL,
    }


def keda_values(cfg: StackConfig) -> dict:
    """The chart's defaults are hardened (non-root, read-only, no capabilities) and sized; only
    Prometheus (in-cluster, no auth) is its metrics source, so nothing to configure."""
    return {}


def releases(cfg: StackConfig, autoscaling: bool) -> list[ReleaseSpec]:
    """In install order (module docstring). KEDA only when some server autoscales; the gateway
    operators only with a gateway."""
    system = cfg.namespaces.system
    out = []
    if cfg.gateway.enabled:
        out += [
            ReleaseSpec(names.RELEASE_GATEWAY_CRDS, CHARTS["gateway-crds"], system, gateway_crds_values(cfg),
                        templated=True),
            ReleaseSpec(names.RELEASE_CERT_MANAGER, CHARTS["cert-manager"], system, cert_manager_values(cfg)),
            ReleaseSpec(names.RELEASE_AI_GATEWAY_CRDS, CHARTS["ai-gateway-crds"], system, {}),
            ReleaseSpec(names.RELEASE_ENVOY_GATEWAY, CHARTS["envoy-gateway"], system, envoy_gateway_values(cfg),
                        skip_crds=True),
            ReleaseSpec(names.RELEASE_AI_GATEWAY, CHARTS["ai-gateway"], system, ai_gateway_values(cfg)),
        ]
    if autoscaling:
        out.append(ReleaseSpec(names.RELEASE_KEDA, CHARTS["keda"], system, keda_values(cfg)))
    return out
