"""The secret store: where the model servers' credentials live and how pods get them.

Existing clusters: Kubernetes Secrets made from Pulumi secrets (encrypted in the Pulumi state).
AKS with Key Vault: see components/platform/keyvault.py, which syncs the same Secret names through
the Secrets Store CSI driver, so the server builders never care which store is in use.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_random as random

from components.config import NAMESPACE
from components.context import StackContext
from components.k8s import objects
from components.k8s.declare import declare

SERVER_API_KEY_SECRET, SERVER_API_KEY_KEY = "slmkit-server-api-key", "api-key"
HF_TOKEN_SECRET, HF_TOKEN_KEY = "slmkit-hf-token", "token"


@dataclass(frozen=True)
class PodSecretWiring:
    """What a pod needs to see the store's secrets: pure data the server builders merge in."""

    volumes: list[dict] = field(default_factory=list)
    mounts: list[dict] = field(default_factory=list)
    pod_labels: dict[str, str] = field(default_factory=dict)
    service_account_annotations: dict[str, str] = field(default_factory=dict)


def secret_object(name: str, namespace: str, data: dict[str, pulumi.Input[str]]) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": objects.meta(name, namespace),
            "type": "Opaque", "stringData": data}


class SecretStore(pulumi.ComponentResource):
    """Kubernetes Secrets from Pulumi secrets; the server API key is generated (pulumi-random)."""

    def __init__(self, ctx: StackContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__("slmkit:platform:SecretStore", "secrets", None, opts)
        conf = pulumi.Config(NAMESPACE)
        ns = ctx.cfg.namespaces
        key = random.RandomPassword("server-api-key", length=48, special=False,
                                    opts=pulumi.ResourceOptions(parent=self))
        self.server_api_key: pulumi.Output[str] = pulumi.Output.secret(key.result)
        self.hf_token: pulumi.Output[str] | None = conf.get_secret("hfToken")
        self.wiring = PodSecretWiring()
        self.resources: list[pulumi.Resource] = []
        # The load-test gate calls the servers directly when there is no gateway: it needs the key too.
        for namespace in (ns.models, ns.loadtest):
            self.resources.append(declare(
                secret_object(SERVER_API_KEY_SECRET, namespace, {SERVER_API_KEY_KEY: self.server_api_key}),
                ctx.opts(parent=self, namespace=namespace)))
        if self.hf_token is not None:
            self.resources.append(declare(
                secret_object(HF_TOKEN_SECRET, ns.models, {HF_TOKEN_KEY: self.hf_token}),
                ctx.opts(parent=self, namespace=ns.models)))
        self.register_outputs({})

    @property
    def has_hf_token(self) -> bool:
        return self.hf_token is not None
