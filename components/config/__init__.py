"""The typed stack config: one model for the `slmkit:` namespace, loaded and checked before any
resource is declared.

`load_from_pulumi()` is what `pulumi up` uses; `load_from_file()` is what the offline plan and the
tests use. Both run the same validation and raise ConfigError with every problem found.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError

from .base import NAMESPACE, ConfigError, ConfigModel, Problem, problems_from_validation
from .chat_ui import ChatUi
from .cluster import AksCluster, Cluster, ExistingCluster, NodePool, Taint
from .gateway import Gateway
from .images import Images
from .loadtest import LoadTest
from .monitoring import Monitoring
from .sections import Namespaces, Secrets
from .servers import ServerSpec
from .stackfile import SECRET_KEYS, StackFileError, meant_keys, plain_secret_problems, read_stack_yaml, stray_key_problems
from .vertical import VerticalScaling

__all__ = [
    "AksCluster", "ConfigError", "ExistingCluster", "LoadedConfig", "NodePool", "Problem", "SECRET_KEYS",
    "ServerSpec", "StackConfig", "StackFileError", "Taint", "load_from_file", "load_from_pulumi", "validate_raw",
]


class StackConfig(ConfigModel):
    environment: Literal["local", "dev", "staging", "prod"]
    cluster: Cluster
    namespaces: Namespaces = Field(default_factory=Namespaces)
    node_pools: list[NodePool] = Field(default_factory=list)
    servers: list[ServerSpec] = Field(min_length=1)
    secrets: Secrets = Field(default_factory=Secrets)
    monitoring: Monitoring = Field(default_factory=Monitoring)
    gateway: Gateway = Field(default_factory=Gateway)
    loadtest: LoadTest = Field(default_factory=LoadTest)
    chat_ui: ChatUi = Field(default_factory=ChatUi)
    images: Images = Field(default_factory=Images)
    vertical_scaling: VerticalScaling = Field(default_factory=VerticalScaling)

    def pool(self, name: str | None) -> NodePool | None:
        return next((p for p in self.node_pools if p.name == name), None)

    @property
    def is_aks(self) -> bool:
        return self.cluster.kind == "aks"

    @property
    def uses_azure_dns_label(self) -> bool:
        """An AKS gateway on a public load balancer without a hostname of its own gets a name in
        Azure's zone (`<label>.<location>.cloudapp.azure.com`, components/traffic/access.py
        azure_host): what a runner-side gate calls, and a name the private-CA certificate can carry
        (the address changes with the Service; a name does not)."""
        gw = self.gateway
        return gw.enabled and self.is_aks and gw.hostname is None and gw.service_type == "LoadBalancer"

    @property
    def secret_provider(self) -> str:
        if self.secrets.provider == "auto":
            return "keyvault" if self.is_aks else "kubernetes"
        return self.secrets.provider


class LoadedConfig:
    """The validated model, the secrets that are present, and warnings to show the user."""

    def __init__(self, stack: StackConfig, stack_file: str, secrets_present: set[str], warnings: list[Problem]):
        self.stack = stack
        self.stack_file = stack_file
        self.secrets_present = secrets_present
        self.warnings = warnings

    def warning_lines(self) -> list[str]:
        return [w.render(self.stack_file) for w in self.warnings]


def validate_raw(raw: dict[str, Any], stack_file: str, secrets_present: set[str],
                 file_problems: list[Problem] | None = None) -> LoadedConfig:
    """raw: the `slmkit:` keys without the prefix (objects already parsed). file_problems: what the
    loader found around the model (stray keys, plain secrets), reported with the model's own."""
    from .checks import cross_layer_problems

    before = list(file_problems or [])
    plain = {k: v for k, v in raw.items() if k not in SECRET_KEYS}
    try:
        stack = StackConfig.model_validate(plain)
    except ValidationError as err:
        found = problems_from_validation(err, plain, StackConfig)
        meant = meant_keys(before)  # `servers:` is reported as itself, not as slmkit:servers missing
        found = [p for p in found if not (p.value is None and p.message == "required key is missing" and p.key in meant)]
        raise ConfigError(stack_file, before + found) from None
    found = cross_layer_problems(stack, secrets_present)
    errors = before + [p for p in found if not p.warning]
    if errors:
        raise ConfigError(stack_file, errors)
    return LoadedConfig(stack, stack_file, secrets_present, [p for p in found if p.warning])


def stack_file_for(stack: str) -> str:
    return f"stacks/Pulumi.{stack}.yaml"


def model_keys() -> list[str]:
    """The top-level `slmkit:` keys the kit reads: the model's fields and the secrets."""
    return [f.alias or n for n, f in StackConfig.model_fields.items()] + list(SECRET_KEYS)


def load_from_file(path: str, display_name: str | None = None) -> tuple[LoadedConfig, dict[str, Any]]:
    """Read a Pulumi stack file; returns the loaded config and the raw `slmkit:` config (secure
    values replaced by placeholders) for the mock engine."""
    from pathlib import Path

    shown = display_name or path
    with open(path, encoding="utf-8") as fh:
        doc = read_stack_yaml(fh.read(), shown)
    config = doc.get("config") or {}
    raw, secrets = split_stack_file(config)
    problems = stray_key_problems(config, model_keys())
    problems += plain_secret_problems([k for k in raw if k in SECRET_KEYS], _stack_name(Path(path).name))
    if not raw and not secrets and not problems:
        raise ConfigError(shown, [Problem(f"{NAMESPACE}:*", None, "no slmkit: keys in the config block", "start from stacks/Pulumi.local.yaml")])
    return validate_raw(raw, shown, set(secrets), problems), {**raw, **secrets}


def _stack_name(file_name: str) -> str | None:
    if file_name.startswith("Pulumi.") and file_name.endswith(".yaml"):
        return file_name[len("Pulumi."):-len(".yaml")]
    return None


def split_stack_file(config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split `slmkit:key` entries into plain values and secret placeholders."""
    raw: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for key, value in config.items():
        ns, _, name = key.partition(":")
        if ns != NAMESPACE or not name:
            continue
        if isinstance(value, dict) and set(value) == {"secure"}:
            secrets[name] = f"<secret {NAMESPACE}:{name}>"
        else:
            raw[name] = value
    return raw, secrets


def load_from_pulumi() -> LoadedConfig:
    """Read the `slmkit:` namespace from the running Pulumi program."""
    import json

    import pulumi
    from pulumi.runtime import config as runtime_config

    fields = [f.alias or n for n, f in StackConfig.model_fields.items()]
    raw: dict[str, Any] = {}
    for name in fields:
        text = runtime_config.get_config(f"{NAMESPACE}:{name}")
        if text is None:
            continue
        try:
            raw[name] = json.loads(text)
        except (TypeError, ValueError):
            raw[name] = text
    # Keys the model does not know are typos: report them like any other unknown key.
    all_keys = _all_config_keys()
    for full_key in all_keys:
        ns, _, name = full_key.partition(":")
        if ns == NAMESPACE and name not in fields and name not in SECRET_KEYS:
            raw[name] = runtime_config.get_config(full_key)
    set_keys = {k for k in SECRET_KEYS if runtime_config.get_config(f"{NAMESPACE}:{k}") is not None}
    encrypted = set(runtime_config.get_config_secret_keys_env())
    present = {k for k in set_keys if f"{NAMESPACE}:{k}" in encrypted or runtime_config.is_config_secret(f"{NAMESPACE}:{k}")}
    problems = stray_key_problems(all_keys, model_keys())
    problems += plain_secret_problems(sorted(set_keys - present), pulumi.get_stack())
    return validate_raw(raw, stack_file_for(pulumi.get_stack()), present, problems)


def _all_config_keys() -> list[str]:
    from pulumi.runtime import config as runtime_config

    # Set explicitly (mock engine, tests) or passed by the CLI in PULUMI_CONFIG (`pulumi up`).
    return list({**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}.keys())
