"""The gateway section: the authenticated OpenAI-compatible front door."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import ConfigModel


class Tls(ConfigModel):
    issuer: Literal["self-signed", "letsencrypt", "letsencrypt-staging"] = "self-signed"
    email: str | None = None  # required for Let's Encrypt


class RateLimit(ConfigModel):
    tokens_per_minute: int = Field(gt=0)


class Gateway(ConfigModel):
    enabled: bool = True
    hostname: str | None = None  # e.g. llm.example.com; None: any host (local)
    tls: Tls = Field(default_factory=Tls)
    api_key_names: list[str] = Field(default_factory=lambda: ["primary", "secondary"], min_length=1)
    rate_limit: RateLimit | None = None  # per API key
    request_buffer_limit: str = "4Mi"
    request_timeout_seconds: int = Field(default=600, ge=30)
