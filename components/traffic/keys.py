"""Client API keys for the gateway, and the server key in the format the gateway presents.

Client keys: `slmkit:apiKeys` (a Pulumi secret, JSON object name -> key) supplies some or all of
the names in `gateway.apiKeyNames`; names without a supplied key get a generated one
(pulumi-random, kept in the encrypted state). All end up in one Opaque Secret in the gateway
namespace, one data key per name: what Envoy Gateway's SecurityPolicy apiKeyAuth reads.
"""

from __future__ import annotations

import json

import pulumi
import pulumi_random as random

from components.config import NAMESPACE
from components.k8s.objects import meta

from . import names

KEY_LENGTH = 48


def secret_object(name: str, namespace: str, data: dict[str, pulumi.Input[str]]) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta(name, namespace, {"app.kubernetes.io/component": "gateway"}),
            "type": "Opaque", "stringData": data}


def pick_key(text: str, name: str) -> str | None:
    """The key for `name` from the apiKeys JSON; None when not supplied (then one is generated)."""
    if text.startswith(f"<secret {NAMESPACE}:"):
        return text  # the offline plan's placeholder for an encrypted value: nothing to parse
    try:
        keys = json.loads(text)
    except ValueError:
        raise ValueError(f"{NAMESPACE}:apiKeys must be a JSON object such as "
                         '{"primary": "...", "secondary": "..."}') from None
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise ValueError(f"{NAMESPACE}:apiKeys must map key names to key strings")
    key = keys.get(name)
    if key is not None and len(key) < 32:
        raise ValueError(f"{NAMESPACE}:apiKeys.{name} is shorter than 32 characters; use a long random key")
    return key


def client_keys(key_names: list[str], supplied: pulumi.Output[str] | None,
                parent: pulumi.Resource) -> dict[str, pulumi.Output[str]]:
    out: dict[str, pulumi.Output[str]] = {}
    for name in key_names:
        generated = random.RandomPassword(f"gateway-key-{name}", length=KEY_LENGTH, special=False,
                                          opts=pulumi.ResourceOptions(parent=parent)).result
        if supplied is None:
            key = generated
        else:
            key = pulumi.Output.all(supplied, generated).apply(
                lambda args, n=name: pick_key(args[0], n) or args[1])
        out[name] = pulumi.Output.secret(key)
    return out


def client_keys_secret(namespace: str, keys: dict[str, pulumi.Input[str]]) -> dict:
    return secret_object(names.CLIENT_KEYS_SECRET, namespace, dict(keys))


def backend_key_secret(namespace: str, server_key: pulumi.Input[str]) -> dict:
    return secret_object(names.BACKEND_KEY_SECRET, namespace, {names.BACKEND_KEY_FIELD: server_key})
