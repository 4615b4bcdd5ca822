"""Metric names a PromQL query reads, found by parsing it (promql-parser), not by regex."""

from __future__ import annotations

import promql_parser

# Grafana's template variables are not PromQL: substitute plausible values before parsing.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h", "$server": ".*",
                     "${datasource}": "prometheus"}


def metric_names(expr: str) -> set[str]:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    names: set[str] = set()
    _walk(promql_parser.parse(expr), names)
    return names


def _walk(node, names: set[str]) -> None:
    if isinstance(node, promql_parser.VectorSelector):
        name = node.name or next((m.value for m in node.matchers.matchers if m.name == "__name__"), None)
        assert name, f"selector without a metric name: {node}"
        names.add(name)
        return
    for attr in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(node, attr, None)
        if child is not None and not isinstance(child, (str, int, float)):
            _walk(child, names)
    for arg in getattr(node, "args", None) or []:
        _walk(arg, names)
