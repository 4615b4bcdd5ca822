"""What the gate Job and the Locust UI share: image, service account, labels, the target and its key.

The target is the gateway when the stack has one (what clients use), else each server's Service.
The key is mounted from a Secret in the load-test namespace, never passed as an argument or value.
"""

from __future__ import annotations

from dataclasses import dataclass

from components.config import StackConfig, images
from components.config.servers import ImageRef
from components.endpoints import ServerEndpoint
from components.k8s import objects, security
from components.platform.secrets import SERVER_API_KEY_KEY, SERVER_API_KEY_SECRET
from components.traffic import access, names

SERVICE_ACCOUNT = "slmkit-loadtest"
# A gateway client key copied into the load-test namespace (a pod mounts Secrets of its own namespace only).
GATEWAY_KEY_SECRET = "slmkit-loadtest-gateway-key"
GATEWAY_KEY_FIELD = "api-key"
KEY_DIR = "/var/run/slmkit/api-key"
LOCUSTFILE = "/app/loadtests/locustfile.py"  # where docker/locust installs the kit's load tests
UID = security.RUN_AS_USER


def image(cfg: StackConfig) -> ImageRef:
    """The kit's load-test image (docker/locust): `slmkit:images.loadtest` over the catalog default."""
    return cfg.images.kit("loadtest")


def image_fields(cfg: StackConfig) -> dict[str, str]:
    ref = image(cfg)
    return {"image": ref.ref, "imagePullPolicy": ref.pull_policy}


def image_key_annotations(cfg: StackConfig, *containers: str) -> dict[str, str]:
    return {**images.image_key_annotations({c: "images.loadtest" for c in containers}),
            **images.pull_policy_skip(image(cfg))}


def labels(component: str, instance: str | None = None) -> dict[str, str]:
    out = {"app.kubernetes.io/name": "loadtest", "app.kubernetes.io/component": component}
    if instance:
        out["app.kubernetes.io/instance"] = instance
    return out


def gateway_url(cfg: StackConfig) -> str:
    """The gateway's base URL as clients use it, without `/v1`: the public hostname when set
    (inside the cluster the LoadBalancer address leads to the proxies), else the proxy Service,
    which the self-signed certificate names."""
    return access.base_url(cfg)


@dataclass(frozen=True)
class Target:
    url: str
    key_secret: str
    key_field: str


def target_for(cfg: StackConfig, ep: ServerEndpoint) -> Target:
    if cfg.gateway.enabled:
        return Target(gateway_url(cfg), GATEWAY_KEY_SECRET, GATEWAY_KEY_FIELD)
    # Without a gateway the servers are called directly with the server key (the secret store puts
    # a copy in the load-test namespace). Ollama ignores it.
    return Target(ep.url, SERVER_API_KEY_SECRET, SERVER_API_KEY_KEY)


def key_volume(target: Target) -> tuple[dict, dict]:
    volume = {"name": "api-key", "secret": {"secretName": target.key_secret, "defaultMode": 0o440,
                                            "items": [{"key": target.key_field, "path": "api-key"}]}}
    return volume, {"name": "api-key", "mountPath": KEY_DIR, "readOnly": True}


def key_path() -> str:
    return f"{KEY_DIR}/api-key"


def service_account(cfg: StackConfig) -> dict:
    return objects.service_account(SERVICE_ACCOUNT, cfg.namespaces.loadtest, labels=labels("loadtest"))


def pod_basics() -> dict:
    return {
        "serviceAccountName": SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": security.pod_security_context(UID),
    }


def writable_volumes(results: bool) -> tuple[list[dict], list[dict]]:
    """Read-only root file system: Python and Locust write only to /tmp (and the gate to /results)."""
    volumes = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    mounts = [{"name": "tmp", "mountPath": "/tmp"}]
    if results:
        volumes.append({"name": "results", "emptyDir": {"sizeLimit": "1Gi"}})
        mounts.append({"name": "results", "mountPath": "/results"})
    return volumes, mounts


BASE_ENV = [{"name": "HOME", "value": "/tmp"}, {"name": "PYTHONUNBUFFERED", "value": "1"}]

CA_DIR = "/etc/slmkit/gateway-ca"


def trust_for(cfg: StackConfig) -> tuple[list[dict], list[dict], list[dict]]:
    """(volumes, mounts, env) that make the gate trust the kit's own gateway CA when the gateway's
    certificate is not from a public CA. SSL_CERT_FILE is read by httpx and the locustfile."""
    if not access.uses_private_ca(cfg):
        return [], [], []
    volume = {"name": "gateway-ca", "configMap": {"name": names.CA_BUNDLE, "defaultMode": 0o444}}
    mount = {"name": "gateway-ca", "mountPath": CA_DIR, "readOnly": True}
    env = {"name": "SSL_CERT_FILE", "value": f"{CA_DIR}/{names.CA_BUNDLE_KEY}"}
    return [volume], [mount], [env]
