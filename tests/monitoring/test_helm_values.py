"""kube-prometheus-stack and dcgm-exporter values: sized from the config, the admin password never
in values, every monitor and rule selected, Grafana's dashboard sidecar on."""

from __future__ import annotations

from components.config import validate_raw
from components.monitoring import helm
from tests.monitoring.configs import GPU_POOL, VLLM, loaded
from tests.platform.harness import stack_raw


def test_prometheus_is_sized_from_the_config():
    cfg = loaded(monitoring={"retention": "30d", "storageSize": "100Gi", "prometheusReplicas": 2,
                             "prometheusCpu": "1", "prometheusMemory": "6Gi", "storageClass": "managed-csi-premium",
                             "alertmanagerReplicas": 2}).stack
    values = helm.stack_values(cfg)
    spec = values["prometheus"]["prometheusSpec"]
    assert (spec["replicas"], spec["retention"]) == (2, "30d")
    assert spec["resources"] == {"requests": {"cpu": "1", "memory": "6Gi"}, "limits": {"memory": "6Gi"}}
    claim = spec["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["resources"]["requests"]["storage"] == "100Gi"
    assert claim["storageClassName"] == "managed-csi-premium"
    assert values["alertmanager"]["alertmanagerSpec"]["replicas"] == 2


def test_defaults_use_the_clusters_storage_class():
    cfg = loaded(cluster={"kind": "existing", "storageClass": "local-path"}).stack
    claim = helm.stack_values(cfg)["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]
    assert claim["storageClassName"] == "local-path"
    assert "storageClassName" not in helm.stack_values(loaded().stack)["prometheus"]["prometheusSpec"]["storageSpec"]["volumeClaimTemplate"]["spec"]


def test_operator_selects_monitors_and_rules_in_every_namespace():
    spec = helm.stack_values(loaded().stack)["prometheus"]["prometheusSpec"]
    for kind in ("serviceMonitor", "podMonitor", "rule"):
        assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
        assert spec[f"{kind}Selector"] == {} and spec[f"{kind}NamespaceSelector"] == {}


def test_grafana_admin_password_comes_from_a_secret_not_values():
    values = helm.stack_values(loaded().stack)
    grafana = values["grafana"]
    assert grafana["admin"]["existingSecret"] == helm.GRAFANA_ADMIN_SECRET
    assert "adminPassword" not in keys(values)


def keys(node) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in keys(v)}
    return set()


def test_grafana_dashboard_sidecar_is_on_and_hardened_settings():
    cfg = loaded().stack
    grafana = helm.stack_values(cfg)["grafana"]
    sidecar = grafana["sidecar"]["dashboards"]
    assert sidecar["enabled"] is True and sidecar["label"] == "grafana_dashboard"
    assert sidecar["searchNamespace"] == cfg.namespaces.monitoring
    assert grafana["grafana.ini"]["auth.anonymous"]["enabled"] is False
    assert grafana["grafana.ini"]["users"]["allow_sign_up"] is False


def test_prometheus_and_operator_run_non_root_hardened():
    values = helm.stack_values(loaded().stack)
    pod = values["prometheus"]["prometheusSpec"]["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["seccompProfile"] == {"type": "RuntimeDefault"}
    container = values["prometheusOperator"]["containerSecurityContext"]
    assert container["readOnlyRootFilesystem"] is True and container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}


def test_dcgm_exporter_runs_only_on_gpu_nodes_and_tolerates_their_taints():
    cfg = loaded([VLLM], monitoring={"gpuMetrics": {"source": "dcgm-exporter"}}).stack
    values = helm.dcgm_values(cfg)
    assert values["serviceMonitor"] == {"enabled": False}
    assert {"key": "nvidia.com/gpu", "operator": "Equal", "value": "present", "effect": "NoSchedule"} in values["tolerations"]
    (term,) = values["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert term["matchExpressions"] == [{"key": k, "operator": "In", "values": [v]} for k, v in GPU_POOL["nodeLabels"].items()]


CONTROL_PLANE = ("kubeControllerManager", "kubeScheduler", "kubeEtcd")


def test_managed_control_plane_is_not_scraped_or_alerted_on_aks():
    """AKS runs the control plane outside the cluster (and Cilium replaces kube-proxy): the chart's
    `absent(up{job=...})` alerts for them would fire for ever."""
    aks = validate_raw(stack_raw("dev"), "stacks/Pulumi.dev.yaml", set()).stack
    values = helm.stack_values(aks)
    assert all(values[k] == {"enabled": False} for k in (*CONTROL_PLANE, "kubeProxy"))


def test_existing_clusters_keep_the_control_plane_unless_told_it_is_managed():
    values = helm.stack_values(loaded().stack)
    assert all(values[k] == {"enabled": True} for k in (*CONTROL_PLANE, "kubeProxy"))
    managed = helm.stack_values(loaded(monitoring={"controlPlane": "managed", "kubeProxy": False}).stack)
    assert all(managed[k] == {"enabled": False} for k in (*CONTROL_PLANE, "kubeProxy"))
    only_proxy_off = helm.stack_values(loaded(monitoring={"kubeProxy": False}).stack)
    assert only_proxy_off["kubeProxy"] == {"enabled": False} and only_proxy_off["kubeEtcd"] == {"enabled": True}
