"""The Locust web UI in the cluster: a master (web UI on 8089, workers' port 5557) and workers.

ClusterIP only: reach it with `kubectl port-forward`. The login (loadtests/webui.py, --web-login)
reads its password and session key from files mounted from a Secret; the workers send the load,
so they hold the target's key (a mounted Secret file).
"""

from __future__ import annotations

import pulumi

from components.config import StackConfig
from components.endpoints import ServerEndpoint
from components.k8s import objects, security

from . import common

MASTER, WORKER = "locust-master", "locust-worker"
LOGIN_SECRET = "slmkit-locust-login"
LOGIN_USER = "admin"
WEB_PORT, MASTER_PORT = 8089, 5557
LOGIN_DIR = "/var/run/slmkit/locust-login"


def ui_target(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> common.Target:
    """The UI's default host: the gateway, else the first server (the UI lets the user change it)."""
    return common.target_for(cfg, endpoints[0])


def login_secret(cfg: StackConfig, password: pulumi.Input[str], session_key: pulumi.Input[str]) -> dict:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": objects.meta(LOGIN_SECRET, cfg.namespaces.loadtest, common.labels("ui")),
            "type": "Opaque", "stringData": {"password": password, "session-key": session_key}}


def _resources(cpu: str, memory: str, cpu_limit: str, memory_limit: str) -> dict:
    return {"requests": {"cpu": cpu, "memory": memory, "ephemeral-storage": "128Mi"},
            "limits": {"cpu": cpu_limit, "memory": memory_limit, "ephemeral-storage": "1Gi"}}


def _deployment(cfg: StackConfig, name: str, replicas: int, container: dict, extra_volumes: list[dict]) -> dict:
    labels = common.labels(name)
    volumes, mounts = common.writable_volumes(results=False)
    container = {**common.image_fields(cfg),
                 "securityContext": security.container_security_context(),
                 "volumeMounts": mounts + container.pop("volumeMounts", []), **container}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": objects.meta(name, cfg.namespaces.loadtest, labels, common.image_key_annotations(cfg, container["name"])),
        "spec": {
            "replicas": replicas,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                         "spec": {**common.pod_basics(), "containers": [container], "volumes": volumes + extra_volumes}},
        },
    }


def master(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> dict:
    target = ui_target(cfg, endpoints)
    login = {"name": "login", "secret": {"secretName": LOGIN_SECRET, "defaultMode": 0o440}}
    container = {
        "name": "master",
        "command": ["locust"],
        "args": ["-f", common.LOCUSTFILE, "--master", "--master-bind-host", "0.0.0.0", "--master-bind-port", str(MASTER_PORT),
                 "--web-host", "0.0.0.0", "--web-port", str(WEB_PORT), "--web-login", "--host", target.url,
                 "--progress-s", "0", "--class-picker",  # closed- or open-loop: the user picks, never a 50/50 mix
                 "--expect-workers", str(cfg.loadtest.ui.workers)],
        "env": [*common.BASE_ENV,
                {"name": "SLMKIT_WEB_USERNAME", "value": LOGIN_USER},
                {"name": "SLMKIT_WEB_PASSWORD_FILE", "value": f"{LOGIN_DIR}/password"},
                {"name": "SLMKIT_WEB_SECRET_KEY_FILE", "value": f"{LOGIN_DIR}/session-key"}],
        "ports": [{"name": "web", "containerPort": WEB_PORT, "protocol": "TCP"},
                  {"name": "master", "containerPort": MASTER_PORT, "protocol": "TCP"}],
        # The login page answers without a session; the workers' port proves the master listens.
        "startupProbe": {**objects.http_probe("/login", "web", 5, 24)},
        "livenessProbe": {"tcpSocket": {"port": "master"}, "periodSeconds": 15, "failureThreshold": 4, "timeoutSeconds": 5},
        "readinessProbe": objects.http_probe("/login", "web", 10, 3),
        "resources": _resources("250m", "512Mi", "1", "1Gi"),
        "volumeMounts": [{"name": "login", "mountPath": LOGIN_DIR, "readOnly": True}],
    }
    return _deployment(cfg, MASTER, 1, container, [login])


# The locustfile reads the key from OPENAI_API_KEY only; this launcher loads it from the mounted
# Secret file into the process environment, so the key is neither an argument nor a Pod env value.
KEY_FILE_LAUNCHER = ("import os, sys; os.environ['OPENAI_API_KEY'] = open(sys.argv[1]).read().strip(); "
                     "os.execvp('locust', ['locust', *sys.argv[2:]])")


def worker(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> dict:
    target = ui_target(cfg, endpoints)
    key_volume, key_mount = common.key_volume(target)
    ca_volumes, ca_mounts, ca_env = common.trust_for(cfg)
    alive = {"exec": {"command": ["python", "-c", "import os; os.kill(1, 0)"]},
             "periodSeconds": 30, "failureThreshold": 3, "timeoutSeconds": 10}
    container = {
        "name": "worker",
        "command": ["python", "-c", KEY_FILE_LAUNCHER, common.key_path()],
        "args": ["-f", common.LOCUSTFILE, "--worker", "--master-host", f"{MASTER}.{cfg.namespaces.loadtest}.svc.cluster.local",
                 "--master-port", str(MASTER_PORT)],
        "env": list(common.BASE_ENV) + ca_env,
        # A worker serves no port: it is alive while its process (PID 1) runs; Locust's master
        # shows workers that stop reporting as missing.
        "livenessProbe": alive,
        "readinessProbe": alive,
        "resources": _resources("500m", "512Mi", "1", "1Gi"),
        "volumeMounts": [key_mount] + ca_mounts,
    }
    return _deployment(cfg, WORKER, cfg.loadtest.ui.workers, container, [key_volume] + ca_volumes)


def master_service(cfg: StackConfig) -> dict:
    labels = common.labels(MASTER)
    svc = objects.service(MASTER, cfg.namespaces.loadtest, labels, labels, WEB_PORT, "web")
    svc["spec"]["ports"].append({"name": "master", "port": MASTER_PORT, "targetPort": "master", "protocol": "TCP"})
    return svc


def ui_objects(cfg: StackConfig, endpoints: list[ServerEndpoint]) -> list[dict]:
    """Deployments and Service; the login Secret is built separately (its values are Pulumi secrets)."""
    if not cfg.loadtest.ui.enabled or not endpoints:
        return []
    return [master_service(cfg), master(cfg, endpoints), worker(cfg, endpoints)]
