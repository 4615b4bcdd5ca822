"""Grafana dashboards as code (grafana-foundation-sdk), provisioned as ConfigMaps that Grafana's
dashboard sidecar loads (label `grafana_dashboard: "1"`).

Two dashboards: the SLM overview (traffic, errors, latency percentiles, tokens, queue, KV cache,
preemptions, replicas) and the GPU page (DCGM: utilization, memory, temperature, power per node and
pod). Each panel has one query per engine the stack runs, with that engine's metric names from
components/catalog/metrics.py, plus the gateway's token counts, which also cover Ollama.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common, dashboard, logs, loki, prometheus, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as viz
from grafana_foundation_sdk.models.dashboard import DataSourceRef

from components.catalog import metrics as catalog
from components.catalog.metrics import EngineMetrics
from components.config import StackConfig
from components.endpoints import ServerEndpoint
from components.k8s.objects import config_map

from .scrape import gpu_metrics_source

SIDECAR_LABEL = {"grafana_dashboard": "1"}
FOLDER_ANNOTATION = {"grafana_folder": "slmkit"}  # sidecar folderAnnotation (values set in stack.py)
OVERVIEW_UID = "slmkit-overview"
GPU_UID = "slmkit-gpu"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "$__rate_interval"
WIDTH, HEIGHT = 12, 8


def _target(expr: str, legend: str, ref: str) -> prometheus.Dataquery:
    return prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DS)


def _panel(title: str, unit: str, targets: list[tuple[str, str]], description: str = "") -> timeseries.Panel:
    panel = (timeseries.Panel().title(title).unit(unit).datasource(DS).height(HEIGHT).span(WIDTH)
             .legend(common.VizLegendOptions().display_mode(viz.LegendDisplayMode.TABLE)
                     .placement(viz.LegendPlacement.BOTTOM).show_legend(True))
             # one line per server/percentile: show them all when hovering, worst first
             .tooltip(common.VizTooltipOptions().mode(viz.TooltipDisplayMode.MULTI).sort(viz.SortOrder.DESCENDING)))
    if description:
        panel = panel.description(description)
    for i, (expr, legend) in enumerate(targets):
        panel = panel.with_target(_target(expr, legend, chr(ord("A") + i)))
    return panel


def _s(m: EngineMetrics, *extra: str) -> str:
    """Selector for one engine's series of the servers picked in the dashboard's `server` variable."""
    return "{" + ", ".join([f'slmkit_engine="{m.engine}"', 'server=~"$server"', *extra]) + "}"


def _quantiles(fam: str, m: EngineMetrics, qs: tuple[float, ...]) -> list[tuple[str, str]]:
    return [(f"histogram_quantile({q}, sum by (le, server) (rate({fam}_bucket{_s(m)}[{RATE}])))",
             f"{{{{server}}}} p{round(q * 100)}") for q in qs]


def overview_panels(engines: list[EngineMetrics], models_ns: str, gateway: bool) -> list[timeseries.Panel]:
    def each(build) -> list[tuple[str, str]]:
        return [t for m in engines for t in build(m)]

    def api(m: EngineMetrics) -> list[str]:
        return [f'handler=~"{m.api_handler}"'] if m.api_handler else []

    panels = [
        _panel("Requests per second", "reqps", each(lambda m: [
            (f"sum by (server) (rate({m.requests.name}{_s(m, *api(m))}[{RATE}]))", "{{server}}")])),
        _panel("Error rate (5xx share)", "percentunit", each(lambda m: [(_error_ratio(m), "{{server}}")])),
        _panel("Time to first token", "s", each(lambda m: _quantiles(m.ttft.name, m, (0.5, 0.9, 0.99)))),
        _panel("Inter-token latency", "s", each(lambda m: _quantiles(m.itl.name, m, (0.5, 0.99)))),
        _panel("End-to-end request latency", "s", each(lambda m: _quantiles(m.e2e.name, m, (0.5, 0.99)))),
        _panel("Output tokens per second", "short", each(lambda m: [
            (f"sum by (server) (rate({m.generation_tokens.name}{_s(m)}[{RATE}]))", "{{server}}")])
            + _gateway_tokens(gateway),
            "Server-side counts per engine; `gateway` lines count tokens per model at the Envoy AI Gateway "
            "(the only source for Ollama)."),
        _panel("Requests waiting (queue depth)", "short", each(lambda m: [
            (f"sum by (server) ({m.waiting.name}{_s(m)})", "{{server}}")])),
        _panel("Requests running", "short", each(lambda m: [
            (f"sum by (server) ({m.running.name}{_s(m)})", "{{server}}")])),
        _panel("KV-cache usage (average across pods)", "percentunit", [
            (f"avg by (server) ({m.kv_cache_usage.name}{_s(m)})", "{{server}}") for m in engines if m.kv_cache_usage]),
        _panel("Preemptions per second", "short", [
            (f"sum by (server) (rate({m.preemptions.name}{_s(m)}[{RATE}]))", "{{server}}") for m in engines if m.preemptions]),
        _panel("Tokens per model at the gateway", "short", _gateway_tokens_by_type(gateway),
               "Input and output tokens per second per requested model, counted by the Envoy AI Gateway for "
               "every backend (Ollama included)."),
        _panel("Replicas", "short", [
            (f'sum by (deployment) ({catalog.KUBE_STATE["replicas_available"].name}{{namespace="{models_ns}", deployment=~"$server"}})',
             "{{deployment}} available"),
            (f'sum by (deployment) ({catalog.KUBE_STATE["replicas_spec"].name}{{namespace="{models_ns}", deployment=~"$server"}})',
             "{{deployment}} desired")]),
    ]
    # An engine without KV-cache or preemption metrics (ONNX) leaves those panels empty: drop them.
    return [p for p in panels if p.build().targets]


def _gateway_tokens_by_type(gateway: bool) -> list[tuple[str, str]]:
    if not gateway:
        return []
    g = catalog.GATEWAY
    return [(f'sum by ({g.model_label}) (rate({g.token_usage.name}_sum{{{g.token_type_label}="{kind}"}}[{RATE}]))',
             "{{" + g.model_label + "}} " + kind) for kind in ("input", "output")]


def _error_ratio(m: EngineMetrics) -> str:
    api = [f'handler=~"{m.api_handler}"'] if m.api_handler else []
    failed = f'status=~"{m.server_error_status}"'
    errors = f"sum by (server) (rate({m.requests.name}{_s(m, *api, failed)}[{RATE}]))"
    return f"{errors} / sum by (server) (rate({m.requests.name}{_s(m, *api)}[{RATE}]))"


def _gateway_tokens(gateway: bool) -> list[tuple[str, str]]:
    if not gateway:
        return []
    g = catalog.GATEWAY
    return [(f'sum by ({g.model_label}) (rate({g.token_usage.name}_sum{{{g.token_type_label}="output"}}[{RATE}]))',
             "gateway {{" + g.model_label + "}}")]


def gpu_panels() -> list[timeseries.Panel]:
    d = catalog.DCGM
    node = "Hostname, gpu"
    return [
        _panel("GPU utilization per node", "percent", [(f"avg by ({node}) ({d.gpu_util.name})", "{{Hostname}} gpu{{gpu}}")]),
        _panel("GPU utilization per pod", "percent", [(f'avg by (namespace, pod) ({d.gpu_util.name}{{pod!=""}})', "{{namespace}}/{{pod}}")],
               "Utilization stays near 100% under any load with vLLM: scale on queue depth, not on this."),
        _panel("GPU memory used per node", "bytes", [(f"sum by ({node}) ({d.fb_used.name}) * 1048576", "{{Hostname}} gpu{{gpu}} used"),
                                                     (f"sum by ({node}) ({d.fb_used.name} + {d.fb_free.name}) * 1048576", "{{Hostname}} gpu{{gpu}} total")]),
        _panel("GPU memory used per pod", "bytes", [(f'sum by (namespace, pod) ({d.fb_used.name}{{pod!=""}}) * 1048576', "{{namespace}}/{{pod}}")]),
        _panel("GPU temperature", "celsius", [(f"max by ({node}) ({d.temperature.name})", "{{Hostname}} gpu{{gpu}}")]),
        _panel("GPU power per node", "watt", [(f"sum by ({node}) ({d.power.name})", "{{Hostname}} gpu{{gpu}}")]),
        _panel("GPU power per pod", "watt", [(f'sum by (namespace, pod) ({d.power.name}{{pod!=""}})', "{{namespace}}/{{pod}}")]),
    ]


# --- logs (Loki) and vertical scaling (VPA) ---------------------------------------------------------

LOKI_DS = DataSourceRef(type_val="loki", uid="slmkit-loki")  # logs.DATASOURCE_UID (provisioned by helm.py)
LATENCY_PANELS = ("Time to first token", "Inter-token latency", "End-to-end request latency")


def server_logs_query(models_ns: str, server: str = "$server") -> str:
    """LogQL for a server's pod logs; the stream labels are the collector's (logs.STREAM_LABELS)."""
    return f'{{namespace="{models_ns}", server=~"{server}"}}'


def logs_explore_url(models_ns: str) -> str:
    """Grafana Explore on Loki for the clicked series' server over the dashboard's current time range
    (zoom into a spike, then click it). Grafana fills the ${...} variables and URL-encodes the labels."""
    import json
    from urllib.parse import quote

    query = f'{{namespace="{models_ns}", server="SERVER"}}'
    panes = {"logs": {"datasource": LOKI_DS.uid, "queries": [{"refId": "A", "expr": query,
                                                              "datasource": {"type": "loki", "uid": LOKI_DS.uid}}],
                      "range": {"from": "FROM", "to": "TO"}}}
    encoded = quote(json.dumps(panes, separators=(",", ":")), safe="")
    return ("/explore?schemaVersion=1&orgId=1&panes=" + encoded.replace("SERVER", "${__field.labels.server:percentencode}")
            .replace("FROM", "${__from}").replace("TO", "${__to}"))


def with_logs_link(panel: timeseries.Panel, models_ns: str) -> timeseries.Panel:
    link = dashboard.DashboardLink("Logs of this server in this time range").url(logs_explore_url(models_ns)).target_blank(True)
    return panel.data_links([link])


def logs_panel(models_ns: str) -> logs.Panel:
    target = loki.Dataquery().expr(server_logs_query(models_ns)).ref_id("A").datasource(LOKI_DS).max_lines(500)
    return (logs.Panel().title("Server logs").datasource(LOKI_DS).height(HEIGHT + 4).span(24)
            .description("Pod logs of the selected servers (Loki). The ONNX server's lines carry the request_id the "
                         "load-test gate records; add `|= \"<id>\"` in Explore to follow one request.")
            .show_time(True).wrap_log_message(True).enable_log_details(True).sort_order("Descending")
            .with_target(target))


def vpa_panels() -> list[timeseries.Panel]:
    rec = catalog.VPA_RECOMMENDATION
    by = "target_name, container"
    out = []
    for resource, unit, title in (("cpu", "short", "VPA recommended CPU (cores)"), ("memory", "bytes", "VPA recommended memory")):
        out.append(_panel(title, unit, [
            (f'max by ({by}) ({rec["target"].name}{{resource="{resource}"}})', "{{target_name}}/{{container}} target"),
            (f'max by ({by}) ({rec["upperbound"].name}{{resource="{resource}"}})', "{{target_name}}/{{container}} upper"),
        ], "Requests the Vertical Pod Autoscaler recommends for the CPU servers and the gateway proxies "
           "(updateMode Off: recommendations only, compare with resources in the stack file)."))
    return out


def _datasource_variable() -> dashboard.DatasourceVariable:
    return dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")


def overview_dashboard(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> dict:
    engines = [catalog.ENGINES[e] for e in sorted({ep.engine for ep in endpoints if ep.metrics_path})]
    names = ",".join(ep.name for ep in endpoints)
    builder = (dashboard.Dashboard("SLM overview").uid(OVERVIEW_UID).tags(["slmkit"]).refresh("30s")
               .time("now-1h", "now").editable()
               .with_variable(_datasource_variable())
               .with_variable(dashboard.CustomVariable("server").label("Server").values(names).include_all(True)
                              .all_value(".*").multi(True)))
    from components.config.monitoring import logs_enabled
    from components.config.vertical import vpa_enabled

    with_logs = logs_enabled(cfg)
    for panel in overview_panels(engines, cfg.namespaces.models, cfg.gateway.enabled):
        if with_logs and panel.build().title in LATENCY_PANELS:
            panel = with_logs_link(panel, cfg.namespaces.models)
        builder = builder.with_panel(panel)
    if vpa_enabled(cfg):
        for panel in vpa_panels():
            builder = builder.with_panel(panel)
    if with_logs:
        builder = builder.with_panel(logs_panel(cfg.namespaces.models))
    return _to_dict(builder)


def gpu_dashboard() -> dict:
    builder = (dashboard.Dashboard("SLM GPUs").uid(GPU_UID).tags(["slmkit", "gpu"]).refresh("30s")
               .time("now-1h", "now").editable().with_variable(_datasource_variable()))
    for panel in gpu_panels():
        builder = builder.with_panel(panel)
    return _to_dict(builder)


def _to_dict(builder: dashboard.Dashboard) -> dict:
    import json

    return json.loads(JSONEncoder(sort_keys=True).encode(builder.build()))


def dashboards(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> dict[str, dict]:
    """uid -> dashboard JSON model."""
    out = {OVERVIEW_UID: overview_dashboard(cfg, endpoints)}
    if gpu_metrics_source(cfg) != "none":
        out[GPU_UID] = gpu_dashboard()
    return out


def dashboard_config_maps(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[dict]:
    import json

    out = []
    for uid, model in dashboards(cfg, endpoints).items():
        cm = config_map(f"{uid}-dashboard", cfg.namespaces.monitoring,
                        {**SIDECAR_LABEL, "app.kubernetes.io/component": "monitoring"},
                        {f"{uid}.json": json.dumps(model, indent=1, sort_keys=True)})
        cm["metadata"]["annotations"] = dict(FOLDER_ANNOTATION)
        out.append(cm)
    return out
