"""Observability: kube-prometheus-stack, scraping of model servers, gateway and GPUs, dashboards as
code and alert rules. `Monitoring(ctx)` declares it all; the builders live in the sibling modules."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config.base import NAMESPACE
from components.context import StackContext
from components.k8s import objects
from components.k8s.declare import declare

from . import alerts, dashboards, helm, logs, scrape

__all__ = ["Monitoring", "grafana_admin_secret"]


def grafana_admin_secret(namespace: str, password: pulumi.Input[str]) -> dict:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": objects.meta(helm.GRAFANA_ADMIN_SECRET, namespace, {"app.kubernetes.io/component": "monitoring"}),
            "type": "Opaque",
            "stringData": {helm.GRAFANA_ADMIN_USER_KEY: "admin", helm.GRAFANA_ADMIN_PASSWORD_KEY: password}}


def _release(name: str, chart, namespace: str, values: dict, opts: pulumi.ResourceOptions) -> k8s.helm.v3.Release:
    return k8s.helm.v3.Release(
        name, name=name, chart=chart.name, version=chart.version, namespace=namespace,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=chart.repo), values=values,
        atomic=True, cleanup_on_fail=True, timeout=900, opts=opts)


class Monitoring(pulumi.ComponentResource):
    """Prometheus, Alertmanager and Grafana (one pinned chart), then what they read: monitors,
    the PrometheusRule and dashboard ConfigMaps. Custom resources wait for the chart's CRDs."""

    def __init__(self, ctx: StackContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slmkit:monitoring:Monitoring", "monitoring", None, opts)
        cfg = ctx.cfg
        self.enabled = cfg.monitoring.enabled
        if not self.enabled:
            self.register_outputs({})
            return
        ns = cfg.namespaces.monitoring
        endpoints = ctx.endpoints

        password = pulumi.Config(NAMESPACE).get_secret("grafanaAdminPassword")
        if password is None:
            generated = random.RandomPassword("grafana-admin-password", length=32, special=False,
                                              opts=pulumi.ResourceOptions(parent=self))
            password = generated.result
        self.grafana_admin_password: pulumi.Output[str] = pulumi.Output.secret(password)
        admin = declare(grafana_admin_secret(ns, self.grafana_admin_password), ctx.opts(parent=self, namespace=ns))

        self.release = _release(helm.STACK_RELEASE, helm.stack_chart(), ns, helm.stack_values(cfg),
                                ctx.opts(parent=self, namespace=ns, depends_on=[admin]))
        after_chart = [self.release]
        if scrape.gpu_metrics_source(cfg) == "dcgm-exporter":
            after_chart.append(_release(scrape.DCGM_RELEASE, helm.dcgm_chart(), ns, helm.dcgm_values(cfg),
                                        ctx.opts(parent=self, namespace=ns)))

        crs = scrape.monitors(cfg, endpoints) + [alerts.prometheus_rule(cfg, endpoints)]
        for obj in crs:
            declare(obj, ctx.opts(parent=self, namespace=ns, depends_on=after_chart))
        for obj in dashboards.dashboard_config_maps(cfg, endpoints):
            declare(obj, ctx.opts(parent=self, namespace=ns))
        if logs.enabled(cfg):
            self._logs(ctx, ns)

        self.grafana_port_forward = f"kubectl -n {ns} port-forward svc/{helm.GRAFANA_SERVICE} 3000:80"
        ctx.outputs["grafanaAdminPassword"] = self.grafana_admin_password
        ctx.outputs["grafana"] = {"portForward": self.grafana_port_forward, "url": "http://127.0.0.1:3000",
                                  "user": "admin"}
        self.register_outputs({"grafanaPortForward": self.grafana_port_forward})

    def _logs(self, ctx: StackContext, ns: str) -> None:
        """Loki (its rule files first), then the collector that pushes to it."""
        cfg = ctx.cfg
        blob, azure = None, []
        if cfg.is_aks and ctx.platform is not None:
            from .log_store import azure_log_store

            blob, azure = azure_log_store(cfg, ctx.platform, self)
        rules = [declare(logs.rules_config_map(cfg), ctx.opts(parent=self, namespace=ns))] if cfg.monitoring.logs.alerts else []
        loki = _release(logs.LOKI_RELEASE, logs.loki_chart(), ns, logs.loki_values(cfg, blob),
                        ctx.opts(parent=self, namespace=ns, depends_on=[*rules, *azure, self.release]))
        _release(logs.ALLOY_RELEASE, logs.alloy_chart(), ns, logs.alloy_values(cfg),
                 ctx.opts(parent=self, namespace=ns, depends_on=[loki]))
        ctx.outputs["logs"] = {"loki": logs.loki_url(cfg), "grafanaExplore": "http://127.0.0.1:3000/explore"}
