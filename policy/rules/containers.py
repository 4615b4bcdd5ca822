"""Rules over the containers of every workload: hardening, image pinning, GPU tolerations."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .base import Resource, Rule, as_list, as_map, is_true
from .pods import GPU_RESOURCE, container_name, pod_template

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _security_problems(resource: Resource, environment: str) -> Iterable[str]:
    pod = pod_template(resource)
    if pod is None:
        return
    pod_ctx = as_map(pod.spec.get("securityContext"))
    for c in pod.containers:
        ctx = as_map(c.get("securityContext"))
        name = container_name(c)
        if not _runs_as_non_root(ctx, pod_ctx):
            yield f"container '{name}' may run as root; set securityContext.runAsNonRoot: true and a non-zero runAsUser"
        if not is_true(ctx.get("readOnlyRootFilesystem")):
            yield f"container '{name}' has a writable root filesystem; set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where it writes"
        if ctx.get("allowPrivilegeEscalation") is not False or is_true(ctx.get("privileged")):
            yield f"container '{name}' can escalate privileges; set securityContext.allowPrivilegeEscalation: false (and not privileged)"


def _runs_as_non_root(ctx: Mapping[str, Any], pod_ctx: Mapping[str, Any]) -> bool:
    # Container settings override the pod's (Kubernetes semantics).
    user = ctx.get("runAsUser", pod_ctx.get("runAsUser"))
    if user is not None and _number(user) == 0:
        return False
    non_root = ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot"))
    return is_true(non_root) or (user is not None and _number(user) > 0)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return -1.0


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """'repo/name:tag@sha256:...' -> (repo/name, tag, digest)."""
    ref, _, digest = image.partition("@")
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag, digest or None
    return ref, None, digest or None


def _images(resource: Resource, model_servers: bool | None) -> Iterable[tuple[str, str]]:
    """(container name, image) of a workload; model_servers filters by the model-server label."""
    pod = pod_template(resource)
    if pod is None or (model_servers is not None and pod.is_model_server != model_servers):
        return
    for c in pod.containers:
        yield container_name(c), str(c.get("image") or "")


def _unpinned_images(resource: Resource, environment: str) -> Iterable[str]:
    for name, image in _images(resource, None):
        _, tag, digest = split_image(image)
        if digest:
            continue
        if tag is None:
            yield f"container '{name}' image '{image}' has no tag (it means latest); pin a release tag"
        elif tag == "latest":
            yield f"container '{name}' image '{image}' uses the moving 'latest' tag; pin a release tag"


# The kit annotates each workload with the stack key that sets each container's image
# (components/config/images.py), so the advice names exactly what to set.
IMAGE_KEY_ANNOTATION = "image-key.slmkit.io/"


def image_key(resource: Resource, container: str) -> str | None:
    return as_map(resource.metadata.get("annotations")).get(f"{IMAGE_KEY_ANNOTATION}{container}")


def _digest_missing(model_servers: bool):
    def check(resource: Resource, environment: str) -> Iterable[str]:
        for name, image in _images(resource, model_servers):
            if _DIGEST.search(image):
                continue
            key = image_key(resource, name)
            where = (f"set {key}.digest in the stack file" if key else
                     "pin the digest where this workload's image is declared (the kit does not set it)")
            yield (f"container '{name}' image '{image}' has no digest; a tag can be re-pushed. Pin it: "
                   f"`docker buildx imagetools inspect {image}`, then {where}")
    return check


def _gpu_without_toleration(resource: Resource, environment: str) -> Iterable[str]:
    pod = pod_template(resource)
    if pod is None or not pod.requests_gpu:
        return
    if not any(_tolerates_gpu_taint(as_map(t)) for t in as_list(pod.spec.get("tolerations"))):
        yield (f"requests {GPU_RESOURCE} but does not tolerate the GPU pool taint {GPU_RESOURCE}=present:NoSchedule; "
               f"add a toleration with key {GPU_RESOURCE}, operator Exists, effect NoSchedule")


def _tolerates_gpu_taint(toleration: Mapping[str, Any]) -> bool:
    key, op, effect = toleration.get("key"), toleration.get("operator", "Equal"), toleration.get("effect")
    if effect not in (None, "", "NoSchedule"):
        return False
    if key in (None, "") and op == "Exists":
        return True  # tolerates every taint
    return key == GPU_RESOURCE and op in ("Exists", "Equal")


CONTAINER_SECURITY = Rule(
    "container-security-context",
    "Containers run as non-root, with a read-only root filesystem and no privilege escalation.",
    "mandatory", resource_check=_security_problems,
)
IMAGE_PINNED = Rule(
    "image-pinned",
    "Container images name a release tag or a digest, never 'latest' or no tag.",
    "mandatory", resource_check=_unpinned_images,
)
# Advisory, reported on every prod preview and plan: a digest exists only once the operator has
# mirrored the engine image or built the kit's own (`make images`), so no shipped stack file can
# carry a real one, and a made-up digest would fail every image pull. The production-readiness
# checklist (docs/operations.md) requires it before go-live.
MODEL_SERVER_DIGEST = Rule(
    "model-server-image-digest",
    "In prod, model-server images are pinned by digest (slmkit:servers[N].image.digest in the stack file).",
    "advisory", resource_check=_digest_missing(model_servers=True), environments=("prod",),
)
IMAGE_DIGEST = Rule(
    "image-digest-in-prod",
    "In prod, every other container image is pinned by digest as well (slmkit:images.<name>.digest).",
    "advisory", resource_check=_digest_missing(model_servers=False), environments=("prod",),
)
GPU_TOLERATION = Rule(
    "gpu-pod-tolerates-gpu-taint",
    "Pods that request nvidia.com/gpu tolerate the GPU pool taint, or they never schedule.",
    "mandatory", resource_check=_gpu_without_toleration,
)

RULES = [CONTAINER_SECURITY, IMAGE_PINNED, MODEL_SERVER_DIGEST, IMAGE_DIGEST, GPU_TOLERATION]
