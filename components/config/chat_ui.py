"""The chat UI section: Open WebUI in front of the gateway."""

from __future__ import annotations



from .base import ConfigModel


class ChatUi(ConfigModel):
    enabled: bool = False
    hostname: str | None = None
