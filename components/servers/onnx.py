"""The kit's ONNX Runtime GenAI server (docker/onnx-server), on a model folder in the cache volume
that a conversion Job fills (or copies from a prebuilt ONNX repo) before the server starts."""

from __future__ import annotations

import shlex

from components import capacity
from components.catalog import images
from components.config.images import image_key_annotations
from components.k8s import objects, security

from .common import (
    HF_TOKEN_DIR,
    HOME_DIR,
    MODEL_CACHE_MOUNT,
    SERVER_KEY_DIR,
    EngineParts,
    ServerInputs,
    base_env,
    job_pod_defaults,
    secret_volumes,
    server_image,
    spec_hash,
)


def model_dir(inp: ServerInputs) -> str:
    o = inp.spec.onnx
    return f"{MODEL_CACHE_MOUNT}/onnx/{inp.spec.name}/{o.precision}-{o.execution_provider}"


def serving_image(inp: ServerInputs) -> str:
    image = server_image(inp)
    if inp.spec.onnx.execution_provider == "cuda" and inp.spec.image.tag is None:
        image = image.model_copy(update={"tag": images.ONNX_CUDA_TAG})
    return image.ref


def prepare_command(inp: ServerInputs) -> str:
    """Idempotent: a model folder that is already complete is kept (restarts and scale-ups are quick)."""
    spec, o, out = inp.spec, inp.spec.onnx, model_dir(inp)
    if o.source == "prebuilt":
        sub = f", allow_patterns=[{(o.prebuilt_subfolder + '/*')!r}]" if o.prebuilt_subfolder else ""
        fetch = (f"python -c \"from huggingface_hub import snapshot_download; "
                 f"snapshot_download({o.prebuilt_repo!r}, revision={spec.revision!r}, local_dir='/tmp/prebuilt'{sub})\" && "
                 f"mkdir -p {shlex.quote(out)} && cp -r /tmp/prebuilt/{o.prebuilt_subfolder or '.'}/. {shlex.quote(out)}/")
    else:
        revision = ["--revision", spec.revision] if spec.revision else []
        fetch = shlex.join(["python", "-m", "onnx_server.convert", "--model", spec.model, *revision,
                            "--precision", o.precision, "--execution-provider", o.execution_provider, "--out", out])
    return f"if [ -f {shlex.quote(out)}/genai_config.json ]; then echo 'model ready in {out}'; else {fetch}; fi"


def token_wiring(inp: ServerInputs) -> tuple[list[dict], list[dict]]:
    """The Hugging Face token's volume and mount, plus the secret store's own (the Secrets Store CSI
    volume on AKS): the driver syncs the token's Kubernetes Secret only while a pod mounts that
    volume, and this Job runs before any server pod does."""
    if not inp.has_hf_token:
        return [], []
    volumes, mounts = secret_volumes(inp)
    return ([v for v in volumes if v["name"] == "hf-token"] + list(inp.secrets.volumes),
            [m for m in mounts if m["mountPath"] == HF_TOKEN_DIR] + list(inp.secrets.mounts))


def prepare_job(inp: ServerInputs) -> dict:
    ep = inp.endpoint
    volumes, mounts = token_wiring(inp)
    convert_image = inp.cfg.images.kit("onnx-convert")
    r = inp.spec.resources
    container = {
        "name": "prepare-model",
        "image": convert_image.ref,
        "imagePullPolicy": convert_image.pull_policy,
        "command": ["/bin/sh", "-c", prepare_command(inp)],
        "env": base_env(inp),
        "resources": {"requests": {"cpu": r.cpu, "memory": r.memory_limit or r.memory},
                      "limits": {"cpu": r.cpu_limit or r.cpu, "memory": r.memory_limit or r.memory}},
        "securityContext": security.container_security_context(),
        "volumeMounts": [
            {"name": "model-cache", "mountPath": MODEL_CACHE_MOUNT},
            {"name": "home", "mountPath": HOME_DIR},
            {"name": "tmp", "mountPath": "/tmp"},
            *mounts,
        ],
    }
    pod = {
        **job_pod_defaults(inp),
        "containers": [container],
        "volumes": [
            {"name": "model-cache", "persistentVolumeClaim": {"claimName": f"{ep.name}-model-cache"}},
            {"name": "home", "emptyDir": {"sizeLimit": "2Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "40Gi"}},  # the builder stages the HF checkpoint here
            *volumes,
        ],
    }
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        # The name carries the spec hash: a changed model, revision or precision prepares anew.
        "metadata": objects.meta(f"{ep.name}-prepare-{spec_hash(inp)}", ep.namespace, ep.labels,
                                 image_key_annotations({"prepare-model": "images.onnxConvert"})),
        "spec": {"backoffLimit": 2, "activeDeadlineSeconds": 4 * 3600,
                 "template": {"metadata": {"labels": {**objects.PART_OF, "app.kubernetes.io/name": "model-prepare",
                                                      "app.kubernetes.io/instance": ep.name,
                                                      **(inp.secrets.pod_labels if inp.has_hf_token else {})}},
                              "spec": pod}},
    }


class Onnx:
    def parts(self, inp: ServerInputs) -> EngineParts:
        o = inp.spec.onnx
        container = {
            "name": "onnx-server",
            "image": serving_image(inp),
            "args": ["--model-dir", model_dir(inp), "--host", "0.0.0.0", "--port", str(inp.endpoint.port),
                     "--served-model-name", inp.spec.served_name,
                     "--api-key-file", f"{SERVER_KEY_DIR}/api-key",
                     "--max-concurrency", str(o.max_concurrency), "--max-queue", str(o.max_queue),
                     # KV budget (continuous batching): what capacity.onnx_fit sizes the pod memory for.
                     "--kv-cache-tokens", str(capacity.onnx_kv_cache_tokens(inp.spec, inp.card)),
                     # SIGTERM drain: what the pod's grace period leaves after preStop and the exit.
                     "--drain-seconds", str(inp.spec.drain_seconds)],
        }
        return EngineParts(container=container, pre_jobs=[prepare_job(inp)])
