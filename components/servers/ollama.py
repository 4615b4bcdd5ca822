"""Ollama: CPU or GPU, the model pulled once into the cache volume by an init step."""

from __future__ import annotations

import shlex

from components.k8s import objects, security

from .common import HOME_DIR, MODEL_CACHE_MOUNT, EngineParts, ServerInputs, resources, server_image

MODELFILE_DIR = "/etc/slmkit/modelfiles"


def modelfile(base: str, variant) -> str:
    lines = [f"FROM {base}"]
    for key, value in sorted(variant.parameters.items()):
        lines.append(f"PARAMETER {key} {value}")
    if variant.system:
        lines.append(f'SYSTEM """{variant.system}"""')
    return "\n".join(lines) + "\n"


def pull_script(inp: ServerInputs) -> str:
    """Start a private Ollama, pull the model and build the variants; any failure exits non-zero,
    so the pod shows Init:Error and `pulumi up` reports it."""
    spec = inp.spec
    lines = [
        "set -eu",
        "ollama serve >/tmp/ollama-init.log 2>&1 &",
        "pid=$!",
        "i=0",
        "until ollama list >/dev/null 2>&1; do",
        "  i=$((i+1)); if [ \"$i\" -gt 60 ]; then echo 'ollama did not start:'; cat /tmp/ollama-init.log; exit 1; fi",
        "  sleep 1",
        "done",
        f"echo 'pulling {spec.model}'",
        f"ollama pull {shlex.quote(spec.model)}",
    ]
    for i, variant in enumerate(spec.ollama.variants):
        lines.append(f"ollama create {shlex.quote(variant.name)} -f {MODELFILE_DIR}/variant-{i}.Modelfile")
    lines += ["ollama list", "kill \"$pid\"", "wait \"$pid\" || true"]
    return "\n".join(lines) + "\n"


def ollama_env(inp: ServerInputs) -> list[dict]:
    o = inp.spec.ollama
    return [
        {"name": "OLLAMA_HOST", "value": f"0.0.0.0:{inp.endpoint.port}"},
        {"name": "OLLAMA_MODELS", "value": f"{MODEL_CACHE_MOUNT}/ollama"},
        {"name": "OLLAMA_NUM_PARALLEL", "value": str(o.num_parallel)},
        {"name": "OLLAMA_MAX_LOADED_MODELS", "value": str(o.max_loaded_models)},
        {"name": "OLLAMA_KEEP_ALIVE", "value": o.keep_alive},
        {"name": "OLLAMA_FLASH_ATTENTION", "value": "1" if o.flash_attention else "0"},
        {"name": "OLLAMA_CONTEXT_LENGTH", "value": str(o.num_ctx)},
        {"name": "OLLAMA_NOPRUNE", "value": "1"},  # keep pulled blobs across restarts
    ]


class Ollama:
    def parts(self, inp: ServerInputs) -> EngineParts:
        ep, spec = inp.endpoint, inp.spec
        image = server_image(inp).ref
        config = {"pull.sh": pull_script(inp)}
        for i, variant in enumerate(spec.ollama.variants):
            config[f"variant-{i}.Modelfile"] = modelfile(spec.model, variant)
        config_name = f"{ep.name}-modelfiles"
        init = {
            "name": "pull-model",
            "image": image,
            "imagePullPolicy": spec.image.pull_policy,
            "command": ["/bin/sh", f"{MODELFILE_DIR}/pull.sh"],
            "env": [{"name": "HOME", "value": HOME_DIR}, *ollama_env(inp)[:2]],
            "resources": resources(inp),
            "securityContext": security.container_security_context(),
            "volumeMounts": [
                {"name": "model-cache", "mountPath": MODEL_CACHE_MOUNT},
                {"name": "home", "mountPath": HOME_DIR},
                {"name": "tmp", "mountPath": "/tmp"},
                {"name": "modelfiles", "mountPath": MODELFILE_DIR, "readOnly": True},
            ],
        }
        container = {
            "name": "ollama",
            "image": image,
            "args": ["serve"],
            "env": ollama_env(inp),
        }
        return EngineParts(
            container=container,
            init_containers=[init],
            volumes=[{"name": "modelfiles", "configMap": {"name": config_name, "defaultMode": 0o444}}],
            objects=[objects.config_map(config_name, ep.namespace, ep.labels, config)],
        )
