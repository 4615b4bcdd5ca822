"""Per-server autoscaling (KEDA on the engine's queue metric). Bounds come from `replicas`."""

from __future__ import annotations

from pydantic import Field

from .base import ConfigModel


class ServerAutoscaling(ConfigModel):
    """KEDA knobs for one server. No autoscaler exists when `enabled` is false or replicas.min == max."""

    enabled: bool = True
    # Requests waiting per replica before another replica is added (production-stack uses 5, KAITO 10).
    # Ollama has no queue metric: there it is requests in flight per replica beyond its parallel slots.
    target_queue_depth: float = Field(default=5, gt=0)
    kv_cache_threshold: float | None = Field(default=None, gt=0, le=1)  # vLLM only: scale on KV-cache use too
    scale_to_zero: bool = False  # needs replicas.min: 0; the first request after idle waits a cold start
    cooldown_seconds: int = Field(default=360, ge=30)  # idle time before scaling to zero
    polling_interval_seconds: int = Field(default=15, ge=5, le=300)
    scale_up_stabilization_seconds: int = Field(default=60, ge=0, le=3600)
    scale_down_stabilization_seconds: int = Field(default=300, ge=0, le=3600)
    fallback_replicas: int | None = Field(default=None, ge=1)  # when Prometheus is unreachable; default replicas.min


def trigger_types(spec) -> set[str]:
    """KEDA trigger types of a server's ScaledObject: every trigger the kit builds is a Prometheus query
    (components/traffic/autoscaling.py `_trigger`; tests/traffic/test_vertical.py holds the two together).
    A CPU or memory trigger added there must be added here, so vertical: auto is refused beside it."""
    return {"prometheus"}
