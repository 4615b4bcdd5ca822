"""Run Debian's promtool (package `prometheus`) on rules the kit renders."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

MISSING = "promtool not found: install the Debian package `prometheus` (apt-get install -y prometheus)"


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        raise AssertionError(MISSING)
    return path


def write_rules(groups: list[dict], path: Path) -> Path:
    """A PrometheusRule's spec.groups is exactly Prometheus's rule-file format."""
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False), encoding="utf-8")
    return path


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), *args], check=False, capture_output=True, text=True, timeout=60, cwd=cwd)
