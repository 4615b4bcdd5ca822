"""Run the program (what __main__.py runs) in this process under the offline plan's engine, and hand
back the records (with each resource's provider reference) and the stack's exports, with helpers to
find resources. One run takes ~3 s; tests share runs through module fixtures."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.runtime import rpc

from components.config import LoadedConfig, load_from_file, validate_raw
from components.offline.engine import REPO_ROOT, run_plan
from components.offline.mocks import SlmkitMocks
from components.offline.render import clean, write_plan

STACKS = REPO_ROOT / "stacks"


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


def run(raw: dict[str, Any], stack: str = "test", out: Path | None = None, mocks: SlmkitMocks | None = None,
        preview: bool = True) -> Run:
    """The real program (__main__.py) under the offline plan's engine, in this process."""
    secrets = {k for k, v in raw.items() if isinstance(v, str) and v.startswith("<secret ")}
    plain = {k: v for k, v in raw.items() if k not in secrets}
    loaded = validate_raw(plain, f"stacks/Pulumi.{stack}.yaml", secrets)
    result = run_plan(loaded, raw, stack, mocks, preview)
    if out is not None:
        write_plan(out, loaded, result.records)
    outputs = {k: (unwrap(v), rpc.is_rpc_secret(v)) for k, v in result.outputs.items()}
    return Run(loaded, result.records, outputs)
