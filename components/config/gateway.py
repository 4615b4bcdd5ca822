"""The gateway section: the authenticated OpenAI-compatible front door (Envoy Gateway + Envoy AI Gateway)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from components.catalog import upstream
from components.k8s.quantity import parse_quantity

from .base import ConfigModel

# RFC 1123 hostname, optionally with one leading wildcard label (Gateway API listener hostname).
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
# Client names become keys of the API-key Secret and values of the client-id header.
_CLIENT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


class Tls(ConfigModel):
    issuer: Literal["self-signed", "letsencrypt", "letsencrypt-staging"] = "self-signed"
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # required for Let's Encrypt


class RateLimit(ConfigModel):
    """Token budget per API key (prompt + completion tokens, as the server reports them in `usage`)."""

    tokens_per_minute: int = Field(gt=0)


class Gateway(ConfigModel):
    enabled: bool = True
    hostname: str | None = None  # e.g. llm.example.com; None: any host (local, self-signed)
    # AKS without a hostname: the label of the gateway's Azure DNS name <label>.<location>.cloudapp.azure.com
    # (unique in the Azure location). None: slmkit-<environment>-<8 random characters>, kept in the state.
    azure_dns_label: str | None = Field(default=None, pattern=upstream.AZURE_DNS_LABEL_PATTERN.value)
    tls: Tls = Field(default_factory=Tls)
    # One key per name; several names let a key be rotated while the other keeps working.
    api_key_names: list[str] = Field(default_factory=lambda: ["primary", "secondary"], min_length=1)
    rate_limit: RateLimit | None = None  # per API key
    request_buffer_limit: str = "4Mi"  # Envoy's 32 KiB default rejects long prompts
    request_timeout_seconds: int = Field(default=600, ge=30)  # a whole (streamed) response
    stream_idle_timeout_seconds: int = Field(default=300, ge=10)  # no byte either way (a cold start counts)
    service_type: Literal["LoadBalancer", "ClusterIP"] = "LoadBalancer"  # ClusterIP: reach it by port-forward
    proxy_replicas: int = Field(default=1, ge=1, le=10)

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is not None and not _HOSTNAME.match(value):
            raise ValueError("not a DNS name such as llm.example.com (lowercase, no scheme, no port)")
        return value

    @field_validator("api_key_names")
    @classmethod
    def _key_names(cls, names: list[str]) -> list[str]:
        bad = [n for n in names if not _CLIENT_NAME.match(n)]
        if bad:
            raise ValueError(f"key names {bad} must be lowercase letters, digits and '-' (they name Secret keys)")
        if len(set(names)) != len(names):
            raise ValueError("key names must be unique")
        return names

    @field_validator("request_buffer_limit")
    @classmethod
    def _buffer(cls, value: str) -> str:
        size = parse_quantity(value)
        if size < 32 * 1024:
            raise ValueError("below Envoy's 32Ki default; LLM prompts need more (4Mi is a good start)")
        return value
