"""Where a gate Job leaves its verdict and key figures, so they outlive the pod.

Per gate Job a ConfigMap `gate-result-<server>`, declared WITHOUT `data`: Pulumi's server-side apply
then never owns that field, and the gate (loadtests/gate_result.py) merge-patches it. The gate pods
run as their own ServiceAccount whose Role may patch exactly those ConfigMaps, with a projected
token (the Locust UI pods keep no token). `pulumi up` reads the ConfigMap back after the Job
(component.py) and `stack_result` turns it into the stack output.
"""

from __future__ import annotations

import json

from components.catalog import upstream
from components.config import StackConfig
from components.endpoints import ServerEndpoint
from components.k8s import objects
from loadtests import gate_result as publisher

from . import common

SERVICE_ACCOUNT = "slmkit-loadtest-gate"
ROLE = "slmkit-gate-result-writer"
PREFIX = "gate-result-"
TOKEN_VOLUME = "api-token"
TOKEN_EXPIRATION_S = 3600  # the kubelet rotates it at 80 % of its life; the gate re-reads it when it publishes
NOT_RECORDED = "not recorded by this Job"


def config_map_name(ep: ServerEndpoint) -> str:
    # Server names are DNS labels of at most 40 characters (components/config/servers.py): this fits 63.
    return PREFIX + ep.name


def result_config_map(cfg: StackConfig, ep: ServerEndpoint) -> dict:
    """No `data` on purpose: the gate writes it (see the module docstring)."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": objects.meta(config_map_name(ep), cfg.namespaces.loadtest, common.labels("gate", ep.name))}


def service_account(cfg: StackConfig) -> dict:
    return objects.service_account(SERVICE_ACCOUNT, cfg.namespaces.loadtest, labels=common.labels("gate"))


def role(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> dict:
    """`patch` on the result ConfigMaps by name, nothing else (the gate never reads or lists them)."""
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": objects.meta(ROLE, cfg.namespaces.loadtest, common.labels("gate")),
            "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                       "resourceNames": sorted(config_map_name(ep) for ep in endpoints), "verbs": ["patch"]}]}


def role_binding(cfg: StackConfig) -> dict:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": objects.meta(ROLE, cfg.namespaces.loadtest, common.labels("gate")),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": cfg.namespaces.loadtest}]}


def objects_for(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[dict]:
    """What the gate Jobs need before they start: ServiceAccount, Role, RoleBinding, result ConfigMaps."""
    if not cfg.loadtest.gate or not endpoints:
        return []
    return [service_account(cfg), role(cfg, endpoints), role_binding(cfg),
            *(result_config_map(cfg, ep) for ep in endpoints)]


def token_volume() -> tuple[dict, dict]:
    """The pod's token as a projected volume laid out like the one the ServiceAccount admission
    plugin adds (token, ca.crt, namespace), mounted where the kubernetes client's in-cluster loader
    reads it. `automountServiceAccountToken` stays false (checkov CKV_K8S_38): the token is
    explicit, short-lived and bound to the pod."""
    layout = upstream.SERVICE_ACCOUNT_TOKEN_VOLUME.value
    volume = {"name": TOKEN_VOLUME, "projected": {"sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": TOKEN_EXPIRATION_S}},
        {"configMap": {"name": layout["ca_config_map"], "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}
    return volume, {"name": TOKEN_VOLUME, "mountPath": layout["mount_path"], "readOnly": True}


def env(cfg: StackConfig, ep: ServerEndpoint, job_name: str) -> list[dict]:
    uid_label = upstream.JOB_CONTROLLER_UID_LABEL.value
    return [{"name": publisher.TARGET_ENV, "value": f"{cfg.namespaces.loadtest}/{config_map_name(ep)}"},
            {"name": publisher.JOB_ENV, "value": job_name},
            {"name": publisher.JOB_UID_ENV,
             "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": f"metadata.labels['{uid_label}']"}}}]


def stack_result(data: dict | None, job_name: str, job_uid: str | None) -> dict | str:
    """The stack output's `result` of one gate Job: the figures the gate recorded, when this Job
    recorded them (the ConfigMap outlives Jobs: an older Job's result is not this one's, also not
    one of a Job deleted and re-created under the same name, which has another UID)."""
    raw = (data or {}).get(publisher.DATA_KEY)
    if not raw:
        return NOT_RECORDED
    try:
        record = json.loads(raw)
    except ValueError:
        return f"{NOT_RECORDED} (the ConfigMap holds no JSON)"
    if not isinstance(record, dict):
        return NOT_RECORDED
    if record.get("job") != job_name or (job_uid and record.get("jobUid") != job_uid):
        other = record.get("job")
        if other and other != job_name:
            return f"{NOT_RECORDED} (the ConfigMap holds the result of {other})"
        return f"{NOT_RECORDED} (the ConfigMap holds the result of an earlier Job of this name)" if other else NOT_RECORDED
    return {k: v for k, v in record.items() if k not in ("job", "jobUid")}
