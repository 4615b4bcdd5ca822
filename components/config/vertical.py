"""Vertical scaling: Vertical Pod Autoscalers for the CPU servers and the gateway proxies.

Recommendation mode (updateMode Off) by default: the VPA recommender publishes requests that fit
observed usage, nothing is evicted. `vertical: auto` on a CPU server lets the VPA updater recreate its
pods with the recommended requests (the user accepts restarts). GPU servers are sized by the capacity
plan: a GPU pod's memory is the model plus its KV cache, reserved at start, not what usage shows.
"""

from __future__ import annotations

from typing import Literal

from .base import ConfigModel, Problem

Mode = Literal["off", "recommend", "auto"]
# HPA metrics VPA must not share a Deployment with (VPA's own docs: not with HPA on CPU or memory).
RESOURCE_TRIGGERS = frozenset({"cpu", "memory"})


class VerticalScaling(ConfigModel):
    """enabled unset: on AKS (the kit turns on the cluster's managed VPA), off on existing clusters
    until you confirm the cluster runs a VPA (`python -m components.preflight --stack NAME` tells)."""

    enabled: bool | None = None
    gateway: bool = True  # recommendations for the Envoy proxy Deployment too


def vpa_enabled(cfg) -> bool:
    v = cfg.vertical_scaling
    return v.enabled if v.enabled is not None else cfg.is_aks


def server_mode(cfg, spec) -> Mode:
    """What the VPA does for one server: unset means recommend for CPU servers, off for GPU servers."""
    if not vpa_enabled(cfg):
        return "off"
    if spec.vertical is not None:
        return spec.vertical
    return "recommend" if spec.gpus == 0 else "off"


def vertical_problems(cfg, resource_triggers) -> list[Problem]:
    """resource_triggers(spec) -> the CPU/memory trigger types of the server's KEDA ScaledObject."""
    problems: list[Problem] = []
    for i, spec in enumerate(cfg.servers):
        key = f"slmkit:servers[{i}].vertical"
        if spec.vertical in ("recommend", "auto") and spec.gpus > 0:
            problems.append(Problem(key, spec.vertical, "GPU servers are sized by the capacity plan: their memory is the "
                                    "model and KV cache reserved at start, not what usage shows", "remove it (or set off)"))
            continue
        if spec.vertical in ("recommend", "auto") and not vpa_enabled(cfg):
            problems.append(Problem(key, spec.vertical, "this stack has no Vertical Pod Autoscaler (verticalScaling.enabled "
                                    "is off; existing clusters default to off)",
                                    "set slmkit:verticalScaling.enabled: true once preflight shows the cluster runs a VPA"))
            continue
        if server_mode(cfg, spec) != "auto":
            continue
        clash = sorted(resource_triggers(spec) & RESOURCE_TRIGGERS)
        if clash:
            problems.append(Problem(key, "auto", f"the KEDA autoscaler of this Deployment scales on {', '.join(clash)} too: "
                                    "two controllers would fight over one dimension (VPA raises requests, the HPA's "
                                    "utilization drops, it removes replicas)",
                                    "use vertical: recommend, or scale horizontally on queue depth only"))
        elif spec.replicas.max < 2:
            problems.append(Problem(key, "auto", "the VPA updater evicts only while 2 or more replicas are alive; with one "
                                    "it applies recommendations only when a pod is created", "raise replicas.max, or accept "
                                    "that new requests apply at the next rollout", warning=True))
    return problems
