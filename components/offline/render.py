"""Turn the recorded resources into files: manifests, resources.json, plan.txt."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import rpc

from components import capacity
from components.catalog import models as model_catalog
from components.config import LoadedConfig
from components.config.checks import gpu_of_pool
from components.platform.costs import plan_lines as aks_plan_lines

REDACTED = "<redacted>"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
HELM_CHART = "kubernetes:helm.sh/v4:Chart"  # rendered by Pulumi at deploy time, no Helm release
HELM_TYPES = (HELM_RELEASE, HELM_CHART)


def clean(value: Any) -> Any:
    """Secrets redacted, whole floats back to integers (the engine hands numbers over as floats),
    unknowns (values only known after deployment) shown as such."""
    if rpc.is_rpc_secret(value):
        return REDACTED
    if isinstance(value, dict):
        # Sorted keys: the same stack renders byte-identical files (reviewable diffs for GitOps).
        return {k: clean(value[k]) for k in sorted(value) if not k.startswith("__")}
    if isinstance(value, list):
        return [clean(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if value is rpc.UNKNOWN or type(value).__name__ == "Unknown":
        return "<known after deployment>"
    return value


def is_manifest(record: dict) -> bool:
    t = record["type"]
    return record["custom"] and t.startswith("kubernetes:") and t != HELM_RELEASE and not t.startswith("pulumi:providers")


def manifest(record: dict) -> dict:
    body = clean(record["inputs"])
    obj = {"apiVersion": body.pop("apiVersion"), "kind": body.pop("kind"), "metadata": body.pop("metadata", {})}
    obj.update(body)
    if obj["kind"] == "Secret":
        # Secret values are redacted whatever their source; keys stay visible for review. The
        # engine marks the whole map secret when one value is, so read the keys underneath.
        for field in ("data", "stringData"):
            if field in obj:
                raw = record["inputs"][field]
                keys = rpc.unwrap_rpc_secret(raw) if rpc.is_rpc_secret(raw) else raw
                obj[field] = {k: REDACTED for k in sorted(keys)}
    return obj


def manifest_filename(obj: dict) -> str:
    meta = obj.get("metadata", {})
    ns = meta.get("namespace", "_cluster")
    return f"{ns}__{obj['kind'].lower()}__{meta.get('name', 'unnamed')}.yaml"


def write_plan(out: Path, loaded: LoadedConfig, records: list[dict]) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    mdir = out / "manifests"
    mdir.mkdir(exist_ok=True)
    for old in mdir.glob("*.yaml"):
        old.unlink()
    objs = [manifest(r) for r in records if is_manifest(r)]
    for obj in objs:
        (mdir / manifest_filename(obj)).write_text(yaml.safe_dump(obj, sort_keys=False), encoding="utf-8")
    helm_dir = out / "helm"
    helm_dir.mkdir(exist_ok=True)
    for old in helm_dir.glob("*.yaml"):
        old.unlink()
    for r in records:
        if r["type"] in HELM_TYPES:
            release = clean(r["inputs"])
            (helm_dir / f"{r['name'].replace('/', '__')}.yaml").write_text(yaml.safe_dump(release, sort_keys=False), encoding="utf-8")
    # dependsOn: the URNs each resource waits for (explicit dependsOn and inputs from other
    # resources), so a reader sees the install order: tests/foundation/test_install_order.py.
    resources = [{"type": r["type"], "name": r["name"], "urn": r["urn"], "parent": r["parent"],
                  "custom": r["custom"], "provider": r.get("provider", ""),
                  "dependsOn": sorted(set(r.get("dependencies", []))), "inputs": clean(r["inputs"])}
                 for r in records]
    (out / "resources.json").write_text(json.dumps(resources, indent=2, sort_keys=False), encoding="utf-8")
    (out / "plan.txt").write_text(plan_text(loaded, records), encoding="utf-8")
    return objs


def plan_text(loaded: LoadedConfig, records: list[dict]) -> str:
    cfg = loaded.stack
    lines = [f"slmkit offline plan: {loaded.stack_file} (environment {cfg.environment}, cluster {cfg.cluster.kind})", ""]
    lines.append("Resources by type")
    for t, n in sorted(Counter(r["type"] for r in records).items()):
        lines.append(f"  {n:4d}  {t}")
    lines += ["", "Model servers"]
    for spec in cfg.servers:
        lines += [f"  {line}" for line in server_capacity_lines(loaded, spec)]
    lines += ["", *vertical_plan_lines(cfg)]
    aks_lines = aks_plan_lines(cfg)  # AKS: vCPU quota per VM family, monthly cost per pool
    if aks_lines:
        lines += ["", *aks_lines]
    if loaded.warnings:
        lines += ["", "Warnings"] + [f"  {w}" for w in loaded.warning_lines()]
    return "\n".join(lines) + "\n"


def vertical_plan_lines(cfg) -> list[str]:
    """Which Deployments have a Vertical Pod Autoscaler, and why the others do not."""
    from components.config.vertical import server_mode, vpa_enabled
    from components.endpoints import server_endpoints
    from components.traffic.vertical import vpa_summary

    if not vpa_enabled(cfg):
        return ["Vertical scaling", "  no VPA (verticalScaling.enabled is off; existing clusters: enable it once "
                "preflight shows the cluster runs a VPA)"]
    out = ["Vertical scaling (VPA; Off = recommendations only)", *[f"  {line}" for line in vpa_summary(cfg, server_endpoints(cfg))]]
    out += [f"  {s.name}: no VPA (GPU server: sized by the capacity plan)" for s in cfg.servers
            if server_mode(cfg, s) == "off" and s.gpus > 0]
    return out


def server_capacity_lines(loaded: LoadedConfig, spec) -> list[str]:
    cfg = loaded.stack
    card = model_catalog.lookup(spec.model, spec.engine)
    budget = capacity.startup_budget(spec, card)
    head = f"{spec.name}: {spec.engine} {spec.model} as '{spec.served_name}', replicas {spec.replicas.min}..{spec.replicas.max}"
    out = [head]
    pool = cfg.pool(spec.node_pool)
    gpu = gpu_of_pool(pool) if pool else None
    if spec.engine == "vllm" and gpu:
        fit = capacity.gpu_fit(spec, card, gpu[0])
        out.append(f"  GPU {gpu[0].name} x{spec.tp} ({capacity.weight_format(spec, card)}): weights {fit.weights_gib:.1f} GiB + KV cache "
                   f"{fit.kv_cache_gib:.1f} GiB ({capacity.context_length(spec, card)} tokens x {spec.max_num_seqs} seqs) + runtime "
                   f"{fit.reserve_gib:.1f} GiB of {fit.budget_gib:.1f} GiB per GPU; headroom {fit.headroom_gib:.1f} GiB "
                   f"(fits {fit.max_seqs_that_fit} full-length sequences)")
    elif spec.engine == "ollama":
        fit = capacity.ollama_fit(spec, card)
        out.append(f"  memory: weights {fit.weights_gib:.1f} GiB + KV cache {fit.kv_cache_gib:.1f} GiB + runtime {fit.reserve_gib:.2f} GiB "
                   f"= {fit.needed_gib:.1f} of {fit.limit_gib:.1f} GiB limit; headroom {fit.limit_gib - fit.needed_gib:.1f} GiB")
    elif spec.engine == "onnx":
        fit = capacity.onnx_fit(spec, card)
        out.append(f"  memory ({spec.onnx.precision}): weights {fit.weights_gib:.1f} GiB + KV cache {fit.kv_cache_gib:.1f} GiB "
                   f"= {fit.needed_gib:.1f} of {fit.limit_gib:.1f} GiB limit; headroom {fit.limit_gib - fit.needed_gib:.1f} GiB")
    out.append(f"  startup budget: {budget.total_s} s (download {budget.download_s} s + load {budget.load_s} s + warm-up "
               f"{budget.warmup_s} s, x{capacity.STARTUP_SAFETY}); pulumi waits up to {budget.deploy_timeout_s} s")
    return out
