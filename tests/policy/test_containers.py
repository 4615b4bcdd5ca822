"""container-security-context, image-pinned, model-server-image-digest, image-digest-in-prod,
gpu-pod-tolerates-gpu-taint: each fed passing and failing workloads."""

from __future__ import annotations

import pytest

from policy.rules import evaluate, rule_named
from policy.rules.containers import split_image

from .factories import DIGEST, GPU_TOLERATION, SAFE_CONTEXT, container, deployment, k8s


def violations(rule: str, resource, environment: str = "dev") -> list[str]:
    return [v.message for v in rule_named(rule).check_resource(resource, environment)]


def test_hardened_container_passes():
    assert violations("container-security-context", deployment()) == []


@pytest.mark.parametrize("change, expected", [
    ({"runAsNonRoot": False, "runAsUser": None}, "may run as root"),
    ({"runAsUser": 0}, "may run as root"),
    ({"readOnlyRootFilesystem": False}, "writable root filesystem"),
    ({"allowPrivilegeEscalation": True}, "escalate privileges"),
    ({"privileged": True}, "escalate privileges"),
])
def test_each_missing_hardening_setting_is_named(change, expected):
    ctx = {k: v for k, v in {**SAFE_CONTEXT, **change}.items() if v is not None}
    found = violations("container-security-context", deployment(containers=[container(securityContext=ctx)]))
    assert len(found) == 1 and expected in found[0] and "'server'" in found[0]


def test_container_without_security_context_fails_all_three():
    bare = {"name": "bare", "image": "busybox:1.37"}
    found = violations("container-security-context", deployment(containers=[bare]))
    assert len(found) == 3


def test_pod_level_non_root_counts_unless_container_overrides():
    ctx = {k: v for k, v in SAFE_CONTEXT.items() if k not in ("runAsNonRoot", "runAsUser")}
    pod_ok = deployment(containers=[container(securityContext=ctx)], securityContext={"runAsNonRoot": True})
    assert violations("container-security-context", pod_ok) == []
    override = deployment(containers=[container(securityContext={**ctx, "runAsUser": 0.0})], securityContext={"runAsNonRoot": True})
    assert "may run as root" in violations("container-security-context", override)[0]


def test_init_containers_and_jobs_are_checked():
    job = k8s("Job", "batch/v1", "gate", "slmkit-loadtest", spec={"template": {"spec": {
        "initContainers": [{"name": "wait", "image": "busybox:1.37", "securityContext": dict(SAFE_CONTEXT)}],
        "containers": [{"name": "gate", "image": "ghcr.io/slmkit/loadtest:0.1.0", "securityContext": {**SAFE_CONTEXT, "readOnlyRootFilesystem": False}}],
    }}})
    found = violations("container-security-context", job)
    assert found == [f for f in found if "'gate'" in f] and len(found) == 1


@pytest.mark.parametrize("image, tag, digest", [
    ("docker.io/vllm/vllm-openai:v0.18.2", "v0.18.2", None),
    ("localhost:5000/onnx", None, None),
    (f"ollama/ollama:0.13.5@{DIGEST}", "0.13.5", DIGEST),
    (f"ollama/ollama@{DIGEST}", None, DIGEST),
])
def test_split_image(image, tag, digest):
    assert split_image(image)[1:] == (tag, digest)


@pytest.mark.parametrize("image, bad", [
    ("docker.io/vllm/vllm-openai:v0.18.2", False),
    (f"docker.io/vllm/vllm-openai@{DIGEST}", False),
    ("docker.io/vllm/vllm-openai:latest", True),
    ("docker.io/vllm/vllm-openai", True),
    ("localhost:5000/vllm", True),  # the port is not a tag
])
def test_image_pinned(image, bad):
    assert bool(violations("image-pinned", deployment(containers=[container(image=image)]))) is bad


def test_model_server_digest_is_mandatory_in_prod_only():
    tagged = deployment()
    pinned = deployment(containers=[container(image=f"docker.io/vllm/vllm-openai:v0.18.2@{DIGEST}")])
    assert violations("model-server-image-digest", tagged, "staging") == []
    assert "has no digest" in violations("model-server-image-digest", tagged, "prod")[0]
    assert violations("model-server-image-digest", pinned, "prod") == []
    assert rule_named("model-server-image-digest").level == "advisory"


def test_other_images_without_digest_are_advisory_in_prod():
    helper = deployment("ui", "slmkit-gateway", labels={"app.kubernetes.io/name": "chat-ui"})
    found = evaluate([helper], "prod", [rule_named("image-digest-in-prod"), rule_named("model-server-image-digest")])
    assert [(v.rule, v.level) for v in found] == [("image-digest-in-prod", "advisory")]


def gpu_deployment(**pod_spec):
    return deployment(containers=[container(resources={"limits": {"nvidia.com/gpu": 1.0}})], **pod_spec)


@pytest.mark.parametrize("tolerations, bad", [
    ([GPU_TOLERATION], False),
    ([{"key": "nvidia.com/gpu", "operator": "Exists"}], False),
    ([{"operator": "Exists"}], False),  # tolerates everything
    ([], True),
    ([{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoExecute"}], True),
    ([{"key": "kubernetes.azure.com/scalesetpriority", "operator": "Exists"}], True),
])
def test_gpu_pod_tolerates_gpu_taint(tolerations, bad):
    assert bool(violations("gpu-pod-tolerates-gpu-taint", gpu_deployment(tolerations=tolerations))) is bad


def test_cpu_pod_needs_no_gpu_toleration():
    assert violations("gpu-pod-tolerates-gpu-taint", deployment()) == []


def test_gpu_request_as_string_counts():
    pod = deployment(containers=[container(resources={"requests": {"nvidia.com/gpu": "2"}})])
    assert violations("gpu-pod-tolerates-gpu-taint", pod)
