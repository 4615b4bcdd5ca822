"""KEDA ScaledObjects: one per model-server Deployment that autoscales, none otherwise.

Signals (GPU utilization is pegged under any load, so it is never used):
  vLLM    requests waiting (vllm:num_requests_waiting), optionally KV-cache use
  ONNX    requests waiting (onnxserver:num_requests_waiting)
  Ollama  no /metrics: requests in flight at the gateway for its model names, by Little's law
          (the sum of request durations per second is the mean number of requests in flight)
Scale to zero adds a keep-alive trigger on the gateway's request count: a server at zero replicas
emits nothing, so only the gateway can wake it (the first requests wait out a cold start).

All triggers use metricType AverageValue over sums, so HPA divides by the replica count (an average
per pod) and KEDA's fallback (only defined for AverageValue) applies.
"""

from __future__ import annotations

import re

from components.catalog import metrics as catalog
from components.catalog import upstream
from components.config import StackConfig
from components.config.checks import autoscaler_wanted
from components.endpoints import ServerEndpoint
from components.k8s.objects import meta
from components.monitoring import helm as monitoring_helm

API = "keda.sh/v1alpha1"
LABELS = {"app.kubernetes.io/component": "autoscaling"}
# The monitoring stack's PodMonitors label every server series with `server` (scrape.py).
SERVER_LABEL = "server"
PROMETHEUS_PORT = upstream.PROMETHEUS_PORT.value
# kube-prometheus-stack names its Prometheus Service `<fullnameOverride>-prometheus`.
PROMETHEUS_SERVICE = f"{monitoring_helm.FULLNAME}-prometheus"
FALLBACK_AFTER_FAILURES = 3


def prometheus_url(cfg: StackConfig) -> str:
    """The one place the autoscaler learns where Prometheus is."""
    return f"http://{PROMETHEUS_SERVICE}.{cfg.namespaces.monitoring}.svc.cluster.local:{PROMETHEUS_PORT}"


def _selector(ep: ServerEndpoint) -> str:
    return f'{{namespace="{ep.namespace}",{SERVER_LABEL}="{ep.name}"}}'


def _model_regex(ep: ServerEndpoint) -> str:
    """A PromQL label regex matching exactly the server's model names ('.' in qwen2.5 escaped)."""
    alternatives = "|".join(re.escape(n) for n in ep.served_names)
    return alternatives.replace("\\", "\\\\")  # PromQL string literals need the backslash doubled


def _gateway_selector(ep: ServerEndpoint) -> str:
    return f'{{{catalog.GATEWAY.model_label}=~"{_model_regex(ep)}"}}'


def _trigger(name: str, query: str, threshold: float, cfg: StackConfig, activation: float | None = None) -> dict:
    metadata = {"serverAddress": prometheus_url(cfg), "query": query, "threshold": _num(threshold),
                "ignoreNullValues": "true"}  # no series yet (no traffic) means 0, not an error
    if activation is not None:
        metadata["activationThreshold"] = _num(activation)
    return {"type": "prometheus", "name": name, "metricType": "AverageValue", "metadata": metadata}


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def triggers(cfg: StackConfig, ep: ServerEndpoint) -> list[dict]:
    auto = ep.spec.autoscaling
    out: list[dict] = []
    if ep.engine in catalog.ENGINES:
        engine = catalog.ENGINES[ep.engine]
        out.append(_trigger("queue", f"sum({engine.waiting.name}{_selector(ep)})", auto.target_queue_depth, cfg))
        if auto.kv_cache_threshold is not None and engine.kv_cache_usage is not None:
            # Summed, then divided by the replicas by AverageValue: the mean KV-cache use per pod.
            out.append(_trigger("kv-cache", f"sum({engine.kv_cache_usage.name}{_selector(ep)})",
                                auto.kv_cache_threshold, cfg))
    else:
        slots = ep.spec.ollama.num_parallel
        in_flight = f"sum(rate({catalog.GATEWAY.request_duration.name}_sum{_gateway_selector(ep)}[2m]))"
        out.append(_trigger("in-flight", in_flight, slots + auto.target_queue_depth, cfg))
    if auto.scale_to_zero:
        window = f"{auto.cooldown_seconds}s"
        seen = f"sum(increase({catalog.GATEWAY.request_duration.name}_count{_gateway_selector(ep)}[{window}]))"
        # 1 while any request reached the gateway in the window: wakes the server and keeps one replica.
        out.append(_trigger("keep-alive", f"clamp_max(ceil({seen}), 1)", 1, cfg, activation=0))
    return out


def hpa_behavior(ep: ServerEndpoint) -> dict:
    """New replicas take minutes to load a model: add at most one (or double) per minute after a
    stabilization window, and remove one at a time, slowly, so a lull does not discard warm replicas."""
    auto = ep.spec.autoscaling
    return {
        "scaleUp": {"stabilizationWindowSeconds": auto.scale_up_stabilization_seconds, "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60},
                                 {"type": "Percent", "value": 100, "periodSeconds": 60}]},
        "scaleDown": {"stabilizationWindowSeconds": auto.scale_down_stabilization_seconds, "selectPolicy": "Min",
                      "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}]},
    }


def scaled_object(cfg: StackConfig, ep: ServerEndpoint) -> dict:
    auto = ep.spec.autoscaling
    fallback = auto.fallback_replicas or max(ep.min_replicas, 1)
    spec: dict = {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": ep.deployment_name},
        "minReplicaCount": ep.min_replicas,
        "maxReplicaCount": ep.max_replicas,
        "pollingInterval": auto.polling_interval_seconds,
        # Prometheus unreachable: keep what runs, never fewer than the fallback.
        "fallback": {"failureThreshold": FALLBACK_AFTER_FAILURES, "replicas": fallback,
                     "behavior": "currentReplicasIfHigher"},
        "advanced": {"horizontalPodAutoscalerConfig": {"name": f"{ep.name}-keda", "behavior": hpa_behavior(ep)}},
        "triggers": triggers(cfg, ep),
    }
    if auto.scale_to_zero:
        spec["cooldownPeriod"] = auto.cooldown_seconds
        spec["initialCooldownPeriod"] = auto.cooldown_seconds  # a new server is not put to sleep while loading
    return {"apiVersion": API, "kind": "ScaledObject",
            "metadata": meta(ep.name, ep.namespace, {**LABELS, "app.kubernetes.io/instance": ep.name}), "spec": spec}


def scaled_objects(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[dict]:
    return [scaled_object(cfg, ep) for ep in endpoints if autoscaler_wanted(ep.spec)]


def has_autoscaler(cfg: StackConfig, spec) -> bool:
    """Whether a ScaledObject owns this server's Deployment (the server component then leaves
    `replicas` to it). cfg is part of the signature the stack wiring calls."""
    return autoscaler_wanted(spec)
