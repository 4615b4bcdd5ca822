"""Stack configs for the load-test tests: the repo's stack files, and variants of them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from components.config import StackConfig, load_from_file, validate_raw
from components.endpoints import server_endpoints
from components.offline import scan
from tests.fixtures.plans import REPO

HERE = Path(__file__).resolve().parent
GATEWAY_UI_STACK = HERE / "stacks" / "Pulumi.gateway-ui.yaml"
LOCAL_STACK = REPO / "stacks" / "Pulumi.local.yaml"


def raw_config(path: Path) -> dict[str, Any]:
    return load_from_file(str(path))[1]


def config(raw: dict[str, Any]) -> StackConfig:
    return validate_raw(copy.deepcopy(raw), "test", set()).stack


def changed(raw: dict[str, Any], *path_and_value: Any) -> dict[str, Any]:
    """A copy of raw with one value set at a path of keys and list indexes."""
    *path, value = path_and_value
    out = copy.deepcopy(raw)
    node = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def endpoint(cfg: StackConfig, name: str):
    return next(ep for ep in server_endpoints(cfg) if ep.name == name)


def loadtest_manifests(plan: Path, namespace: str = "slmkit-loadtest") -> dict[tuple[str, str], dict]:
    """(kind, name) -> object of a rendered plan's manifests in one namespace."""
    return {(o["kind"], o["metadata"]["name"]): o for _, o in scan.load_manifests(plan / "manifests")
            if o["metadata"].get("namespace") == namespace}
