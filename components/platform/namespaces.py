"""The namespaces the kit owns, with Pod Security Admission `restricted` enforced."""

from __future__ import annotations

import pulumi

from components.config import StackConfig
from components.context import StackContext
from components.k8s import objects
from components.k8s.declare import declare

# Operator namespaces run third-party charts (Envoy, KEDA, cert-manager) whose pods are not all
# `restricted`-compliant: `baseline` there, `restricted` where the kit's own pods run. Node exporter
# (and dcgm-exporter) need host network, PID and paths, which only `privileged` admits.
POD_SECURITY = {"monitoring": "privileged", "gateway": "baseline", "system": "baseline"}


def kit_namespaces(cfg: StackConfig) -> dict[str, str]:
    """role -> namespace name, for every namespace the kit owns."""
    ns = cfg.namespaces
    out = {"models": ns.models, "loadtest": ns.loadtest, "system": ns.system}
    if cfg.monitoring.enabled:
        out["monitoring"] = ns.monitoring
    if cfg.gateway.enabled:
        out["gateway"] = ns.gateway
    return out


def namespace_objects(cfg: StackConfig) -> list[dict]:
    return [objects.namespace(name, POD_SECURITY.get(role, "restricted"))
            for role, name in kit_namespaces(cfg).items()]


class Namespaces(pulumi.ComponentResource):
    def __init__(self, ctx: StackContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slmkit:platform:Namespaces", "namespaces", None, opts)
        for obj in namespace_objects(ctx.cfg):
            ctx.namespaces[obj["metadata"]["name"]] = declare(obj, ctx.opts(parent=self))
        self.register_outputs({})
