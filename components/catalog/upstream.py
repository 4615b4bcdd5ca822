"""Names, ports and labels the kit's objects reference on upstream workloads (the Envoy proxies,
the AI Gateway's ext_proc sidecar, cert-manager, KEDA, kube-prometheus-stack, DCGM exporter).

A NetworkPolicy, PodMonitor or ScaledObject that names a port or label the upstream workload does
not carry fails silently: nothing is scraped, nothing is allowed. So each such fact lives here,
with the upstream file and the version it was read at. Where the pinned chart's values.yaml holds
the fact (`chart` + `values_path`), tests/traffic/test_upstream_facts.py checks it against the
chart data in ../shared/upstream-charts.

`values_path` is dotted; `name[key]` picks the list item whose `name` is `key`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHECKED = "2026-12-03"


@dataclass(frozen=True)
class Fact:
    value: Any
    source: str  # upstream file (repository path) it was read in
    version: str  # the tag / pinned version it was read at
    chart: str | None = None  # catalog key in components/catalog/charts.py whose values.yaml holds it
    values_path: str | None = None
    values_file: str = "values.yaml"  # relative to the chart folder (subcharts: charts/<name>/values.yaml)


# --- Envoy AI Gateway v1.1.0 -----------------------------------------------------------------------
AIGW_EXTPROC_ADMIN_PORT_NAME = Fact(
    "aigw-admin", "envoyproxy/ai-gateway internal/controller/extproc_builder.go (the sidecar's only port)", "v1.1.0")
AIGW_EXTPROC_ADMIN_PORT = Fact(1064, "envoyproxy/ai-gateway internal/controller/extproc_builder.go extProcAdminPort", "v1.1.0")
AIGW_EXTPROC_METRICS_PATH = Fact("/metrics", "envoyproxy/ai-gateway cmd/extproc/mainlib/admin.go", "v1.1.0")
AIGW_CONTROLLER = Fact("ai-gateway-controller", "ai-gateway-helm values.yaml controller.fullnameOverride "
                       "(Service name, templates/service.yaml)", "v1.1.0", "ai-gateway", "controller.fullnameOverride")
AIGW_EXTENSION_PORT = Fact(1063, "ai-gateway-helm values.yaml controller.service.ports (grpc: Envoy Gateway's "
                           "extension server)", "v1.1.0", "ai-gateway", "controller.service.ports[grpc].port")
AIGW_WEBHOOK_PORT = Fact(9443, "ai-gateway-helm values.yaml controller.mutatingWebhook.port", "v1.1.0",
                         "ai-gateway", "controller.mutatingWebhook.port")

# --- Envoy Gateway v1.9.0 --------------------------------------------------------------------------
ENVOY_GATEWAY_CONTROLLER_NAME = Fact(
    "gateway.envoyproxy.io/gatewayclass-controller", "gateway-helm values.yaml config.envoyGateway.gateway.controllerName",
    "v1.9.0", "envoy-gateway", "config.envoyGateway.gateway.controllerName")
ENVOY_PROXY_LABELS = Fact(
    {"app.kubernetes.io/managed-by": "envoy-gateway", "app.kubernetes.io/component": "proxy"},
    "envoyproxy/gateway internal/infrastructure/kubernetes/proxy/resource.go EnvoyAppLabel", "v1.9.0")
ENVOY_OWNING_GATEWAY_LABELS = Fact(
    ("gateway.envoyproxy.io/owning-gateway-name", "gateway.envoyproxy.io/owning-gateway-namespace"),
    "envoyproxy/gateway internal/gatewayapi/translator.go OwningGatewayNameLabel, OwningGatewayNamespaceLabel", "v1.9.0")
# Listener ports below 1024 become port + 10000 in the proxy container (it runs without privileges).
ENVOY_PRIVILEGED_PORT_SHIFT = Fact((1024, 10000), "envoyproxy/gateway internal/gatewayapi/translator.go "
                                   "minEphemeralPort, wellKnownPortShift", "v1.9.0")

# --- cert-manager v1.21.1 --------------------------------------------------------------------------
CERT_MANAGER_CONTROLLER_LABELS = Fact(
    {"app.kubernetes.io/name": "cert-manager", "app.kubernetes.io/component": "controller"},
    "cert-manager deploy/charts/cert-manager/templates/deployment.yaml (pod labels)", "v1.21.1")
CERT_MANAGER_WEBHOOK_PORT = Fact(10250, "cert-manager chart values.yaml webhook.securePort", "v1.21.1",
                                 "cert-manager", "webhook.securePort")
ACME_SOLVER_LABELS = Fact({"acme.cert-manager.io/http01-solver": "true"},
                          "cert-manager pkg/apis/acme/v1/types.go SolverIdentificationLabelKey", "v1.21.1")
ACME_SOLVER_PORT = Fact(8089, "cert-manager pkg/issuer/acme/http/http.go acmeSolverListenPort", "v1.21.1")

# --- KEDA 2.20.2 -----------------------------------------------------------------------------------
KEDA_METRICS_API_PORT = Fact(6443, "keda chart values.yaml service.portHttpsTarget", "2.20.2", "keda",
                             "service.portHttpsTarget")
KEDA_WEBHOOK_PORT = Fact(9443, "keda chart values.yaml webhooks.port (empty: the documented default 9443)", "2.20.2")

# --- kube-prometheus-stack 88.5.3 (appVersion: prometheus-operator v0.93.1) -----------------------------
PROMETHEUS_POD_LABELS = Fact({"app.kubernetes.io/name": "prometheus"},
                             "prometheus-operator pkg/prometheus/server/operator.go makeSelectorLabels "
                             "(applicationNameLabelValue), merged into the pod labels by statefulset.go",
                             "v0.93.0 (the nearest tag to the chart's appVersion v0.93.1)")
PROMETHEUS_PORT = Fact(9090, "kube-prometheus-stack values.yaml prometheus.service.port", "88.5.3",
                       "kube-prometheus-stack", "prometheus.service.port")
PROMETHEUS_OPERATOR_WEBHOOK_PORT = Fact(10250, "kube-prometheus-stack values.yaml prometheusOperator.tls.internalPort",
                                        "88.5.3", "kube-prometheus-stack", "prometheusOperator.tls.internalPort")
# Node exporter runs in the node's network namespace: its address is a node address, which
# NetworkPolicy ipBlock cannot select on AKS with Cilium (components/traffic/network.py).
NODE_EXPORTER_HOST_NETWORK = Fact(True, "prometheus-node-exporter subchart values.yaml hostNetwork", "88.5.3",
                                  "kube-prometheus-stack", "hostNetwork", "charts/prometheus-node-exporter/values.yaml")
NODE_EXPORTER_PORT = Fact(9100, "prometheus-node-exporter subchart values.yaml service.port", "88.5.3",
                          "kube-prometheus-stack", "service.port", "charts/prometheus-node-exporter/values.yaml")
KUBELET_PORT = Fact(10250, "kubernetes docs reference/networking/ports-and-protocols (kubelet API)", "v1.31+")
KUBE_DNS_LABELS = Fact({"k8s-app": "kube-dns"}, "kubernetes cluster/addons/dns/coredns (the label AKS and kubeadm "
                       "keep on CoreDNS pods)", "v1.31+")

# --- Azure (AKS) load balancer ---------------------------------------------------------------------
# A LoadBalancer Service with this annotation gets a public DNS name under Azure's own zone; the
# label must be unique in the Azure location. The gateway's private-CA certificate names it, so a
# runner-side gate can call dev/staging by name (components/traffic/access.py).
AZURE_DNS_LABEL_ANNOTATION = Fact(
    "service.beta.kubernetes.io/azure-dns-label-name",
    "MicrosoftDocs/azure-aks-docs articles/aks/static-ip.md \"Apply a DNS label to the service\"; "
    "kubernetes-sigs/cloud-provider-azure pkg/consts/consts.go ServiceAnnotationDNSLabelName", "ms.date 2023-02-27")
AZURE_DNS_LABEL_FQDN = Fact(
    "{label}.{location}.cloudapp.azure.com",
    "MicrosoftDocs/azure-aks-docs articles/aks/static-ip.md (\"Azure automatically appends ... <location>.cloudapp.azure.com\")",
    "ms.date 2023-02-27")
AZURE_DNS_LABEL_PATTERN = Fact(
    r"^[a-z][a-z0-9-]{1,61}[a-z0-9]$",
    "Azure/azure-rest-api-specs network checkDnsNameAvailability domainNameLabel (\"must conform to the following "
    "regular expression\")", "2026-12-03")

# --- DCGM exporter ---------------------------------------------------------------------------------
GPU_OPERATOR_DCGM_SERVICE = Fact(
    {"labels": {"app": "nvidia-dcgm-exporter"}, "port_name": "gpu-metrics", "port": 9400},
    "NVIDIA/gpu-operator assets/state-dcgm-exporter/0400_service.yaml", "v25.10.1")
DCGM_EXPORTER_PORT = Fact(9400, "dcgm-exporter chart values.yaml service.port", "4.8.2", "dcgm-exporter", "service.port")
DCGM_EXPORTER_PORT_NAME = Fact("metrics", "NVIDIA/dcgm-exporter deployment/templates/service.yaml", "4.8.2 (tag 4.5.3-4.8.2)")

# --- the gate Job's verdict, where `pulumi up` shows it (components/loadtest) ----------------------
# A failed container's termination message under FallbackToLogsOnError is the tail of its log: at
# most 80 lines and 2048 bytes, the end kept (loadtests/report.py prints the verdict line last).
TERMINATION_MESSAGE_LOG_TAIL = Fact(
    {"lines": 80, "bytes": 2048}, "kubernetes pkg/kubelet/container/runtime.go MaxContainerTerminationMessageLogLines, "
    "MaxContainerTerminationMessageLogLength; pkg/kubelet/kuberuntime/kuberuntime_container.go "
    "readLastStringFromContainerLogs (a circular buffer: the tail)", "v1.31+")
# pulumi-kubernetes' Job await puts a terminated container's message into the failed Job's error:
# `[<reason>] <message>` (checker/pod/check.go containerTerminatedError), collected from the Job's
# pods into its subErrors (await/job.go). So a failed gate's last log lines reach `pulumi up`.
PULUMI_K8S_JOB_ERROR_CARRIES_TERMINATION_MESSAGE = Fact(
    True, "pulumi/pulumi-kubernetes provider/pkg/await/checker/pod/check.go containerTerminatedError; "
    "provider/pkg/await/job.go (pod aggregator messages -> subErrors)", "v4.34.2 (read at HEAD 94977969d: no v4.34.2 tag in the mirror)")
# The engine skips a read whose ID is unknown, also in preview (its outputs stay unknown): the gate's
# result is read with an ID derived from the Job's status, unknown exactly when the Job is (re)created.
PULUMI_READ_SKIPPED_FOR_UNKNOWN_ID = Fact(
    True, "pulumi/pulumi pkg/resource/deploy/step.go ReadStep.Apply (\"The only time we can't run is if the ID "
    "we are given is unknown\")", "v3.272.0 (read at HEAD 1b5949891b)")
# The token volume the ServiceAccount admission plugin adds (kube-api-access-*): token, the cluster
# CA from the kube-root-ca.crt ConfigMap (in every namespace), the namespace from the downward API,
# mounted where client libraries read them (kubernetes-client/python config/incluster_config.py
# SERVICE_TOKEN_FILENAME, SERVICE_CERT_FILENAME at 37.0.2). The kit builds it itself for the gate pods.
SERVICE_ACCOUNT_TOKEN_VOLUME = Fact(
    {"mount_path": "/var/run/secrets/kubernetes.io/serviceaccount", "ca_config_map": "kube-root-ca.crt"},
    "kubernetes plugin/pkg/admission/serviceaccount/admission.go (TokenVolumeSource); "
    "pkg/controller/certificates/rootcacertpublisher/publisher.go", "v1.31+")
# The Job controller labels its pods with the Job's UID: the gate records it (downward API), so a
# result is this Job's and not one of an earlier Job re-created under the same name.
JOB_CONTROLLER_UID_LABEL = Fact(
    "batch.kubernetes.io/controller-uid", "kubernetes pkg/apis/batch/types.go ControllerUidLabel (labelPrefix + "
    "\"controller-uid\"; the unprefixed legacy label stays too)", "v1.27+")
# KUBERNETES_SERVICE_HOST/PORT (the in-cluster loader's API server address) are set in every
# container, also with enableServiceLinks: false, which drops only the other Services' variables.
KUBERNETES_SERVICE_ENV_ALWAYS_SET = Fact(
    True, "kubernetes pkg/kubelet/kubelet_pods.go getServiceEnvVarMap (the master service is always included)", "v1.31+")

# Which release installs the CRDs of each API group the kit's custom resources use (catalog chart
# keys), so the offline plan can prove each custom resource waits for its CRDs.
# secrets-store.csi.x-k8s.io comes with AKS's Key Vault secrets provider add-on (the cluster).
CRD_GROUPS: dict[str, str] = {
    "gateway.networking.k8s.io": "gateway-crds",
    "gateway.envoyproxy.io": "gateway-crds",
    "aigateway.envoyproxy.io": "ai-gateway-crds",
    "cert-manager.io": "cert-manager",
    "keda.sh": "keda",
    "monitoring.coreos.com": "kube-prometheus-stack",
    "secrets-store.csi.x-k8s.io": "aks-cluster",
    # The managed VPA (workloadAutoScalerProfile) brings its CRDs with the cluster; existing clusters
    # must already run a VPA (preflight checks) before verticalScaling is enabled.
    "autoscaling.k8s.io": "aks-cluster",
}

# Controllers that need CRDs installed by another step before they start (catalog chart keys).
CONTROLLER_NEEDS: dict[str, tuple[str, ...]] = {
    # exits while gateway.networking.k8s.io/v1 is missing (pkg/controller/context.go at v1.21.1)
    "cert-manager": ("gateway-crds",),
    # watches Gateway API and its own kinds; its bundled CRDs are off (components/traffic/operators.py)
    "envoy-gateway": ("gateway-crds",),
    # watches Gateway API, Envoy Gateway and AI Gateway kinds (internal/controller/controller.go at v1.1.0)
    "ai-gateway": ("gateway-crds", "ai-gateway-crds"),
}


def all_facts() -> dict[str, Fact]:
    return {k: v for k, v in globals().items() if isinstance(v, Fact)}
