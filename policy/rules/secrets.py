"""No secret values in plain config (ConfigMaps, env values) or container arguments."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .base import Resource, Rule, as_list, as_map
from .pods import container_name, pod_template

# Shapes of well-known credentials. A match anywhere outside a Secret is a leak.
TOKEN_PATTERNS = {
    "Hugging Face token": re.compile(r"\bhf_[A-Za-z0-9]{30,}"),
    "OpenAI-style API key": re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "Slack token": re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    "JSON web token": re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\."),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "Azure storage key": re.compile(r"AccountKey=[A-Za-z0-9+/=]{20,}"),
}
# Flags that take a secret value: its value on the command line shows in `ps` and in the object.
_SECRET_FLAG = re.compile(r"^--?(api-key|hf-token|token|password|secret|access-key)(=(?P<value>.*))?$", re.IGNORECASE)
_NAME_PARTS = {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS", "APIKEY"}
_KEY_PREFIXES = {"API", "ACCESS", "PRIVATE", "SECRET", "ACCOUNT", "MASTER", "SIGNING"}
# Names like HF_TOKEN_PATH point at a mounted secret: they are not the secret.
_REFERENCE_SUFFIXES = {"FILE", "PATH", "DIR", "NAME", "HEADER", "URL", "REF"}


def looks_like_token(value: str) -> str | None:
    """The kind of credential a string contains, or None."""
    return next((kind for kind, pattern in TOKEN_PATTERNS.items() if pattern.search(value)), None)


def secret_env_name(name: str) -> bool:
    parts = name.upper().replace("-", "_").split("_")
    if parts[-1] in _REFERENCE_SUFFIXES:
        return False
    if any(p in _NAME_PARTS for p in parts):
        return True
    return any(p == "KEY" and i > 0 and parts[i - 1] in _KEY_PREFIXES for i, p in enumerate(parts))


def _is_reference(value: str) -> bool:
    # `$(VLLM_API_KEY)` expands an env var (filled from a Secret) at container start.
    return bool(re.fullmatch(r"\$\([A-Za-z_][A-Za-z0-9_]*\)", value)) or value.startswith("/")


def _argument_problems(container: Mapping[str, Any]) -> Iterable[str]:
    name = container_name(container)
    words = [w for key in ("command", "args") for w in as_list(container.get(key)) if isinstance(w, str)]
    for i, word in enumerate(words):
        kind = looks_like_token(word)
        if kind:
            yield f"container '{name}' has a {kind} in its command line; mount it from a Secret"
            continue
        flag = _SECRET_FLAG.match(word)
        if not flag:
            continue
        value = flag.group("value")
        if value is None and i + 1 < len(words) and not words[i + 1].startswith("-"):
            value = words[i + 1]
        if value and not _is_reference(value):
            yield f"container '{name}' passes {word.split('=')[0]} a literal value; read it from an env var with valueFrom.secretKeyRef"


def _env_problems(container: Mapping[str, Any]) -> Iterable[str]:
    name = container_name(container)
    for env in as_list(container.get("env")):
        env = as_map(env)
        var, value, source = str(env.get("name") or "?"), env.get("value"), as_map(env.get("valueFrom"))
        if isinstance(value, str) and value:
            kind = looks_like_token(value)
            if kind:
                yield f"container '{name}' env {var} holds a {kind} in plain text; use valueFrom.secretKeyRef"
            elif secret_env_name(var):
                yield f"container '{name}' env {var} is set in plain text; use valueFrom.secretKeyRef"
        elif secret_env_name(var) and "configMapKeyRef" in source:
            yield f"container '{name}' env {var} comes from a ConfigMap; use valueFrom.secretKeyRef"


def _plaintext_secrets(resource: Resource, environment: str) -> Iterable[str]:
    pod = pod_template(resource)
    if pod is not None:
        for c in pod.containers:
            yield from _argument_problems(c)
            yield from _env_problems(c)
    elif resource.is_kubernetes and resource.kind == "ConfigMap":
        for key, value in as_map(resource.inputs.get("data")).items():
            kind = looks_like_token(value) if isinstance(value, str) else None
            if kind:
                yield f"data key '{key}' holds a {kind}; put it in a Secret"


PLAINTEXT_SECRETS = Rule(
    "no-plaintext-secrets",
    "No credentials in ConfigMaps, env values or container arguments; env secrets use secretKeyRef.",
    "mandatory", resource_check=_plaintext_secrets,
)

RULES = [PLAINTEXT_SECRETS]
