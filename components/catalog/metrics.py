"""Metric names each exporter really emits, with where they come from and when they were checked.

Dashboards and alert rules take every name from here; a test checks that their queries use no
other name, and another checks the ONNX server's names against the server's own registry.

Sources (checked 2026-11-28):
- vLLM: docs/design/metrics.md and docs/usage/metrics.md (V1 engine, `vllm:` prefix, label
  `model_name`); `kv_cache_usage_perc` replaced `gpu_cache_usage_perc`, `inter_token_latency_seconds`
  replaced `time_per_output_token_seconds`. HTTP counters come from prometheus-fastapi-instrumentator
  (`http_requests_total{handler,method,status="2xx|4xx|5xx"}`), vllm-project/vllm PR 15657.
- ONNX server: docker/onnx-server/onnx_server/metrics.py in this repository (vLLM's names with the
  `onnxserver:` prefix; `requests_total{status}` carries the numeric HTTP status).
- Envoy AI Gateway v1.1.0: internal/metrics/genai.go (OpenTelemetry GenAI semantic conventions,
  exported by the OTel Prometheus exporter with unit suffixes; exact exposed names and labels in
  cmd/extproc/mainlib/admin_test.go, checked 2026-12-03). The ext_proc sidecar of each Envoy pod
  serves them on its only container port `aigw-admin` (1064), path /metrics
  (internal/controller/extproc_builder.go; `aigw-metrics` was removed before v0.5.0).
- DCGM exporter: docs.nvidia.com/datacenter/dcgm/latest/reference/dcgm-exporter-metrics.html,
  shipped default-counters.csv (labels gpu, UUID, Hostname, modelName; with the Kubernetes pod
  mapping also namespace, pod, container).
- kube-state-metrics v2 (bundled by kube-prometheus-stack): docs/metrics/workload/*.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.catalog import upstream

CHECKED = "2026-11-28"


@dataclass(frozen=True)
class Family:
    """One metric family as exposed on /metrics (counters with their `_total` suffix)."""

    name: str
    type: str  # gauge | counter | histogram
    labels: tuple[str, ...] = ()

    def series(self) -> set[str]:
        """The sample names Prometheus stores for this family."""
        if self.type == "histogram":
            return {f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count"}
        return {self.name}


@dataclass(frozen=True)
class EngineMetrics:
    """The names one model-server engine uses for the same meanings (vLLM's vocabulary)."""

    engine: str
    source: str
    model_label: str
    running: Family
    waiting: Family
    ttft: Family
    itl: Family
    e2e: Family
    prompt_tokens: Family
    generation_tokens: Family
    requests: Family  # HTTP responses by status
    server_error_status: str  # regex on requests' `status` label that means a server-side error
    api_handler: str | None = None  # regex on a `handler` label: count only API routes
    kv_cache_usage: Family | None = None  # fraction 0..1; average across pods, never sum
    preemptions: Family | None = None

    def families(self) -> list[Family]:
        fams = [self.running, self.waiting, self.ttft, self.itl, self.e2e, self.prompt_tokens,
                self.generation_tokens, self.requests, self.kv_cache_usage, self.preemptions]
        return [f for f in fams if f is not None]


_V = ("model_name", "engine")
VLLM = EngineMetrics(
    engine="vllm",
    source="vllm-project/vllm docs/design/metrics.md, docs/usage/metrics.md (v0.18)",
    model_label="model_name",
    running=Family("vllm:num_requests_running", "gauge", _V),
    waiting=Family("vllm:num_requests_waiting", "gauge", _V),
    ttft=Family("vllm:time_to_first_token_seconds", "histogram", _V),
    itl=Family("vllm:inter_token_latency_seconds", "histogram", _V),
    e2e=Family("vllm:e2e_request_latency_seconds", "histogram", _V),
    prompt_tokens=Family("vllm:prompt_tokens_total", "counter", _V),
    generation_tokens=Family("vllm:generation_tokens_total", "counter", _V),
    requests=Family("http_requests_total", "counter", ("handler", "method", "status")),
    server_error_status="5xx",
    api_handler="/v1/.*",
    kv_cache_usage=Family("vllm:kv_cache_usage_perc", "gauge", _V),
    preemptions=Family("vllm:num_preemptions_total", "counter", _V),
)

_O = ("model_name",)
ONNX = EngineMetrics(
    engine="onnx",
    source="docker/onnx-server/onnx_server/metrics.py (this repository)",
    model_label="model_name",
    running=Family("onnxserver:num_requests_running", "gauge", _O),
    waiting=Family("onnxserver:num_requests_waiting", "gauge", _O),
    ttft=Family("onnxserver:time_to_first_token_seconds", "histogram", _O),
    itl=Family("onnxserver:inter_token_latency_seconds", "histogram", _O),
    e2e=Family("onnxserver:e2e_request_latency_seconds", "histogram", _O),
    prompt_tokens=Family("onnxserver:prompt_tokens_total", "counter", _O),
    generation_tokens=Family("onnxserver:generation_tokens_total", "counter", _O),
    requests=Family("onnxserver:requests_total", "counter", ("model_name", "status")),
    server_error_status="5..",
)

# Engines with a /metrics endpoint. Ollama has none: the gateway's token metrics cover it.
ENGINES: dict[str, EngineMetrics] = {"vllm": VLLM, "onnx": ONNX}


@dataclass(frozen=True)
class GatewayMetrics:
    source: str
    container_port_name: str
    container_port: int
    path: str
    model_label: str
    token_type_label: str
    token_usage: Family
    request_duration: Family
    ttft: Family
    time_per_output_token: Family

    def families(self) -> list[Family]:
        return [self.token_usage, self.request_duration, self.ttft, self.time_per_output_token]


_G = ("gen_ai_operation_name", "gen_ai_request_model", "gen_ai_response_model", "gen_ai_provider_name",
      "gen_ai_original_model")
GATEWAY = GatewayMetrics(
    source="envoyproxy/ai-gateway v1.1.0 internal/metrics/genai.go, cmd/extproc/mainlib/admin_test.go",
    container_port_name=upstream.AIGW_EXTPROC_ADMIN_PORT_NAME.value,
    container_port=upstream.AIGW_EXTPROC_ADMIN_PORT.value,
    path=upstream.AIGW_EXTPROC_METRICS_PATH.value,
    model_label="gen_ai_request_model",
    token_type_label="gen_ai_token_type",  # input | output | total
    token_usage=Family("gen_ai_client_token_usage", "histogram", _G + ("gen_ai_token_type",)),
    request_duration=Family("gen_ai_server_request_duration_seconds", "histogram", _G),
    ttft=Family("gen_ai_server_time_to_first_token_seconds", "histogram", _G),
    time_per_output_token=Family("gen_ai_server_time_per_output_token_seconds", "histogram", _G),
)


@dataclass(frozen=True)
class DcgmMetrics:
    source: str
    port: int
    gpu_util: Family  # percent 0..100
    fb_used: Family  # MiB
    fb_free: Family  # MiB
    temperature: Family  # degrees C
    power: Family  # watts

    def families(self) -> list[Family]:
        return [self.gpu_util, self.fb_used, self.fb_free, self.temperature, self.power]


_D = ("gpu", "UUID", "Hostname", "modelName", "namespace", "pod", "container")
DCGM = DcgmMetrics(
    source="docs.nvidia.com/datacenter/dcgm/latest/reference/dcgm-exporter-metrics.html (default-counters.csv)",
    port=9400,
    gpu_util=Family("DCGM_FI_DEV_GPU_UTIL", "gauge", _D),
    fb_used=Family("DCGM_FI_DEV_FB_USED", "gauge", _D),
    fb_free=Family("DCGM_FI_DEV_FB_FREE", "gauge", _D),
    temperature=Family("DCGM_FI_DEV_GPU_TEMP", "gauge", _D),
    power=Family("DCGM_FI_DEV_POWER_USAGE", "gauge", _D),
)

# kube-state-metrics and Prometheus's own series the rules and dashboards read.
KUBE_STATE: dict[str, Family] = {
    "replicas_available": Family("kube_deployment_status_replicas_available", "gauge", ("namespace", "deployment")),
    "replicas_spec": Family("kube_deployment_spec_replicas", "gauge", ("namespace", "deployment")),
    "restarts": Family("kube_pod_container_status_restarts_total", "counter", ("namespace", "pod", "container")),
    "last_terminated": Family("kube_pod_container_status_last_terminated_reason", "gauge",
                              ("namespace", "pod", "container", "reason")),
    "job_failed": Family("kube_job_status_failed", "gauge", ("namespace", "job_name")),
    "up": Family("up", "gauge", ("job", "instance")),
}

# VPA recommendations as kube-state-metrics custom-resource metrics: the names and labels the
# customResourceState config in components/monitoring/helm.py produces (kube-state-metrics v2.20.0
# docs/metrics/extend/customresourcestate-metrics.md, the VerticalPodAutoscaler example; prefix
# kube_customresource_ is the default metricNamePrefix). resource: cpu | memory, unit: core | byte.
VPA_LABELS = ("namespace", "verticalpodautoscaler", "target_kind", "target_name", "container", "resource", "unit")
VPA_RECOMMENDATION: dict[str, Family] = {
    bound: Family(f"kube_customresource_verticalpodautoscaler_status_recommendation_containerrecommendations_{bound}",
                  "gauge", VPA_LABELS)
    for bound in ("target", "lowerbound", "upperbound")
}


def all_families() -> list[Family]:
    out = [f for e in ENGINES.values() for f in e.families()]
    return out + GATEWAY.families() + DCGM.families() + list(KUBE_STATE.values()) + list(VPA_RECOMMENDATION.values())


def emitted_series() -> set[str]:
    """Every sample name some exporter in the catalog emits."""
    return {s for f in all_families() for s in f.series()}
