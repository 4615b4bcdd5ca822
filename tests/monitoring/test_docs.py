"""docs/monitoring.md explains every alert the rules can raise: table row with severity, and a runbook."""

from __future__ import annotations

import re
from pathlib import Path

from components.endpoints import server_endpoints
from components.monitoring import alerts
from tests.monitoring.configs import loaded

DOC = Path(__file__).resolve().parents[2] / "docs" / "monitoring.md"


def test_every_alert_has_a_table_row_with_its_severity_and_a_runbook_section():
    text = DOC.read_text(encoding="utf-8")
    cfg = loaded().stack
    for group in alerts.prometheus_rule(cfg, server_endpoints(cfg))["spec"]["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            name, severity = rule["alert"], rule["labels"]["severity"]
            anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
            assert re.search(rf"^\| \[{name}\]\(#{anchor}\) \| {severity} \|", text, re.MULTILINE), f"{name}: no table row"
            assert re.search(rf"^#### {name}\n\n\S", text, re.MULTILINE), f"{name}: no runbook section"
            assert anchor == name.lower()  # GitHub's anchor for the heading
