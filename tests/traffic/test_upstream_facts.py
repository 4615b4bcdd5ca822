"""Every port name, Service name and label the kit references on upstream workloads is a catalog
fact (components/catalog/upstream.py) with its source and version; the builders read it from there,
and where the pinned chart's values.yaml holds it, it matches the chart data in ../shared."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from components.catalog import upstream
from components.catalog.charts import CHARTS
from components.monitoring import scrape
from components.traffic import names, network, operators
from tests.fixtures.shared import shared_path

from .configs import loaded

ITEM = re.compile(r"^(?P<key>[^\[]+)(?:\[(?P<pick>[^\]]+)\])?$")


def chart_folder(key: str) -> tuple[Path, str]:
    """The ../shared/upstream-charts folder of a catalog chart, and a note when it holds another version."""
    chart = CHARTS[key]
    base = shared_path("upstream-charts")
    exact = base / f"{chart.name}-{chart.version}"
    if exact.is_dir():
        return exact, ""
    others = sorted(base.glob(f"{chart.name}-*"))
    assert others, f"../shared/upstream-charts has no data for {chart.name}"
    return others[-1], f" (pinned {chart.version}; checked against {others[-1].name}, the nearest in ../shared)"


def lookup(values: dict, path: str):
    node = values
    for part in path.split("."):
        m = ITEM.match(part)
        node = node[m["key"]]
        if m["pick"]:
            node = next(item for item in node if item.get("name") == m["pick"])
    return node


def test_every_fact_names_its_source_and_version():
    facts = upstream.all_facts()
    assert len(facts) >= 20
    for name, fact in facts.items():
        assert fact.source and fact.version, name
        assert (fact.chart is None) == (fact.values_path is None), name
        assert fact.chart is None or fact.chart in CHARTS, name


def test_chart_backed_facts_were_read_at_the_pinned_chart_version():
    """A fact read in a chart the catalog no longer pins is a fact about another release."""
    for name, fact in upstream.all_facts().items():
        if fact.chart is not None:
            assert fact.version == CHARTS[fact.chart].version, f"{name}: read at {fact.version}, pinned {CHARTS[fact.chart].version}"


def test_chart_backed_facts_match_the_pinned_charts_values():
    checked, notes = [], set()
    for name, fact in upstream.all_facts().items():
        if fact.chart is None:
            continue
        folder, note = chart_folder(fact.chart)
        values = yaml.safe_load((folder / fact.values_file).read_text())
        assert lookup(values, fact.values_path) == fact.value, f"{name}: {fact.values_path} in {folder.name}{note}"
        checked.append(name)
        if note:
            notes.add(f"{fact.chart}{note}")
    assert len(checked) >= 10, checked
    # kube-prometheus-stack 89.2.3 and dcgm-exporter 4.8.3 are checked against the nearest data there.
    print("\n".join(sorted(notes)))


def test_a_wrong_fact_would_be_caught():
    values = {"controller": {"service": {"ports": [{"name": "grpc", "port": 1063}]}}}
    assert lookup(values, "controller.service.ports[grpc].port") == 1063
    assert lookup(values, "controller.service.ports[grpc].port") != 1064


def test_builders_read_the_facts():
    cfg = loaded().stack
    proxy = names.proxy_pod_labels(cfg.namespaces.gateway)
    assert upstream.ENVOY_PROXY_LABELS.value.items() <= proxy.items()
    assert set(upstream.ENVOY_OWNING_GATEWAY_LABELS.value) <= set(proxy)
    assert names.proxy_container_port(443) == 10443 and names.proxy_container_port(8443) == 8443
    eg = operators.envoy_gateway_values(cfg)["config"]["envoyGateway"]
    assert eg["extensionManager"]["service"]["fqdn"]["port"] == upstream.AIGW_EXTENSION_PORT.value
    assert eg["gateway"]["controllerName"] == upstream.ENVOY_GATEWAY_CONTROLLER_NAME.value
    assert operators.ai_gateway_values(cfg)["controller"]["fullnameOverride"] == upstream.AIGW_CONTROLLER.value
    assert set(network.WEBHOOK_PORTS) == {9443, 10250, 6443}
    assert network.PROMETHEUS_POD == upstream.PROMETHEUS_POD_LABELS.value
    assert network.CERT_MANAGER_CONTROLLER == upstream.CERT_MANAGER_CONTROLLER_LABELS.value
    (endpoint,) = scrape.gateway_pod_monitor(cfg, "30s")["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == upstream.AIGW_EXTPROC_ADMIN_PORT_NAME.value
    assert scrape.DCGM_PORT_NAMES == {"gpu-operator": "gpu-metrics", "dcgm-exporter": "metrics"}
