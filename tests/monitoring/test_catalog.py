"""The metrics catalog against the real exporters it describes, and the pinned charts."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from components.catalog import metrics as catalog
from components.catalog.charts import CHARTS
from components.monitoring import helm

PROMETHEUS_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def _onnx_metrics_module():
    """Loaded by path: `onnx_server` on sys.path can also resolve to the tests/onnx_server package."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "docker" / "onnx-server" / "onnx_server" / "metrics.py"
    spec = importlib.util.spec_from_file_location("slmkit_onnx_server_metrics", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def onnx_server_exposition() -> dict[str, set[str]]:
    """Sample name -> label names, from the ONNX server's own metrics class after one request of each outcome."""
    m = _onnx_metrics_module().ServerMetrics("tiny")
    m.observe_ttft(0.01)
    m.observe_itl(0.002)
    m.observe_e2e(0.2)
    m.count_request(200)
    m.count_request(503)
    out: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(generate_latest(m.registry).decode()):
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


def test_onnx_catalog_matches_the_servers_registry():
    exposed = onnx_server_exposition()
    for fam in catalog.ONNX.families():
        for series in fam.series():
            assert series in exposed, f"{series} is in the catalog but the ONNX server does not emit it"
            assert set(fam.labels) <= exposed[series] | {"le"}, series
    assert {"status", "model_name"} <= exposed[catalog.ONNX.requests.name]


def test_onnx_error_status_pattern_matches_5xx_codes_only():
    pattern = re.compile(f"^(?:{catalog.ONNX.server_error_status})$")  # Prometheus anchors regex matchers
    assert pattern.match("503") and pattern.match("500")
    assert not pattern.match("429") and not pattern.match("200")


def test_every_name_is_a_valid_prometheus_metric_name():
    for fam in catalog.all_families():
        assert PROMETHEUS_NAME.match(fam.name), fam.name
        assert fam.type in {"gauge", "counter", "histogram"}
        if fam.type == "counter":
            assert fam.name.endswith("_total"), f"{fam.name}: counters are exposed with _total"


def test_current_vllm_names_not_the_deprecated_ones():
    names = {f.name for f in catalog.VLLM.families()}
    assert "vllm:kv_cache_usage_perc" in names and "vllm:gpu_cache_usage_perc" not in names
    assert "vllm:inter_token_latency_seconds" in names and "vllm:time_per_output_token_seconds" not in names


def test_monitoring_charts_are_pinned_with_source_and_date():
    for chart in (helm.stack_chart(), helm.dcgm_chart()):
        assert chart in CHARTS.values()
        assert re.match(r"^v?[0-9]+\.[0-9]+\.[0-9]+$", chart.version), chart
        assert chart.repo.startswith("https://") and chart.source and re.match(r"^\d{4}-\d{2}-\d{2}$", chart.checked)
