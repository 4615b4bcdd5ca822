"""Helm charts the kit installs, pinned: one entry per chart with where the version was read and when.

Several concerns add entries here (traffic, monitoring, platform); each keeps its own entries.
An `oci://` repo means the chart is an OCI artifact: the chart reference is `<repo>/<name>`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Chart:
    name: str
    repo: str
    version: str
    source: str
    checked: str

    @property
    def is_oci(self) -> bool:
        return self.repo.startswith("oci://")


CHARTS: dict[str, Chart] = {
    # traffic: the gateway, its AI extension, TLS and autoscaling operators. Versions match the CRDs
    # the kit's custom resources are validated against (../shared/crd-schemas/README.md).
    # Gateway API v1.6.1 (experimental channel, what Envoy Gateway v1.9.0 ships and tests with;
    # AI Gateway v1.1.0 is built against Gateway API v1.5.1 and reads only its v1 kinds, which
    # v1.6.1 serves) and Envoy Gateway's own CRDs, from Envoy Gateway's CRD chart, installed
    # before anything that watches them (charts/gateway-crds-helm/templates at v1.9.0).
    "gateway-crds": Chart("gateway-crds-helm", "oci://docker.io/envoyproxy", "v1.9.0",
                          "github.com/envoyproxy/gateway/tree/v1.9.0/charts/gateway-crds-helm", "2026-12-03"),
    "envoy-gateway": Chart("gateway-helm", "oci://docker.io/envoyproxy", "v1.9.0",
                           "github.com/envoyproxy/gateway/releases/tag/v1.9.0", "2026-11-28"),
    "ai-gateway-crds": Chart("ai-gateway-crds-helm", "oci://docker.io/envoyproxy", "v1.1.0",
                             "github.com/envoyproxy/ai-gateway/releases/tag/v1.1.0", "2026-11-28"),
    "ai-gateway": Chart("ai-gateway-helm", "oci://docker.io/envoyproxy", "v1.1.0",
                        "github.com/envoyproxy/ai-gateway/releases/tag/v1.1.0", "2026-11-28"),
    "cert-manager": Chart("cert-manager", "https://charts.jetstack.io", "v1.21.1",
                          "github.com/cert-manager/cert-manager/releases/tag/v1.21.1", "2026-11-28"),
    "keda": Chart("keda", "https://kedacore.github.io/charts", "2.20.2",
                  "github.com/kedacore/charts/releases (keda-2.20.2)", "2026-11-28"),
    # monitoring: operator v0.93.1, matching the ServiceMonitor/PodMonitor/PrometheusRule CRDs (v0.93).
    # 89.2.3 was pinned before but is in no upstream data the kit can check; 88.5.3 is a release tag.
    "kube-prometheus-stack": Chart("kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts",
                                   "88.5.3", "github.com/prometheus-community/helm-charts tag kube-prometheus-stack-88.5.3 "
                                   "(appVersion v0.93.1)", "2026-12-03"),
    # 4.8.3 was pinned from an open pull request; the chart repository's index (gh-pages
    # helm-charts/index.yaml) ends at 4.8.2, tag 4.5.3-4.8.2.
    "dcgm-exporter": Chart("dcgm-exporter", "https://nvidia.github.io/dcgm-exporter/helm-charts", "4.8.2",
                           "github.com/NVIDIA/dcgm-exporter tag 4.5.3-4.8.2 deployment/Chart.yaml; gh-pages "
                           "helm-charts/index.yaml", "2026-12-03"),
    # monitoring, logs: Loki monolithic and Grafana Alloy (upstream data not in ../shared yet).
    # grafana/loki's own chart is for Grafana Enterprise Logs only since helm-loki-7.0.0 (its
    # production/helm/loki/CHANGELOG.md): the OSS chart moved to grafana-community/helm-charts.
    "loki": Chart("loki", "https://grafana-community.github.io/helm-charts", "18.11.0",
                  "github.com/grafana-community/helm-charts tag loki-18.11.0 charts/loki/Chart.yaml "
                  "(appVersion 3.7.6)", "2026-12-03"),
    "alloy": Chart("alloy", "https://grafana.github.io/helm-charts", "1.11.1",
                   "github.com/grafana/alloy tag helm-chart/1.11.1 operations/helm/charts/alloy/Chart.yaml "
                   "(appVersion v1.18.1)", "2026-12-03"),
    # platform (AKS GPU software): the GPU Operator, or the device plugin beside the AKS-installed
    # driver (DCGM exporter: the entry above). Versions from the projects' release pages.
    "gpu-operator": Chart("gpu-operator", "https://helm.ngc.nvidia.com/nvidia", "v25.10.1",
                          "github.com/NVIDIA/gpu-operator/releases/tag/v25.10.1", "2026-11-28"),
    "nvidia-device-plugin": Chart("nvidia-device-plugin", "https://nvidia.github.io/k8s-device-plugin", "0.18.0",
                                  "github.com/NVIDIA/k8s-device-plugin/releases/tag/v0.18.0", "2026-11-28"),
    # chat UI: Open WebUI (app 0.7.2 is the chart's appVersion, the image tag it deploys). 10.3.1, pinned
    # before, exists only on a feature branch: it was never in the repository index. 10.2.1 is the last
    # 10.x release (the index goes on with 11.0.0).
    "open-webui": Chart("open-webui", "https://helm.openwebui.com", "10.2.1",
                        "github.com/open-webui/helm-charts tag open-webui-10.2.1 charts/open-webui/Chart.yaml "
                        "(appVersion 0.7.2); helm.openwebui.com index.yaml", "2026-12-03"),
}
