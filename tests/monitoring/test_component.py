"""The Monitoring component under Pulumi's mock engine (the real program, via the offline plan):
a configured Grafana password is used as is, and an existing cluster without the GPU Operator gets
monitoring's own pinned dcgm-exporter release."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from components.monitoring import helm, scrape
from tests.fixtures.plans import render_plan

STACK = """
config:
  slmkit:environment: local
  slmkit:cluster: {kind: existing}
  slmkit:grafanaAdminPassword: {secure: AAABAKxyzEncryptedPlaceholder}
  slmkit:nodePools:
    - {name: gpu, gpuType: T4, gpusPerNode: 1, nodeLabels: {pool: gpu}, taints: [{key: nvidia.com/gpu, value: present}]}
  slmkit:servers:
    - {name: phi, engine: vllm, model: Qwen/Qwen2.5-1.5B-Instruct, gpus: 1, nodePool: gpu, dtype: float16, maxModelLen: 4096}
  slmkit:gateway: {enabled: false}
  slmkit:monitoring: {gpuMetrics: {source: dcgm-exporter}, retention: 2d}
"""


def test_configured_password_and_own_dcgm_exporter(tmp_path: Path):
    stack_file = tmp_path / "Pulumi.monitoring.yaml"
    stack_file.write_text(STACK, encoding="utf-8")
    result = render_plan(["--config-file", str(stack_file)], tmp_path / "plan")
    assert result.returncode == 0, result.stderr[-3000:]
    resources = json.loads((tmp_path / "plan" / "resources.json").read_text())
    names = {(r["type"], r["name"]) for r in resources}
    # The stack's own secret is used: nothing generates one.
    assert ("random:index/randomPassword:RandomPassword", "grafana-admin-password") not in names
    assert ("slmkit:monitoring:Monitoring", "monitoring") in names
    monitoring_urn = next(r["urn"] for r in resources if r["type"] == "slmkit:monitoring:Monitoring")
    mine = [r for r in resources if r["parent"] == monitoring_urn]
    assert {r["type"] for r in mine} >= {"kubernetes:helm.sh/v3:Release", "kubernetes:core/v1:Secret",
                                         "kubernetes:monitoring.coreos.com/v1:PodMonitor",
                                         "kubernetes:monitoring.coreos.com/v1:PrometheusRule",
                                         "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
                                         "kubernetes:core/v1:ConfigMap"}
    assert "AAABAKxyz" not in (tmp_path / "plan" / "resources.json").read_text()

    dcgm = yaml.safe_load((tmp_path / "plan" / "helm" / f"{scrape.DCGM_RELEASE}.yaml").read_text())
    assert (dcgm["chart"], dcgm["version"], dcgm["namespace"]) == ("dcgm-exporter", helm.dcgm_chart().version, "slmkit-monitoring")
    stack = yaml.safe_load((tmp_path / "plan" / "helm" / f"{helm.STACK_RELEASE}.yaml").read_text())
    assert stack["values"]["prometheus"]["prometheusSpec"]["retention"] == "2d"
    monitor = yaml.safe_load((tmp_path / "plan" / "manifests" / "slmkit-monitoring__servicemonitor__slmkit-dcgm-exporter.yaml").read_text())
    assert monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == scrape.DCGM_RELEASE
