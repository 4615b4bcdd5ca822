"""What every concern's component gets: the validated config, the Kubernetes provider, the server
endpoints and the secret store. Passed explicitly; no globals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.config import LoadedConfig, StackConfig
from components.endpoints import ServerEndpoint, server_endpoints


@dataclass
class StackContext:
    loaded: LoadedConfig
    provider: pulumi.ProviderResource | None = None
    platform: Any = None  # the AKS component when cluster.kind is aks (pools, identity, Key Vault)
    secrets: Any = None  # components.platform.secrets.SecretStore, set once the store exists
    namespaces: dict[str, pulumi.Resource] = field(default_factory=dict)  # name -> Namespace resource
    outputs: dict[str, Any] = field(default_factory=dict)  # exported by __main__ as stack outputs
    gateway: Any = None  # components.traffic.access.GatewayAccess, set by Traffic when the gateway is on

    @property
    def cfg(self) -> StackConfig:
        return self.loaded.stack

    @property
    def endpoints(self) -> list[ServerEndpoint]:
        return server_endpoints(self.cfg)

    def opts(self, parent: pulumi.Resource | None = None, depends_on: list[pulumi.Resource] | None = None,
             namespace: str | None = None, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for an in-cluster resource: the stack's provider, and a dependency on its namespace."""
        deps = list(depends_on or [])
        if namespace and namespace in self.namespaces:
            deps.append(self.namespaces[namespace])
        return pulumi.ResourceOptions(
            parent=parent, providers={"kubernetes": self.provider} if self.provider else None,
            depends_on=deps or None, **kwargs,
        )
