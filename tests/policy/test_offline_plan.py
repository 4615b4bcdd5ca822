"""The policy rules over what the offline plan renders: the unsafe fixture is caught by name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.offline.policy_check import check_resources, mandatory, render

REPO = Path(__file__).resolve().parents[2]
UNSAFE = REPO / "tests" / "fixtures" / "unsafe_stack.yaml"
# Each rule the fixture's header promises to break.
UNSAFE_RULES = {"prod-gpu-pool-not-spot", "model-server-behind-gateway", "no-plaintext-secrets"}  # mandatory
PROD_ONLY = {"prod-gpu-pool-not-spot", "model-server-image-digest"}


def plan(args: list[str], out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "components.offline", *args, "--out", str(out)],
                          check=False, cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def unsafe_plan(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    out = tmp_path_factory.mktemp("unsafe")
    return plan(["--config-file", str(UNSAFE)], out), out


def test_unsafe_stack_breaks_each_rule_it_promises(unsafe_plan):
    result, out = unsafe_plan
    assert (out / "resources.json").is_file(), result.stderr[-2000:]
    found = check_resources(json.loads((out / "resources.json").read_text()), "prod")
    assert {v.rule for v in mandatory(found)} >= UNSAFE_RULES
    assert "model-server-image-digest" in {v.rule for v in found}  # advisory, still reported
    lines = render(found)
    assert any("env HF_TOKEN holds a Hugging Face token" in line for line in lines)
    assert all(line.startswith("[mandatory]") for line in lines[: len(mandatory(found))])


def test_the_same_stack_outside_prod_drops_only_the_prod_rules(unsafe_plan):
    _, out = unsafe_plan
    found = {v.rule for v in mandatory(check_resources(json.loads((out / "resources.json").read_text()), "staging"))}
    assert found >= UNSAFE_RULES - PROD_ONLY and not found & PROD_ONLY


def test_check_resources_rejects_an_unknown_environment():
    with pytest.raises(ValueError, match="unknown environment"):
        check_resources([], "production")
