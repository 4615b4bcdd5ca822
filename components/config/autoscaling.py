"""Per-server autoscaling (KEDA on the engine's queue metric)."""

from __future__ import annotations

from pydantic import Field

from .base import ConfigModel


class ServerAutoscaling(ConfigModel):
    """Per-server autoscaling knobs (KEDA). Bounds come from `replicas`."""

    enabled: bool = True
    target_queue_depth: float = Field(default=5, gt=0)  # waiting requests per replica
    kv_cache_threshold: float | None = Field(default=None, gt=0, le=1)
    scale_to_zero: bool = False
    cooldown_seconds: int = Field(default=360, ge=30)
    scale_up_stabilization_seconds: int = Field(default=60, ge=0)
    scale_down_stabilization_seconds: int = Field(default=300, ge=0)
    fallback_replicas: int | None = Field(default=None, ge=1)
