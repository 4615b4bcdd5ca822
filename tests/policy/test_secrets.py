"""no-plaintext-secrets over container args, env and ConfigMaps."""

from __future__ import annotations

import pytest

from policy.rules import rule_named
from policy.rules.secrets import looks_like_token, secret_env_name

from .factories import container, deployment, k8s

HF_TOKEN = "hf_" + "Ab3" * 12


def violations(resource) -> list[str]:
    return [v.message for v in rule_named("no-plaintext-secrets").check_resource(resource, "dev")]


@pytest.mark.parametrize("args, bad", [
    (["--model", "microsoft/Phi-4-mini-instruct", "--port", "8000"], False),
    (["--api-key", "$(VLLM_API_KEY)"], False),  # expanded from a secretKeyRef env var
    (["--api-key-file", "/var/run/secrets/slmkit/api-key"], False),
    (["--api-key", "s3cret-value"], True),
    (["--api-key=s3cret-value"], True),
    (["--hf-token", HF_TOKEN], True),
    (["--model", "x", f"--header=Authorization: Bearer sk-{'z' * 32}"], True),
])
def test_container_arguments(args, bad):
    assert bool(violations(deployment(containers=[container(args=args)]))) is bad


def test_command_is_checked_too():
    found = violations(deployment(containers=[container(command=["sh", "-c", f"HF_TOKEN={HF_TOKEN} vllm serve"])]))
    assert "Hugging Face token" in found[0]


@pytest.mark.parametrize("env, bad", [
    ({"name": "HF_HOME", "value": "/cache/hf"}, False),
    ({"name": "TOKENIZERS_PARALLELISM", "value": "false"}, False),
    ({"name": "VLLM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "api-keys", "key": "primary"}}}, False),
    ({"name": "HF_TOKEN_PATH", "value": "/var/run/secrets/hf/token"}, False),
    ({"name": "HF_TOKEN", "value": "anything"}, True),
    ({"name": "VLLM_API_KEY", "value": "k"}, True),
    ({"name": "GRAFANA_PASSWORD", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}}, True),
    ({"name": "EXTRA", "value": HF_TOKEN}, True),  # the value gives it away whatever the name
])
def test_env(env, bad):
    assert bool(violations(deployment(containers=[container(env=[env])]))) is bad


def test_configmap_with_token_fails_and_plain_config_passes():
    leaked = k8s("ConfigMap", "v1", "settings", "slmkit-models", data={"HF": HF_TOKEN, "MODEL": "phi"})
    clean = k8s("ConfigMap", "v1", "settings", "slmkit-models", data={"MODEL": "phi", "PORT": "8000"})
    assert ["data key 'HF' holds a Hugging Face token; put it in a Secret"] == violations(leaked)
    assert violations(clean) == []


def test_secret_objects_are_the_right_place():
    assert violations(k8s("Secret", "v1", "hf", "slmkit-models", stringData={"token": HF_TOKEN})) == []


@pytest.mark.parametrize("name, secret", [
    ("HF_TOKEN", True), ("OPENAI_API_KEY", True), ("AZURE_CLIENT_SECRET", True), ("DB_PASSWORD", True),
    ("MAX_NUM_BATCHED_TOKENS", False), ("TOKENIZERS_PARALLELISM", False), ("KEY_PREFIX", False),
    ("API_KEY_FILE", False), ("MONKEY_BUSINESS", False),
])
def test_secret_env_names(name, secret):
    assert secret_env_name(name) is secret


def test_token_shapes():
    assert looks_like_token(HF_TOKEN) == "Hugging Face token"
    assert looks_like_token("-----BEGIN RSA PRIVATE KEY-----\nMII") == "private key"
    assert looks_like_token("microsoft/Phi-4-mini-instruct") is None
