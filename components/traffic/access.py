"""The gateway as its clients (the load-test gate, the Locust UI, the chat UI) see it: where it is,
which issuer signs its certificate, which key to present and what to wait for before calling it.

One home for these facts, read by the traffic component that makes them and by the clients that
use them, so no client imports another client or the gateway's builders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components.catalog import upstream
from components.config import StackConfig

from . import names

# cert-manager reports the gateway Certificate Ready once its Secret holds a valid certificate.
# pulumi-kubernetes (4.18+, experimental) waits for that condition when the object carries this
# annotation; Let's Encrypt needs the DNS record in place first, so the wait is generous.
WAIT_FOR = {"pulumi.com/waitFor": "condition=Ready"}
CERTIFICATE_READY_TIMEOUT = "20m"


def public_url(cfg: StackConfig) -> str:
    """What in-cluster clients put in their OpenAI base URL: the hostname when set, else the proxy
    Service (https://localhost:8443/v1 through a port-forward). From outside, an AKS gateway without a
    hostname is called by its Azure DNS name (azure_host)."""
    host = cfg.gateway.hostname or names.proxy_service_host(cfg.namespaces.system)
    return f"https://{host}/v1"


def base_url(cfg: StackConfig) -> str:
    """The same without `/v1` (the load test adds the paths itself)."""
    return public_url(cfg).removesuffix("/v1")


def azure_host(cfg: StackConfig, label):
    """The gateway's public name on AKS when `cfg.uses_azure_dns_label` (label: str or Output)."""
    if isinstance(label, pulumi.Output):
        return label.apply(lambda value: azure_host(cfg, value))
    return upstream.AZURE_DNS_LABEL_FQDN.value.format(label=label, location=cfg.cluster.location)


def uses_private_ca(cfg: StackConfig) -> bool:
    """The stack's own CA signs the certificate: in-cluster clients trust its bundle (names.CA_BUNDLE)."""
    return cfg.gateway.enabled and cfg.gateway.tls.issuer == "self-signed"


def issuer_name(cfg: StackConfig) -> str:
    """The cert-manager Issuer (gateway namespace) that signs the gateway's certificates."""
    if cfg.gateway.tls.issuer == "self-signed":
        return names.SELF_SIGNED_ISSUER
    return names.LETSENCRYPT_ISSUERS[cfg.gateway.tls.issuer][0]


@dataclass
class GatewayAccess:
    """Set on the stack context (`ctx.gateway`) by Traffic once the gateway is declared."""

    client_keys: pulumi.Output  # name -> key (a secret)
    key_names: list[str]
    ready: list[pulumi.Resource] = field(default_factory=list)  # wait for these before calling over TLS

    def client_key(self, name: str | None = None) -> pulumi.Output[str]:
        """One client key (the first name by default), as a secret."""
        chosen = name or self.key_names[0]
        return pulumi.Output.secret(pulumi.Output.from_input(self.client_keys).apply(lambda keys: keys[chosen]))


def gateway_of(ctx, who: str) -> GatewayAccess:
    """The gateway's access facts, or a clear error when the client is built before the gateway."""
    access = getattr(ctx, "gateway", None)
    if access is None:
        raise ValueError(f"{who} needs the gateway's client keys: build Traffic before it")
    return access
