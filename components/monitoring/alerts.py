"""Alert rules as a PrometheusRule, thresholds from `slmkit:monitoring.alerts`.

Recording rules first turn each engine's own names (vLLM's, the ONNX server's) into `slmkit:` series
labelled namespace/server/slmkit_engine, so every alert is written once for all engines. Every alert
has a runbook section in docs/monitoring.md (anchor = the alert name in lowercase) and a promtool
unit test that fires it and one that keeps it quiet (tests/monitoring/test_rules_promtool.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from components.catalog import metrics as catalog
from components.catalog.metrics import EngineMetrics
from components.config import StackConfig
from components.endpoints import ServerEndpoint
from components.k8s.objects import meta

from .scrape import API, SELECT_LABEL, gpu_metrics_source

RULE_NAME = "slmkit-alerts"
RUNBOOK = "docs/monitoring.md#{anchor}"
BY = "namespace, server, slmkit_engine"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    for_: str
    severity: str  # critical: page someone; warning: look at it in working hours
    summary: str
    description: str

    def rule(self) -> dict:
        rule = {
            "alert": self.name, "expr": self.expr,
            "labels": {"severity": self.severity, "slmkit_alert": "true"},
            "annotations": {"summary": self.summary, "description": self.description,
                            "runbook_url": RUNBOOK.format(anchor=self.name.lower())},
        }
        if self.for_ != "0m":
            rule["for"] = self.for_
        return rule


def _sel(engine: str, *extra: str) -> str:
    return "{" + ", ".join([f'slmkit_engine="{engine}"', *extra]) + "}"


def engine_recording_rules(m: EngineMetrics) -> list[dict]:
    """One engine's names -> the kit's series. Ratios divide rates over the same window."""
    api = [f'handler=~"{m.api_handler}"'] if m.api_handler else []
    requests = f"sum by ({BY}) (rate({m.requests.name}{_sel(m.engine, *api)}[5m]))"
    failed = f'status=~"{m.server_error_status}"'
    # `or 0 * requests`: a server that never failed has an error rate of 0, not no data.
    errors = f"sum by ({BY}) (rate({m.requests.name}{_sel(m.engine, *api, failed)}[5m])) or 0 * {requests}"
    rules = [
        {"record": "slmkit:requests:rate5m", "expr": requests},
        {"record": "slmkit:request_errors:rate5m", "expr": errors},
        {"record": "slmkit:requests_waiting:sum", "expr": f"sum by ({BY}) ({m.waiting.name}{_sel(m.engine)})"},
        {"record": "slmkit:requests_running:sum", "expr": f"sum by ({BY}) ({m.running.name}{_sel(m.engine)})"},
        {"record": "slmkit:ttft_seconds:p99_5m",
         "expr": f"histogram_quantile(0.99, sum by (le, {BY}) (rate({m.ttft.name}_bucket{_sel(m.engine)}[5m])))"},
        {"record": "slmkit:generation_tokens:rate5m",
         "expr": f"sum by ({BY}) (rate({m.generation_tokens.name}{_sel(m.engine)}[5m]))"},
    ]
    if m.kv_cache_usage is not None:
        # Average across pods: each pod has its own cache, a sum would read 180% on two half-full pods.
        rules.append({"record": "slmkit:kv_cache_usage:avg",
                      "expr": f"avg by ({BY}) ({m.kv_cache_usage.name}{_sel(m.engine)})"})
    if m.preemptions is not None:
        rules.append({"record": "slmkit:preemptions:rate5m",
                      "expr": f"sum by ({BY}) (rate({m.preemptions.name}{_sel(m.engine)}[5m]))"})
    # The same record name per engine: the engine label keeps the rules distinct (promtool lint).
    return [{**r, "labels": {"slmkit_engine": m.engine}} for r in rules]


def _regex(names: list[str]) -> str:
    return "|".join(sorted(names))


def server_alerts(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[Alert]:
    t = cfg.monitoring.alerts
    engines = {ep.engine for ep in endpoints if ep.metrics_path}
    alerts: list[Alert] = []
    if engines:
        ratio = "slmkit:request_errors:rate5m / slmkit:requests:rate5m"
        alerts += [
            Alert("SlmErrorRateCritical", f"{ratio} > {t.error_rate_critical}", "2m", "critical",
                  "Model server {{ $labels.server }} fails more than " + f"{t.error_rate_critical:.0%} of requests",
                  "{{ $value | humanizePercentage }} of API requests to {{ $labels.server }} returned 5xx over the last 5 minutes."),
            Alert("SlmErrorRateHigh", f"{ratio} > {t.error_rate_warning}", "10m", "warning",
                  "Model server {{ $labels.server }} fails more than " + f"{t.error_rate_warning:.0%} of requests",
                  "{{ $value | humanizePercentage }} of API requests to {{ $labels.server }} returned 5xx for 10 minutes."),
            Alert("SlmTtftP99Critical", f"slmkit:ttft_seconds:p99_5m > {t.ttft_p99_critical_seconds}", "5m", "critical",
                  "P99 time to first token of {{ $labels.server }} is above " + f"{t.ttft_p99_critical_seconds:g} s",
                  "P99 TTFT is {{ $value | humanizeDuration }}: users wait that long before any text appears."),
            Alert("SlmTtftP99High", f"slmkit:ttft_seconds:p99_5m > {t.ttft_p99_warning_seconds}", "5m", "warning",
                  "P99 time to first token of {{ $labels.server }} is above " + f"{t.ttft_p99_warning_seconds:g} s",
                  "P99 TTFT is {{ $value | humanizeDuration }} over the last 5 minutes."),
            Alert("SlmQueueBacklog", f"slmkit:requests_waiting:sum > {t.queue_backlog:g}", "5m", "warning",
                  "{{ $value }} requests are waiting at {{ $labels.server }}",
                  f"More than {t.queue_backlog:g} requests have been queued for 5 minutes: the server is saturated."),
            Alert("SlmMetricsTargetDown", 'up{slmkit_engine=~".+"} == 0', "5m", "warning",
                  "Prometheus cannot scrape {{ $labels.server }} ({{ $labels.instance }})",
                  "The pod's /metrics endpoint has not answered for 5 minutes; the pod may be loading, hung or crash-looping."),
        ]
    if "vllm" in engines:
        alerts += [
            Alert("SlmKvCacheNearFull", f"slmkit:kv_cache_usage:avg > {t.kv_cache_usage}", "10m", "warning",
                  "KV cache of {{ $labels.server }} is {{ $value | humanizePercentage }} full",
                  "Average KV-cache usage across the server's pods has stayed above " + f"{t.kv_cache_usage:.0%}"
                  " for 10 minutes; new requests queue or preempt others."),
            Alert("SlmPreemptions", f"slmkit:preemptions:rate5m > {t.preemptions_per_second:g}", "5m", "warning",
                  "{{ $labels.server }} preempts {{ $value | humanize }} requests/s",
                  "vLLM evicts running requests to free KV cache and recomputes them later: latency rises."),
        ]
    always_on = [ep.deployment_name for ep in endpoints if ep.min_replicas >= 1]
    if always_on:
        sel = f'namespace="{cfg.namespaces.models}", deployment=~"{_regex(always_on)}"'
        alerts.append(Alert(
            "SlmNoBackendUp",
            f"(kube_deployment_spec_replicas{{{sel}}} > 0) unless on (namespace, deployment) "
            f"(kube_deployment_status_replicas_available{{{sel}}} > 0)", "1m", "critical",
            "No replica of {{ $labels.deployment }} is available",
            "Every request for this model fails: the Deployment wants replicas but none is ready."))
    models = f'namespace="{cfg.namespaces.models}"'
    alerts += [
        Alert("SlmPodRestarting",
              f"increase(kube_pod_container_status_restarts_total{{{models}}}[30m]) >= {t.pod_restarts}", "0m", "warning",
              "{{ $labels.pod }} restarted {{ $value | humanize }} times in 30 minutes",
              "The container keeps restarting: look at its previous logs and events."),
        Alert("SlmOomKilled",
              f"(increase(kube_pod_container_status_restarts_total{{{models}}}[10m]) > 0) and on (namespace, pod, container) "
              f'(kube_pod_container_status_last_terminated_reason{{{models}, reason="OOMKilled"}} == 1)', "0m", "warning",
              "{{ $labels.pod }} was killed for running out of memory",
              "The container exceeded its memory limit and was OOM-killed."),
    ]
    return alerts


def platform_alerts(cfg: StackConfig) -> list[Alert]:
    t = cfg.monitoring.alerts
    alerts: list[Alert] = []
    if gpu_metrics_source(cfg) != "none":
        d = catalog.DCGM
        alerts.append(Alert(
            "SlmGpuMemoryHigh", f"{d.fb_used.name} / ({d.fb_used.name} + {d.fb_free.name}) > {t.gpu_memory_usage}",
            "10m", "warning",
            "GPU {{ $labels.gpu }} on {{ $labels.Hostname }} is {{ $value | humanizePercentage }} full",
            "Framebuffer memory has stayed above " + f"{t.gpu_memory_usage:.0%}" + " for 10 minutes; a model load or a longer context can fail with CUDA out of memory."))
    if cfg.loadtest.gate:
        alerts.append(Alert(
            "SlmLoadTestGateFailed", f'kube_job_status_failed{{namespace="{cfg.namespaces.loadtest}"}} > 0', "0m", "warning",
            "Load-test job {{ $labels.job_name }} failed",
            "The post-deploy gate did not meet its SLOs or its checks failed; the last `pulumi up` failed with it."))
    return alerts


def rule_groups(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[dict]:
    engines = sorted({ep.engine for ep in endpoints if ep.metrics_path})
    recording = [r for e in engines for r in engine_recording_rules(catalog.ENGINES[e])]
    groups = []
    if recording:
        groups.append({"name": "slmkit.recording", "interval": cfg.monitoring.scrape_interval, "rules": recording})
    server = [a.rule() for a in server_alerts(cfg, endpoints)]
    if server:
        groups.append({"name": "slmkit.servers", "rules": server})
    platform = [a.rule() for a in platform_alerts(cfg)]
    if platform:
        groups.append({"name": "slmkit.platform", "rules": platform})
    return groups


def prometheus_rule(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> dict:
    return {
        "apiVersion": API, "kind": "PrometheusRule",
        "metadata": meta(RULE_NAME, cfg.namespaces.monitoring, {**SELECT_LABEL, "app.kubernetes.io/component": "monitoring"}),
        "spec": {"groups": rule_groups(cfg, endpoints)},
    }


def alert_names(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[str]:
    return [a.name for a in server_alerts(cfg, endpoints) + platform_alerts(cfg)]
