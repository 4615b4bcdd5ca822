"""An existing cluster: the Kubernetes provider from a kubeconfig context."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.config import ExistingCluster


def existing_cluster_provider(cluster: ExistingCluster) -> k8s.Provider:
    """`context: None` means the kubeconfig's current context, as kubectl would use."""
    return k8s.Provider(
        "cluster",
        context=cluster.context,
        kubeconfig=cluster.kubeconfig,
        # Server-side apply: field managers make drift and conflicts with autoscalers visible.
        enable_server_side_apply=True,
        opts=pulumi.ResourceOptions(),
    )
