"""The offline plan enforces the rules: an unsafe stack exits 3 naming the rule; the shipped stacks
have no mandatory violation."""

from __future__ import annotations

import json

import pytest
import yaml

from components.offline.policy_check import check_resources, mandatory, render
from tests.fixtures.plans import STACKS

from .test_offline_plan import REPO, UNSAFE, UNSAFE_RULES, plan


def test_unsafe_stack_is_rejected_with_the_rule_names(tmp_path):
    result = plan(["--config-file", str(UNSAFE)], tmp_path)
    assert result.returncode == 3, result.stderr[-2000:]
    for rule in UNSAFE_RULES:
        assert rule in result.stderr


@pytest.mark.parametrize("stack", STACKS)
def test_shipped_stacks_have_no_mandatory_violation(rendered_plans, stack):
    records = json.loads((rendered_plans[stack] / "resources.json").read_text())
    environment = yaml.safe_load((REPO / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]["slmkit:environment"]
    found = mandatory(check_resources(records, environment))
    assert found == [], "\n".join(render(found))
