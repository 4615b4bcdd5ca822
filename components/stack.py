"""Builds a whole stack from the validated config, one concern after the other.

Order matters: the provider first, then namespaces and secrets, the model servers, and what
observes, fronts and tests them. Each concern is one component; this file only wires them.
"""

from __future__ import annotations

import pulumi

from components.chat_ui import ChatUi
from components.config import LoadedConfig
from components.context import StackContext
from components.loadtest import LoadTest
from components.monitoring import Monitoring
from components.platform.keyvault import secret_store
from components.platform.namespaces import Namespaces
from components.servers import ModelServer
from components.traffic.autoscaling import has_autoscaler
from components.traffic.component import Traffic


def platform_provider(ctx: StackContext):
    cluster = ctx.cfg.cluster
    if cluster.kind == "existing":
        from components.platform.existing import existing_cluster_provider

        return existing_cluster_provider(cluster)
    # AKS: the provider is built from the new cluster's credentials.
    from components.platform.aks import aks_provider

    return aks_provider(ctx)


def build_stack(loaded: LoadedConfig) -> StackContext:
    for line in loaded.warning_lines():
        pulumi.log.warn(line)
    ctx = StackContext(loaded)
    ctx.provider = platform_provider(ctx)
    Namespaces(ctx)
    ctx.secrets = secret_store(ctx)  # Key Vault + CSI on AKS, Kubernetes Secrets elsewhere
    # When an autoscaler owns a Deployment, `pulumi up` leaves its replica count alone.
    servers = [ModelServer(ctx, ep, autoscaled=has_autoscaler(ctx.cfg, ep.spec)) for ep in ctx.endpoints]
    Monitoring(ctx)
    traffic = Traffic(ctx, depends_on=servers)  # gateway, autoscaling, network policies
    LoadTest(ctx, servers, after=[traffic])  # the gate runs once the servers and the gateway are ready
    if ctx.cfg.chat_ui.enabled:
        ChatUi(ctx, after=[traffic])  # Open WebUI talks to the gateway with its own key
    ctx.outputs["servers"] = {s.endpoint.name: {"url": s.endpoint.url, "models": list(s.endpoint.served_names),
                                                "startupBudgetSeconds": s.startup_budget_s} for s in servers}
    ctx.outputs["serverApiKey"] = ctx.secrets.server_api_key
    return ctx
