"""What every stack's offline plan really declares for monitoring (the lead's `rendered_plans`)."""

from __future__ import annotations

from pathlib import Path

import yaml

from components.config import load_from_file
from components.endpoints import server_endpoints
from components.monitoring import helm, scrape
from tests.monitoring.test_scrape import schema_errors

REPO = Path(__file__).resolve().parents[2]


def manifests(out: Path) -> list[dict]:
    return [yaml.safe_load(p.read_text()) for p in sorted((out / "manifests").glob("*.yaml"))]


def test_every_stack_with_monitoring_declares_release_monitors_rules_and_dashboards(rendered_plans):
    checked = 0
    for stack, out in rendered_plans.items():
        cfg = load_from_file(str(REPO / "stacks" / f"Pulumi.{stack}.yaml"))[0].stack
        objs = manifests(out)
        mine = [o for o in objs if o["metadata"].get("namespace") == cfg.namespaces.monitoring]
        release_file = out / "helm" / f"{helm.STACK_RELEASE}.yaml"
        if not cfg.monitoring.enabled:
            assert not mine and not release_file.exists(), stack
            continue
        checked += 1
        release = yaml.safe_load(release_file.read_text())
        assert (release["chart"], release["version"]) == (helm.stack_chart().name, helm.stack_chart().version)
        assert release["namespace"] == cfg.namespaces.monitoring
        assert release["values"]["prometheus"]["prometheusSpec"]["retention"] == cfg.monitoring.retention
        kinds = {}
        for o in mine:
            kinds.setdefault(o["kind"], set()).add(o["metadata"]["name"])
        expected_pods = {scrape.monitor_name(ep) for ep in server_endpoints(cfg) if ep.metrics_path}
        if cfg.gateway.enabled:
            expected_pods.add(scrape.GATEWAY_MONITOR)
        assert kinds["PodMonitor"] == expected_pods, stack
        assert kinds["PrometheusRule"] == {"slmkit-alerts"}
        assert {"slmkit-overview-dashboard"} <= kinds["ConfigMap"]
        assert helm.GRAFANA_ADMIN_SECRET in kinds["Secret"]
        for o in mine:
            if o["apiVersion"].startswith("monitoring.coreos.com/"):
                assert not schema_errors(o), (stack, o["metadata"]["name"])
            if o["kind"] == "Secret":
                assert all(v == "<redacted>" for v in (o.get("stringData") or {}).values()), "secret value in the plan"
    assert checked, "no stack file turns monitoring on"
