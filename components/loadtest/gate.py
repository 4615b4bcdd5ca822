"""The post-deploy gate: one Job per model server running `python -m loadtests run` against it.

One Job per server (not one per stack) so a change to one server re-tests that server only, and
its log and exit code name the server that failed. The Job's name carries a hash of what the gate
depends on (the server's spec, the gate options, the target URL): a new name makes Pulumi replace
the Job, i.e. run the gate again; an unchanged name leaves the passed Job alone.
"""

from __future__ import annotations

import hashlib
import json

from components.config import StackConfig
from components.endpoints import ServerEndpoint
from components.k8s import objects, security
from loadtests.deadline import gate_deadline_s
from loadtests.profile import load_profile

from . import common, gate_result

MARGIN_S = 300  # image pull and start-up, on top of the gate's own phase deadlines
MAX_NAME = 63


def gate_hash(cfg: StackConfig, ep: ServerEndpoint) -> str:
    gate = cfg.loadtest.model_dump(mode="json", exclude={"ui"})
    body = {"server": ep.spec.model_dump(mode="json"), "gate": gate, "target": common.target_for(cfg, ep).url}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:8]


def job_name(cfg: StackConfig, ep: ServerEndpoint) -> str:
    prefix = "gate-"
    suffix = f"-{gate_hash(cfg, ep)}"
    return prefix + ep.name[: MAX_NAME - len(prefix) - len(suffix)].rstrip("-") + suffix


def deadline_seconds(cfg: StackConfig) -> int:
    """How long the gate Job may run: longer than the gate's own deadlines (so the gate, not Kubernetes,
    ends a hung run and summary.json is written), plus image pull."""
    load = load_profile(cfg.loadtest.profile).load
    return int(gate_deadline_s(load.warmup_s, load.duration_s, load.request_timeout_s, cfg.loadtest.smoke)) + MARGIN_S


def gate_args(cfg: StackConfig, ep: ServerEndpoint) -> list[str]:
    target = common.target_for(cfg, ep)
    return ["run", "--host", target.url, "--out", "/results", "--api-key-file", common.key_path(),
            *gate_options(cfg, ep)]


def gate_options(cfg: StackConfig, ep: ServerEndpoint) -> list[str]:
    """What the gate checks, from the stack: the Job and `make loadtest` (components.loadtest.local)
    both pass exactly these, so a local run is the same gate."""
    lt = cfg.loadtest
    args = ["--profile", lt.profile, "--model", ep.served_names[0]]
    if ep.tool_capable:
        for model in ep.served_names:
            args += ["--expect-tools", model]
    if lt.skip_content_checks:
        args += ["--skip-content-checks", "*"]
    if not lt.smoke:
        args.append("--no-smoke")
    return args


def gate_job(cfg: StackConfig, ep: ServerEndpoint) -> dict:
    target = common.target_for(cfg, ep)
    key_volume, key_mount = common.key_volume(target)
    volumes, mounts = common.writable_volumes(results=True)
    ca_volumes, ca_mounts, ca_env = common.trust_for(cfg)
    token_volume, token_mount = gate_result.token_volume()  # to publish its result (gate_result.py)
    name = job_name(cfg, ep)
    labels = common.labels("gate", ep.name)
    processes = load_profile(cfg.loadtest.profile).load.processes
    container = {
        "name": "gate",
        **common.image_fields(cfg),
        "command": ["python", "-m", "loadtests"],
        "args": gate_args(cfg, ep),
        "env": list(common.BASE_ENV) + ca_env + gate_result.env(cfg, ep, name),
        "resources": {"requests": {"cpu": f"{500 * processes}m", "memory": "512Mi", "ephemeral-storage": "256Mi"},
                      "limits": {"cpu": str(processes + 1), "memory": "2Gi", "ephemeral-storage": "2Gi"}},
        "securityContext": security.container_security_context(),
        # A failed gate's last log lines (its verdict and figures) stay in the pod status after it ends.
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": mounts + [key_mount] + ca_mounts + [token_mount],
    }
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": objects.meta(name, cfg.namespaces.loadtest, labels,
                                 {"slmkit.io/gate-target": target.url, "slmkit.io/profile": cfg.loadtest.profile,
                                  **common.image_key_annotations(cfg, "gate")}),
        "spec": {
            "backoffLimit": 0,  # a failed gate is a verdict, not a glitch to retry
            "activeDeadlineSeconds": deadline_seconds(cfg),
            "template": {
                "metadata": {"labels": labels},
                "spec": {**common.pod_basics(), "serviceAccountName": gate_result.SERVICE_ACCOUNT,
                         "restartPolicy": "Never", "containers": [container],
                         "volumes": volumes + [key_volume] + ca_volumes + [token_volume]},
            },
        },
    }


def gate_jobs(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[dict]:
    if not cfg.loadtest.gate:
        return []
    return [gate_job(cfg, ep) for ep in endpoints]
