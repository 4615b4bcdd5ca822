"""Run the program (the real __main__.py) under the mock engine and collect what it declares."""

from __future__ import annotations

import asyncio
import json
import os
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.config import NAMESPACE, LoadedConfig

from .mocks import RecordingMonitor, SlmkitMocks

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class PlanResult:
    loaded: LoadedConfig
    records: list[dict[str, Any]]  # type, name, urn, parent, custom, inputs (secrets still marked), provider
    outputs: dict[str, Any]  # the stack's exports (secrets still marked)


def pulumi_config(raw: dict[str, Any], secret_names: set[str]) -> tuple[dict[str, str], list[str]]:
    """The stack file's values as the Pulumi CLI would hand them over: strings, objects as JSON."""
    config = {f"{NAMESPACE}:{k}": v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
    return config, [f"{NAMESPACE}:{k}" for k in secret_names]


def run_plan(loaded: LoadedConfig, raw: dict[str, Any], stack: str, mocks: SlmkitMocks | None = None,
             preview: bool = True) -> PlanResult:
    """`mocks`: the providers' answers (default: the offline plan's; tests pass ones that play a cluster,
    with preview=False for what `pulumi up` sees once the resources exist)."""
    config, secret_keys = pulumi_config(raw, loaded.secrets_present)
    pulumi.runtime.set_all_config(config, secret_keys)
    # A fresh loop: tests run several programs in one process, and a finished run closes its loop.
    asyncio.set_event_loop(asyncio.new_event_loop())
    mocks = mocks or SlmkitMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="slmkit", stack=stack, preview=preview, monitor=monitor)
    cwd = os.getcwd()
    os.chdir(REPO_ROOT)  # the program resolves paths (load-test profiles, stack files) from the project
    try:
        _sync_await(run_pulumi_func(lambda: runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__")))
    finally:
        os.chdir(cwd)
    return PlanResult(loaded, monitor.records, stack_outputs())


def stack_outputs() -> dict[str, Any]:
    """The program's exports, resolved; secret ones marked as the engine marks secret inputs.
    (Under mocks the root stack never registers them over RPC: read them off the stack object.)"""
    from pulumi.runtime.settings import get_root_resource

    out = {}
    for name, value in (get_root_resource().outputs or {}).items():
        output = pulumi.Output.from_input(value)
        resolved = _sync_await(output.future())
        out[name] = rpc.wrap_rpc_secret(resolved) if _sync_await(output.is_secret()) else resolved
    return out
