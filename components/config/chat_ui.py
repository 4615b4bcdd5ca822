"""The chat UI section: Open WebUI in front of the gateway.

Cross-layer rules (gateway on; trusted TLS in staging/prod) live in checks.py; this model checks
what the section alone can know.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from .base import ConfigModel

_HOSTNAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")


class Oidc(ConfigModel):
    """Sign-in through an OpenID Connect provider instead of local accounts. The client secret is
    the Pulumi secret `slmkit:chatUiOidcClientSecret` (`pulumi config set --secret ...`)."""

    provider_url: str = Field(pattern=r"^https://\S+/\.well-known/openid-configuration$")
    client_id: str = Field(min_length=1)
    provider_name: str = "SSO"
    scopes: str = "openid email profile"


class ChatUi(ConfigModel):
    enabled: bool = False
    # Its own name on the gateway (a listener and certificate of its own), e.g. chat.example.com.
    # None: reach it with `kubectl port-forward` only.
    hostname: str | None = None
    namespace: str = "slmkit-chat"
    storage_size: str = "5Gi"  # users, chats and settings (SQLite on a PVC)
    storage_class: str | None = None
    oidc: Oidc | None = None

    @field_validator("hostname")
    @classmethod
    def _hostname(cls, value: str | None) -> str | None:
        if value is not None and not _HOSTNAME.match(value):
            raise ValueError("not a DNS name such as chat.example.com (lowercase, no scheme, no port, no wildcard)")
        return value

    @model_validator(mode="after")
    def _oidc_needs_hostname(self) -> ChatUi:
        if self.oidc is not None and self.hostname is None:
            raise ValueError("oidc needs hostname: the provider redirects the browser back to https://<hostname>")
        return self
