"""Run the program (the real __main__.py) under the mock engine and collect what it declares."""

from __future__ import annotations

import json
import os
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.config import NAMESPACE, LoadedConfig

from .mocks import RecordingMonitor, SlmkitMocks

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class PlanResult:
    loaded: LoadedConfig
    records: list[dict[str, Any]]  # type, name, urn, parent, custom, inputs (secrets still wrapped)


def pulumi_config(raw: dict[str, Any], secret_names: set[str]) -> tuple[dict[str, str], list[str]]:
    """The stack file's values as the Pulumi CLI would hand them over: strings, objects as JSON."""
    config = {f"{NAMESPACE}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    return config, [f"{NAMESPACE}:{k}" for k in secret_names]


def run_plan(loaded: LoadedConfig, raw: dict[str, Any], stack: str) -> PlanResult:
    config, secret_keys = pulumi_config(raw, loaded.secrets_present)
    pulumi.runtime.set_all_config(config, secret_keys)
    mocks = SlmkitMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="slmkit", stack=stack, preview=True, monitor=monitor)
    cwd = os.getcwd()
    os.chdir(REPO_ROOT)  # the program resolves paths (load-test profiles, stack files) from the project
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__")))
    finally:
        os.chdir(cwd)
    return PlanResult(loaded, monitor.records)
