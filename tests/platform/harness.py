"""Run the program (what __main__.py runs) in this process under the kit's mocks, recording also each
resource's provider reference (the offline plan's records leave it out), and hand back the records
with helpers to find resources. One run takes ~3 s; tests share runs through module fixtures."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.config import (
    LoadedConfig,
    load_from_file,
    load_from_pulumi,
    validate_raw,
)
from components.offline.engine import REPO_ROOT, pulumi_config
from components.offline.mocks import RecordingMonitor, SlmkitMocks
from components.offline.render import clean, write_plan
from components.stack import build_stack

STACKS = REPO_ROOT / "stacks"


class ProviderRecordingMonitor(RecordingMonitor):
    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            with self._lock:
                self.records[-1]["provider"] = request.provider
                self.records[-1]["dependencies"] = list(request.dependencies)
        return response


@dataclass
class Run:
    loaded: LoadedConfig
    records: list[dict[str, Any]]
    outputs: dict[str, tuple[Any, bool]]  # what __main__ exports: name -> (value, is_secret)

    def of_type(self, typ: str) -> list[dict]:
        return [r for r in self.records if r["type"] == typ]

    def one(self, typ: str, name: str | None = None) -> dict:
        found = [r for r in self.of_type(typ) if name is None or r["name"] == name]
        assert len(found) == 1, f"expected one {typ} {name or ''}, found {[r['name'] for r in found]}"
        return found[0]

    def inputs(self, typ: str, name: str | None = None) -> dict:
        """Inputs with secrets unwrapped (tests look at values) and whole floats as ints."""
        return clean(unwrap(self.one(typ, name)["inputs"]))

    def manifest(self, kind: str, name: str) -> dict:
        for r in self.records:
            if r["type"].startswith("kubernetes:") and r["type"].endswith(f":{kind}") and \
                    (r["inputs"].get("metadata") or {}).get("name") == name:
                return clean(unwrap(r["inputs"]))
        raise AssertionError(f"no {kind} {name} declared")


def unwrap(value: Any) -> Any:
    if rpc.is_rpc_secret(value):
        return unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


def stack_raw(stack: str) -> dict[str, Any]:
    """The `slmkit:` keys of a stack file (secure values as placeholders), to modify in tests."""
    _, raw = load_from_file(str(STACKS / f"Pulumi.{stack}.yaml"), f"stacks/Pulumi.{stack}.yaml")
    return copy.deepcopy(raw)


def run(raw: dict[str, Any], stack: str = "test", out: Path | None = None) -> Run:
    secrets = {k for k, v in raw.items() if isinstance(v, str) and v.startswith("<secret ")}
    plain = {k: v for k, v in raw.items() if k not in secrets}
    loaded = validate_raw(plain, f"stacks/Pulumi.{stack}.yaml", secrets)
    config, secret_keys = pulumi_config(raw, secrets)
    pulumi.runtime.set_all_config(config, secret_keys)
    mocks = SlmkitMocks()
    monitor = ProviderRecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project="slmkit", stack=stack, preview=True, monitor=monitor)
    cwd = os.getcwd()
    os.chdir(REPO_ROOT)
    built = {}
    try:
        # What __main__.py does, keeping the context to read the exports back.
        _sync_await(run_pulumi_func(lambda: built.update(ctx=build_stack(load_from_pulumi()))))
    finally:
        os.chdir(cwd)
    if out is not None:
        write_plan(out, loaded, monitor.records)
    return Run(loaded, monitor.records, {k: _resolve(v) for k, v in built["ctx"].outputs.items()})


def _resolve(value: Any) -> tuple[Any, bool]:
    if isinstance(value, pulumi.Output):
        return _sync_await(value.future()), bool(_sync_await(value.is_secret()))
    return value, False
