"""Log aggregation: Loki (monolithic, one StatefulSet) and Grafana Alloy, which tails the pod logs of
the kit's namespaces through the Kubernetes API (no host mounts, so it runs Pod Security `restricted`)
and labels each stream like the metrics: namespace, server, pod, container.

Pure: config in, Helm values and rule files out. Chart facts (value names, defaults) were read in the
pinned charts' values.yaml at the tags in components/catalog/charts.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from components.catalog import logs as patterns
from components.catalog.charts import CHARTS, Chart
from components.config import StackConfig
from components.config.monitoring import logs_enabled
from components.platform.namespaces import kit_namespaces

LOKI_RELEASE = "loki"
LOKI_FULLNAME = "slmkit-loki"  # the chart's Service and StatefulSet name (monolithic: no suffix)
LOKI_PORT = 3100  # loki.server.http_listen_port (chart default)
LOKI_POD = {"app.kubernetes.io/name": "loki", "app.kubernetes.io/instance": LOKI_RELEASE}
ALLOY_RELEASE = "slmkit-alloy"
ALLOY_POD = {"app.kubernetes.io/name": "alloy", "app.kubernetes.io/instance": ALLOY_RELEASE}
ALLOY_UID = 473  # the `alloy` user of the grafana/alloy image (its Dockerfile, v1.18.1)
LOKI_UID = 10001  # loki.podSecurityContext default
TENANT = "fake"  # Loki's tenant id when auth_enabled is false: rule files live under rules/<tenant>/
RULES_DIR = "/etc/loki/rules"  # where the chart mounts ruler.directories
DATASOURCE_UID = "slmkit-loki"
# Labels every stream gets (Alloy's discovery.relabel below); the same names as the metrics' labels.
STREAM_LABELS = ("namespace", "server", "pod", "container")
RULE_FILE = "slmkit-log-alerts.yaml"
# loki.resourceName of component single-binary + suffix loki.rulerRulesDirName(TENANT) (templates/_helpers.tpl)
RULES_CONFIG_MAP = f"{LOKI_FULLNAME}-single-binary-rules-{TENANT}"


def loki_chart() -> Chart:
    return CHARTS["loki"]


def alloy_chart() -> Chart:
    return CHARTS["alloy"]


def loki_url(cfg: StackConfig) -> str:
    return f"http://{LOKI_FULLNAME}.{cfg.namespaces.monitoring}.svc.cluster.local:{LOKI_PORT}"


def alertmanager_url(cfg: StackConfig) -> str:
    from .helm import FULLNAME

    return f"http://{FULLNAME}-alertmanager.{cfg.namespaces.monitoring}.svc.cluster.local:9093"


def shipped_namespaces(cfg: StackConfig) -> list[str]:
    """The kit's namespaces whose pod logs are shipped (models, gateway proxies, load test, monitoring)."""
    return sorted(set(kit_namespaces(cfg).values()))


@dataclass(frozen=True)
class AzureBlobStore:
    """Loki's object store on AKS: a blob container reached with workload identity (no keys)."""

    account_name: Any  # pulumi Input[str]
    container: Any
    client_id: Any  # the user-assigned identity federated with Loki's service account


def _resources(cpu: str, memory: str) -> dict:
    # Memory limit = request: an OOM kill is clearer than a node under memory pressure.
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory}}


def _restricted_container() -> dict:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def _storage_class(cfg: StackConfig) -> str | None:
    return cfg.monitoring.logs.storage_class or cfg.monitoring.storage_class or getattr(cfg.cluster, "storage_class", None)


def loki_values(cfg: StackConfig, blob: AzureBlobStore | None = None) -> dict:
    logs = cfg.monitoring.logs
    storage: dict[str, Any]
    if blob is None:  # chunks and index on the StatefulSet's PVC
        storage = {"type": "filesystem"}
        object_store = "filesystem"
    else:
        storage = {"type": "azure", "bucketNames": {"chunks": blob.container},
                   "azure": {"accountName": blob.account_name, "useFederatedToken": True}}
        object_store = "azure"
    persistence: dict[str, Any] = {"enabled": True, "size": logs.storage_size}
    if _storage_class(cfg):
        persistence["storageClass"] = _storage_class(cfg)
    single: dict[str, Any] = {
        "replicas": 1,
        "resources": _resources(logs.loki_cpu, logs.loki_memory),
        "persistence": persistence,
        "sidecar": False,  # rules come from ruler.directories, so no sidecar watching the API
    }
    service_account: dict[str, Any] = {"create": True, "automountServiceAccountToken": False}
    if blob is not None:
        single["podLabels"] = {"azure.workload.identity/use": "true"}
        service_account["annotations"] = {"azure.workload.identity/client-id": blob.client_id}
    values: dict[str, Any] = {
        "deploymentMode": "Monolithic",
        "fullnameOverride": LOKI_FULLNAME,
        "loki": {
            "auth_enabled": False,  # one tenant: the cluster; Grafana is the only reader
            "commonConfig": {"replication_factor": 1},
            "storage": storage,
            "schemaConfig": {"configs": [{"from": "2024-04-01", "store": "tsdb", "object_store": object_store,
                                          "schema": "v13", "index": {"prefix": "loki_index_", "period": "24h"}}]},
            "limits_config": {"retention_period": logs.retention, "allow_structured_metadata": True,
                              "volume_enabled": True},
            # Retention is the compactor's job; it needs a store for delete requests.
            "compactor": {"retention_enabled": True, "delete_request_store": object_store,
                          "working_directory": "/var/loki/compactor"},
            "rulerConfig": {"storage": {"type": "local", "local": {"directory": RULES_DIR}},
                            "alertmanager_url": alertmanager_url(cfg), "enable_api": True,
                            "rule_path": "/var/loki/rules-temp", "wal": {"dir": "/var/loki/ruler-wal"}},
            "analytics": {"reporting_enabled": False},
        },
        "singleBinary": single,
        "serviceAccount": service_account,
        "defaults": {"automountServiceAccountToken": False},  # Loki never calls the API server
        "ruler": {"directories": {TENANT: {RULE_FILE: yaml.safe_dump(rule_file(cfg), sort_keys=False)}}
                  if logs.alerts else {}},
        # Monolithic on one node: no nginx gateway, canary, memcached caches, Helm test or MinIO.
        "gateway": {"enabled": False},
        "lokiCanary": {"enabled": False},
        "chunksCache": {"enabled": False},
        "resultsCache": {"enabled": False},
        "test": {"enabled": False},
        "minio": {"enabled": False},
        "sidecar": {"rules": {"enabled": False}},
        # The other deployment modes' components stay at zero replicas (chart defaults, set explicitly).
        **{c: {"replicas": 0} for c in ("backend", "read", "write")},
    }
    return values


def alloy_config(cfg: StackConfig) -> str:
    """Alloy's configuration: discover the pods of the kit's namespaces, label them like the metrics,
    tail their logs through the API server, push to Loki."""
    names = ", ".join(f'"{n}"' for n in shipped_namespaces(cfg))
    rules = "\n".join(
        f'  rule {{\n    source_labels = ["{src}"]\n    target_label  = "{dst}"\n  }}'
        for src, dst in (("__meta_kubernetes_namespace", "namespace"),
                         ("__meta_kubernetes_pod_label_app_kubernetes_io_instance", "server"),
                         ("__meta_kubernetes_pod_name", "pod"),
                         ("__meta_kubernetes_pod_container_name", "container")))
    return f"""discovery.kubernetes "pods" {{
  role = "pod"
  namespaces {{
    names = [{names}]
  }}
}}

discovery.relabel "pods" {{
  targets = discovery.kubernetes.pods.targets
{rules}
}}

loki.source.kubernetes "pods" {{
  targets    = discovery.relabel.pods.output
  forward_to = [loki.write.loki.receiver]
}}

loki.write "loki" {{
  endpoint {{
    url = "{loki_url(cfg)}/loki/api/v1/push"
  }}
}}
"""


def alloy_values(cfg: StackConfig) -> dict:
    logs = cfg.monitoring.logs
    return {
        "fullnameOverride": ALLOY_RELEASE,
        "crds": {"create": False},  # the PodLogs CRD is not used
        "alloy": {
            "configMap": {"create": True, "content": alloy_config(cfg)},
            "enableReporting": False,
            "storagePath": "/tmp/alloy",
            "resources": _resources(logs.collector_cpu, logs.collector_memory),
            "securityContext": {**_restricted_container(), "runAsUser": ALLOY_UID, "runAsGroup": ALLOY_UID},
            "mounts": {"varlog": False, "dockercontainers": False,
                       "extra": [{"name": "storage", "mountPath": "/tmp/alloy"}]},
        },
        "global": {"podSecurityContext": {"runAsNonRoot": True, "runAsUser": ALLOY_UID, "runAsGroup": ALLOY_UID,
                                          "fsGroup": ALLOY_UID, "seccompProfile": {"type": "RuntimeDefault"}}},
        "controller": {"type": "deployment", "replicas": 1,
                       "volumes": {"extra": [{"name": "storage", "emptyDir": {"sizeLimit": "1Gi"}}]}},
        # Roles in the shipped namespaces only (no ClusterRole), with what discovery.kubernetes and
        # loki.source.kubernetes need: pods and their logs.
        "rbac": {"create": True, "namespaces": shipped_namespaces(cfg),
                 "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]}]},
        "configReloader": {"resources": _resources("10m", "50Mi")},
    }


# --- log-based alerts (Loki ruler, Prometheus rule-group format with LogQL expressions) ----------------

@dataclass(frozen=True)
class LogAlert:
    name: str
    pattern: patterns.LogPattern
    window: str
    threshold: int
    severity: str
    summary: str
    description: str


def log_alerts() -> list[LogAlert]:
    return [
        LogAlert("SlmCudaOutOfMemory", patterns.CUDA_OOM, "5m", 0, "critical",
                 "{{ $labels.server }} ran out of GPU memory",
                 "{{ $labels.pod }} logged CUDA out of memory: requests fail or the engine dies. Lower maxNumSeqs "
                 "or maxModelLen, or gpuMemoryUtilization if another process shares the GPU."),
        LogAlert("SlmModelLoadFailed", patterns.MODEL_LOAD_FAILED, "10m", 0, "critical",
                 "{{ $labels.server }} failed to load its model",
                 "{{ $labels.pod }} logged a model load failure; the server will not become ready."),
        LogAlert("SlmEngineRestarts", patterns.ENGINE_DIED, "30m", 2, "warning",
                 "The engine of {{ $labels.server }} died {{ $value }} times in 30 minutes",
                 "The inference engine process keeps dying (crash, OOM): running requests fail each time."),
    ]


def log_alert_expr(cfg: StackConfig, alert: LogAlert) -> str:
    selector = f'{{namespace="{cfg.namespaces.models}"}}'
    regex = alert.pattern.regex.replace("\\", "\\\\").replace('"', '\\"')
    return (f"sum by (namespace, server, pod) (count_over_time({selector} |~ \"{regex}\" [{alert.window}])) "
            f"> {alert.threshold}")


def rule_file(cfg: StackConfig) -> dict:
    from .alerts import RUNBOOK

    rules = [{"alert": a.name, "expr": log_alert_expr(cfg, a),
              "labels": {"severity": a.severity, "slmkit_alert": "true", "source": "logs"},
              "annotations": {"summary": a.summary, "description": a.description,
                              "runbook_url": RUNBOOK.format(anchor=a.name.lower())}}
             for a in log_alerts()]
    return {"groups": [{"name": "slmkit.logs", "interval": "1m", "rules": rules}]}


def rules_config_map(cfg: StackConfig) -> dict:
    """The rule files of ruler.directories. The chart mounts this ConfigMap into the monolithic pod
    (templates/_pod.tpl) but renders it only in Distributed mode (templates/ruler/configmap.yaml,
    loki-18.11.0), so the kit declares it under the name the pod expects."""
    from components.k8s.objects import config_map

    return config_map(RULES_CONFIG_MAP, cfg.namespaces.monitoring, {"app.kubernetes.io/component": "monitoring"},
                      {RULE_FILE: yaml.safe_dump(rule_file(cfg), sort_keys=False)})


def grafana_datasource(cfg: StackConfig) -> dict:
    """kube-prometheus-stack `grafana.additionalDataSources` entry (provisioned by Grafana itself)."""
    return {"name": "Loki", "type": "loki", "uid": DATASOURCE_UID, "access": "proxy", "url": loki_url(cfg),
            "isDefault": False, "editable": False, "jsonData": {"maxLines": 1000}}


def enabled(cfg: StackConfig) -> bool:
    return logs_enabled(cfg)
