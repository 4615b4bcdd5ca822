"""Scan an offline plan the way a cluster and a security reviewer would.

    python -m components.offline.scan plans/prod

Core kinds: kubernetes-validate strict for 1.31 and the newest bundled version. Custom resources:
the upstream CRD schemas in ../shared/crd-schemas (when present). checkov with the skips listed in
tests/checkov-skips.yaml. Exit 1 when anything fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
SKIPS_FILE = REPO / "tests" / "checkov-skips.yaml"
CRD_SCHEMAS = REPO.parent / "shared" / "crd-schemas"
CORE_API_VERSIONS = {"v1", "apps/v1", "batch/v1", "policy/v1", "networking.k8s.io/v1",
                     "rbac.authorization.k8s.io/v1", "autoscaling/v2", "storage.k8s.io/v1"}


def _kit_schemas() -> dict[tuple[str, str], dict]:
    """Schemas transcribed in the catalogs (with their upstream file and tag) for kinds whose CRD
    ../shared does not hold yet."""
    from components.catalog import vpa

    return {(vpa.API, vpa.KIND): vpa.SPEC_SCHEMA}


KIT_SCHEMAS = _kit_schemas()


def load_manifests(manifest_dir: Path) -> list[tuple[str, dict]]:
    return [(p.name, yaml.safe_load(p.read_text())) for p in sorted(manifest_dir.glob("*.yaml"))]


def is_core(obj: dict) -> bool:
    return obj["apiVersion"] in CORE_API_VERSIONS


def kubernetes_versions() -> list[str]:
    import kubernetes_validate

    return ["1.31.0", kubernetes_validate.latest_version()]


def validate_core(objs: list[tuple[str, dict]]) -> list[str]:
    import kubernetes_validate

    errors = []
    for name, obj in objs:
        if not is_core(obj):
            continue
        for version in kubernetes_versions():
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                errors.append(f"{name} @ {version}: {err}")
    return errors


def crd_schema_file(schema_dir: Path, obj: dict) -> Path:
    group, _, version = obj["apiVersion"].rpartition("/")
    return schema_dir / f"{group}_{obj['kind'].lower()}_{version}_strict.json"


def validate_custom(objs: list[tuple[str, dict]], schema_dir: Path = CRD_SCHEMAS) -> list[str]:
    import jsonschema

    errors = []
    for name, obj in objs:
        if is_core(obj):
            continue
        schema_file = crd_schema_file(schema_dir, obj)
        if schema_file.is_file():
            schema = json.loads(schema_file.read_text())
        elif (obj["apiVersion"], obj["kind"]) in KIT_SCHEMAS:
            schema = KIT_SCHEMAS[(obj["apiVersion"], obj["kind"])]
        else:
            errors.append(f"{name}: no upstream schema for {obj['apiVersion']} {obj['kind']} ({schema_file.name})")
            continue
        validator = jsonschema.Draft7Validator(schema)
        errors += [f"{name}: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(obj)]
    return errors


def checkov_skips() -> dict[str, str]:
    return yaml.safe_load(SKIPS_FILE.read_text())


def run_checkov(manifest_dir: Path) -> tuple[list[str], int]:
    """(failed checks, number passed)."""
    if not CHECKOV.exists():
        raise FileNotFoundError(f"checkov not found at {CHECKOV}: run `make install` (checkov gets a venv of its own)")
    proc = subprocess.run(
        [str(CHECKOV), "-d", str(manifest_dir), "--framework", "kubernetes", "--quiet", "--compact", "-o", "json",
         "--skip-check", ",".join(checkov_skips())],
        check=False, capture_output=True, text=True, timeout=900, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [f"{f['check_id']} {f['check_name']}: {f['file_path']} {f['resource']}"
              for r in reports for f in r["results"]["failed_checks"]]
    return failed, sum(r["summary"]["passed"] for r in reports)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    if len(args) != 1:
        print("usage: python -m components.offline.scan PLAN_DIR", file=sys.stderr)
        return 2
    mdir = Path(args[0]) / "manifests"
    objs = load_manifests(mdir)
    problems = validate_core(objs)
    if CRD_SCHEMAS.is_dir():
        problems += validate_custom(objs)
    else:
        print(f"note: {CRD_SCHEMAS} not found: custom resources not schema-checked", file=sys.stderr)
    failed, passed = run_checkov(mdir)
    problems += failed
    for p in problems:
        print(p)
    print(f"{len(objs)} manifests: {len(problems)} problem(s); checkov passed {passed} checks")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
