"""Every Helm release the kit declares, read against the upstream chart data in ../shared/upstream-charts
(Chart.yaml, values.yaml, values.schema.json of each chart and subchart, published-versions.yaml):

- every values key the kit sets is one the pinned chart (or a subchart) has in its default values or its
  schema: a key the chart does not read is dropped by Helm without a word;
- every pinned version is published (where the data lists the chart's published versions), and the
  data checked against is the pinned version's own, or the difference is noted here with a reason.

The releases are those of every shipped stack's offline plan (`helm/*.yaml`), plus prod with the chat UI
on, plus value variants the shipped stacks do not render (dcgm-exporter from monitoring, OIDC sign-in).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from components import chat_ui
from components.catalog.charts import CHARTS
from components.config import load_from_file, validate_raw
from components.monitoring import helm as monitoring_helm
from tests.fixtures.plans import REPO, render_plan
from tests.fixtures.shared import shared_path

# Reviewed exceptions, each with why: keys below a map the chart passes through whole (its template
# renders it with toYaml, or the app reads it as a file of its own) although its default holds other
# keys, and keys a template reads that values.yaml does not list. Read in the charts' templates at the
# pinned tags.
ALLOWED: dict[tuple[str, tuple[str, ...]], str] = {
    ("kube-prometheus-stack", ("grafana", "grafana.ini")):
        "grafana 12.11.1: the whole grafana.ini, section by section (values.yaml documents it as the config "
        "file); its default lists only some sections",
    ("kube-prometheus-stack", ("grafana", "fullnameOverride")):
        "grafana 12.11.1 templates/_helpers.tpl `grafana.fullname` reads .Values.fullnameOverride; "
        "values.yaml does not list it",
    ("kube-prometheus-stack", ("prometheusOperator", "containerSecurityContext")):
        "a Kubernetes SecurityContext: templates/prometheus-operator/deployment.yaml renders it with toYaml",
    ("ai-gateway-helm", ("controller", "securityContext")):
        "a Kubernetes SecurityContext: templates/deployment.yaml (v1.1.0) renders it with toYaml",
    ("gateway-helm", ("config", "envoyGateway")):
        "the EnvoyGateway configuration object, rendered whole into its ConfigMap (values.yaml: 'Visit "
        "gateway.envoyproxy.io/docs/api/extension_types/#envoygateway to view all options')",
}

# A pinned version whose own chart data is not in ../shared: the folder used instead, and why.
NOTED_VERSIONS: dict[str, tuple[str, str]] = {}

# A pinned chart ../shared holds no data of at all: its values keys as read by hand in upstream at the
# pinned tag (the whole values.yaml where it is this small), so the kit's keys are still checked.
# Add the chart's data to ../shared/upstream-charts and drop the entry.
REVIEWED_WITHOUT_DATA: dict[str, tuple[str, tuple[str, ...], str]] = {
    "gateway-crds-helm": ("v1.9.0", ("crds.gatewayAPI.enabled", "crds.gatewayAPI.channel", "crds.envoyGateway.enabled"),
                          "github.com/envoyproxy/gateway v1.9.0 charts/gateway-crds-helm/values.yaml (all of it)"),
    # Logs (issue 21): keys read in the pinned charts' values.yaml (verified key by key against the files
    # at these tags, tests/monitoring/test_logs.py repeats it once ../shared holds them); subtrees the
    # chart passes through as free-form config end at their parent.
    "loki": ("18.11.0", ('backend.replicas', 'chunksCache.enabled', 'defaults.automountServiceAccountToken', 'deploymentMode',
                         'fullnameOverride', 'gateway.enabled', 'loki.analytics', 'loki.auth_enabled',
                         'loki.commonConfig.replication_factor', 'loki.compactor', 'loki.limits_config', 'loki.rulerConfig',
                         'loki.schemaConfig', 'loki.storage', 'lokiCanary.enabled', 'minio.enabled', 'read.replicas',
                         'resultsCache.enabled', 'ruler.directories', 'serviceAccount.annotations',
                         'serviceAccount.automountServiceAccountToken', 'serviceAccount.create', 'sidecar.rules.enabled',
                         'singleBinary.persistence.enabled', 'singleBinary.persistence.size', 'singleBinary.persistence.storageClass',
                         'singleBinary.podLabels', 'singleBinary.replicas', 'singleBinary.resources', 'singleBinary.sidecar',
                         'test.enabled', 'write.replicas'),
             "github.com/grafana-community/helm-charts tag loki-18.11.0 charts/loki/values.yaml"),
    "alloy": ("1.11.1", ('alloy.configMap.content', 'alloy.configMap.create', 'alloy.enableReporting',
                         'alloy.mounts.dockercontainers', 'alloy.mounts.extra', 'alloy.mounts.varlog', 'alloy.resources',
                         'alloy.securityContext', 'alloy.storagePath', 'configReloader.resources', 'controller.replicas',
                         'controller.type', 'controller.volumes.extra', 'crds.create', 'fullnameOverride',
                         'global.podSecurityContext', 'rbac.create', 'rbac.namespaces', 'rbac.rules'),
              "github.com/grafana/alloy tag helm-chart/1.11.1 operations/helm/charts/alloy/values.yaml"),
}


@dataclass(frozen=True)
class UpstreamChart:
    folder: Path
    name: str
    version: str
    defaults: dict[str, Any]  # values.yaml with each subchart's values.yaml under its name/alias
    schemas: dict[tuple[str, ...], dict]  # values path of a (sub)chart -> its values.schema.json

    @property
    def label(self) -> str:
        return f"upstream-charts/{self.folder.name}" if self.folder.is_dir() else str(self.folder)


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base.get(k), v) if k in base else v
        return out
    return copy.deepcopy(over)


def load_chart(folder: Path) -> UpstreamChart:
    meta = _yaml(folder / "Chart.yaml")
    defaults = _yaml(folder / "values.yaml") if (folder / "values.yaml").is_file() else {}
    schemas: dict[tuple[str, ...], dict] = {}
    if (folder / "values.schema.json").is_file():
        schemas[()] = yaml.safe_load((folder / "values.schema.json").read_text(encoding="utf-8"))
    aliases = {d["name"]: d.get("alias") or d["name"] for d in meta.get("dependencies") or []}
    for sub in sorted((folder / "charts").glob("*/Chart.yaml")) if (folder / "charts").is_dir() else []:
        sub_chart = load_chart(sub.parent)
        key = aliases.get(sub_chart.name, sub_chart.name)
        defaults[key] = _merge(sub_chart.defaults, defaults.get(key) or {})
        schemas.update({(key, *path): s for path, s in sub_chart.schemas.items()})
    return UpstreamChart(folder, meta["name"], str(meta["version"]), defaults, schemas)


@pytest.fixture(scope="module")
def upstream() -> dict[str, list[UpstreamChart]]:
    root = shared_path("upstream-charts")
    out: dict[str, list[UpstreamChart]] = {}
    for chart_yaml in sorted(root.glob("*/Chart.yaml")):
        chart = load_chart(chart_yaml.parent)
        out.setdefault(chart.name, []).append(chart)
    return out


@pytest.fixture(scope="module")
def published() -> dict[str, list[str]]:
    return {name: [str(v) for v in versions]
            for name, versions in _yaml(shared_path("upstream-charts", "published-versions.yaml")).items()}


def chart_name(ref: str) -> str:
    """`oci://registry/org/name` or a plain chart name (the repo is separate)."""
    return ref.rsplit("/", 1)[-1]


def folder_for(upstream: dict[str, list[UpstreamChart]], name: str, version: str) -> UpstreamChart:
    """The data of exactly this version, or the folder NOTED_VERSIONS names for it."""
    charts = upstream.get(name)
    if not charts and name in REVIEWED_WITHOUT_DATA and REVIEWED_WITHOUT_DATA[name][0] == version:
        _, keys, source = REVIEWED_WITHOUT_DATA[name]
        defaults: dict[str, Any] = {}
        for key in keys:
            *parents, leaf = key.split(".")
            node = defaults
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = None
        return UpstreamChart(Path(f"(no data; reviewed: {source})"), name, version, defaults, {})
    assert charts, f"{name}: no chart data in ../shared/upstream-charts (add Chart.yaml and values.yaml of {version})"
    for chart in charts:
        if chart.version == version:
            return chart
    noted = NOTED_VERSIONS.get(name)
    assert noted and noted[0] == version, (
        f"{name} {version}: ../shared/upstream-charts holds {[c.folder.name for c in charts]}, not this version; "
        "pin the version whose data is there, or note the substitute in NOTED_VERSIONS with a reason")
    return next(c for c in charts if c.folder.name == noted[1])


# --- the key walk --------------------------------------------------------------------------------------

def _resolve(schema: dict | None, root: dict) -> dict | None:
    """Follow local $refs and gather allOf branches (cert-manager's schema is all $defs)."""
    if not isinstance(schema, dict):
        return None
    while "$ref" in schema and schema["$ref"].startswith("#/"):
        node: Any = root
        for part in schema["$ref"][2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        schema = {**{k: v for k, v in schema.items() if k != "$ref"}, **node}
    for branch in schema.get("allOf", []):
        b = _resolve(branch, root) or {}
        schema = {**schema, "properties": {**schema.get("properties", {}), **b.get("properties", {})}}
    return schema


def _schema_child(schema: dict | None, key: str, root: dict) -> tuple[bool, dict | None]:
    """(the schema documents this key, its sub-schema). An object schema without properties is a
    free-form map; one with properties documents only those, unless additionalProperties says more."""
    schema = _resolve(schema, root)
    if schema is None:
        return False, None
    props = schema.get("properties", {})
    if key in props:
        return True, _resolve(props[key], root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        return True, _resolve(extra, root)
    return (extra is True or (extra is None and not props)), None


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(k.replace(".", "\\.") for k in path)


def unknown_keys(chart: UpstreamChart, values: Any, defaults: Any, path: tuple[str, ...] = (),
                 schema: dict | None = None, root: dict | None = None,
                 allowed: dict | None = None) -> list[tuple[str, ...]]:
    """Paths of values the chart neither defaults nor describes (ALLOWED aside)."""
    allowed = ALLOWED if allowed is None else allowed
    if path in chart.schemas:
        schema, root = chart.schemas[path], chart.schemas[path]
    if not isinstance(values, dict):
        return []
    problems: list[tuple[str, ...]] = []
    for key, value in values.items():
        here = (*path, key)
        if any(here[:len(p)] == p for (c, p) in allowed if c == chart.name):
            continue
        in_defaults = isinstance(defaults, dict) and key in defaults
        in_schema, sub_schema = _schema_child(schema, key, root or {}) if schema is not None else (False, None)
        if not (in_defaults or in_schema):
            problems.append(here)
            continue
        default = defaults.get(key) if in_defaults else None
        if isinstance(value, dict):
            if isinstance(default, dict) and default:
                problems += unknown_keys(chart, value, default, here, sub_schema, root, allowed)
            elif default not in ({}, None) and not in_schema:
                problems.append(here)  # a map where the chart has a scalar or a list
            elif sub_schema is not None:  # an empty default map, but the schema says what goes in it
                problems += unknown_keys(chart, value, {}, here, sub_schema, root, allowed)
            # else: an empty or null default map is the chart's pass-through (resources, affinity, ...)
    return problems


def schema_errors(chart: UpstreamChart, values: dict) -> list[str]:
    """What Helm itself checks at install: the merged values against each (sub)chart's schema."""
    merged = _merge(chart.defaults, values)
    out = []
    for path, schema in chart.schemas.items():
        node: Any = merged
        for part in path:
            node = (node or {}).get(part, {})
        for err in jsonschema.Draft7Validator(schema).iter_errors(node):
            out.append(f"{'.'.join(path) or '(root)'}: {'.'.join(map(str, err.absolute_path))}: {err.message}")
    return out


# --- the releases the kit declares ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def prod_with_chat_ui(tmp_path_factory) -> Path:
    stack = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text(encoding="utf-8"))
    stack["config"]["slmkit:chatUi"] = {"enabled": True, "hostname": "chat.example.com"}
    work = tmp_path_factory.mktemp("prod-chat")
    (work / "Pulumi.prod-chat.yaml").write_text(yaml.safe_dump(stack), encoding="utf-8")
    proc = render_plan(["--config-file", str(work / "Pulumi.prod-chat.yaml")], work / "plan")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return work / "plan"


@pytest.fixture(scope="module")
def releases(rendered_plans, prod_with_chat_ui) -> list[tuple[str, dict]]:
    """(where it comes from, {chart, version, values}) for every release the kit can declare."""
    out = []
    for stack, plan in [*rendered_plans.items(), ("prod with chatUi", prod_with_chat_ui)]:
        for release in sorted((plan / "helm").glob("*.yaml")):
            doc = _yaml(release)
            out.append((f"{stack}: helm/{release.name}", {"chart": chart_name(doc["chart"]),
                                                           "version": str(doc["version"]),
                                                           "values": doc.get("values") or {}}))
    # Variants no shipped stack renders, from the same pure builders the components call.
    existing = validate_raw({"environment": "dev", "cluster": {"kind": "existing"},
                             "nodePools": [{"name": "gpu", "gpuType": "T4", "nodeLabels": {"pool": "gpu"}}],
                             "monitoring": {"gpuMetrics": {"source": "dcgm-exporter"}},
                             "servers": [{"name": "qwen", "engine": "ollama", "model": "qwen2.5:0.5b"}]},
                            "stacks/Pulumi.test.yaml", set()).stack
    out.append(("monitoring.helm.dcgm_values (existing cluster)",
                {"chart": CHARTS["dcgm-exporter"].name, "version": CHARTS["dcgm-exporter"].version,
                 "values": monitoring_helm.dcgm_values(existing)}))
    chat_raw = load_from_file(str(REPO / "tests" / "chat_ui" / "stacks" / "Pulumi.chat.yaml"))[1]
    chat_raw["chatUi"] = {**chat_raw["chatUi"], "oidc": {
        "providerUrl": "https://login.example.org/.well-known/openid-configuration", "clientId": "slmkit-chat"}}
    out.append(("chat_ui.release_values (OIDC sign-in)",
                {"chart": CHARTS["open-webui"].name, "version": CHARTS["open-webui"].version,
                 "values": chat_ui.release_values(validate_raw(chat_raw, "test", {"chatUiOidcClientSecret"}).stack)}))
    return out


def test_every_value_the_kit_sets_is_one_the_pinned_chart_reads(releases, upstream):
    problems, used = [], set()
    for where, release in releases:
        chart = folder_for(upstream, release["chart"], release["version"])
        used.add(f"{release['chart']} {release['version']} -> {chart.label}")  # says which data it used
        for key in unknown_keys(chart, release["values"], chart.defaults):
            problems.append(f"{where}: {_dotted(key)} is not a value of {chart.name} {chart.version} "
                            f"({chart.label}: values.yaml, subcharts, values.schema.json)")
        problems += [f"{where}: {e}" for e in schema_errors(chart, release["values"])]
    assert not problems, "\n".join(problems) + "\nchecked against:\n" + "\n".join(sorted(used))


def test_every_catalog_chart_is_checked_by_some_release(releases):
    """A chart added to the catalog but in no plan would escape the key check above."""
    seen = {r["chart"] for _, r in releases}
    assert {c.name for c in CHARTS.values()} <= seen, f"not in any plan: {sorted({c.name for c in CHARTS.values()} - seen)}"


def test_allow_list_has_no_stale_entries(releases, upstream):
    """Each reviewed exception must still be needed: the kit sets a key below it that the defaults lack."""
    raw = set()
    for _, release in releases:
        chart = folder_for(upstream, release["chart"], release["version"])
        raw |= {(chart.name, p) for p in unknown_keys(chart, release["values"], chart.defaults, allowed={})}
    for (name, parts), why in ALLOWED.items():
        assert why, f"{name} {_dotted(parts)}: say why the chart reads it"
        assert any(c == name and p[:len(parts)] == parts for c, p in raw), \
            f"ALLOWED entry {name} {_dotted(parts)} is no longer needed: remove it"


def test_the_key_walk_catches_a_value_the_chart_does_not_have(upstream):
    """The check above must be able to fail: the gpu-operator `daemonsets.affinity` the kit once set,
    and a misspelt key under a strict schema (cert-manager)."""
    gpu = folder_for(upstream, "gpu-operator", CHARTS["gpu-operator"].version)
    assert unknown_keys(gpu, {"daemonsets": {"affinity": {"nodeAffinity": {}}, "tolerations": []}},
                        gpu.defaults) == [("daemonsets", "affinity")]
    assert unknown_keys(gpu, {"node-feature-discovery": {"worker": {"affinity": {"nodeAffinity": {}}}}},
                        gpu.defaults) == []  # the subchart's value
    cm = folder_for(upstream, "cert-manager", CHARTS["cert-manager"].version)
    assert schema_errors(cm, {"crds": {"enabeld": True}})  # additionalProperties: false
    webui = folder_for(upstream, "open-webui", CHARTS["open-webui"].version)
    assert unknown_keys(webui, {"route": {"enabled": False}}, webui.defaults) == [("route",)]  # not in 10.2.1


def test_every_pinned_chart_version_is_published_or_its_own_data_is_there(upstream, published):
    problems = []
    for key, chart in CHARTS.items():
        if chart.name in published:
            if chart.version not in published[chart.name]:
                problems.append(f"catalog {key}: {chart.name} {chart.version} is not in the chart repository's index "
                                f"(published-versions.yaml; newest: {', '.join(published[chart.name][:5])})")
            continue
        versions = [c.version for c in upstream.get(chart.name, [])]
        noted = NOTED_VERSIONS.get(chart.name) or REVIEWED_WITHOUT_DATA.get(chart.name)
        if chart.version not in versions and not (noted and noted[0] == chart.version):
            problems.append(f"catalog {key}: {chart.name} {chart.version}: ../shared/upstream-charts holds {versions}; "
                            "pin that version or note why in NOTED_VERSIONS / REVIEWED_WITHOUT_DATA")
    assert not problems, "\n".join(problems)


def test_plans_pin_exactly_the_catalog_versions(releases):
    by_name = {c.name: c.version for c in CHARTS.values()}
    wrong = [f"{where}: {r['chart']} {r['version']} (catalog: {by_name.get(r['chart'])})"
             for where, r in releases if by_name.get(r["chart"]) != r["version"]]
    assert not wrong, wrong

