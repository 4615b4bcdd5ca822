"""A stand-in for vLLM's /metrics on 127.0.0.1: the same metric names and labels (from the catalog),
values the test sets over HTTP. Run: python -m tests.monitoring.vllm_exporter --port N --model NAME

  GET  /metrics                         Prometheus text format
  POST /set?metric=NAME&value=V         set a gauge, or raise a counter to V
"""

from __future__ import annotations

import argparse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from components.catalog.metrics import VLLM


class VllmMetrics:
    def __init__(self, model: str):
        self.registry = CollectorRegistry()
        self.labels = {"model_name": model, "engine": "0"}
        names = list(self.labels)
        self.gauges = {f.name: Gauge(f.name, f.name, names, registry=self.registry)
                       for f in (VLLM.running, VLLM.waiting, VLLM.kv_cache_usage)}
        # prometheus_client adds `_total` to counters itself.
        self.counters = {f.name: Counter(f.name.removesuffix("_total"), f.name, names, registry=self.registry)
                         for f in (VLLM.prompt_tokens, VLLM.generation_tokens, VLLM.preemptions)}
        self.histograms = [Histogram(f.name, f.name, names, registry=self.registry) for f in (VLLM.ttft, VLLM.itl, VLLM.e2e)]
        for metric in [*self.gauges.values(), *self.counters.values(), *self.histograms]:
            metric.labels(**self.labels)

    def set(self, name: str, value: float) -> None:
        if name in self.gauges:
            self.gauges[name].labels(**self.labels).set(value)
        elif name in self.counters:
            child = self.counters[name].labels(**self.labels)
            child.inc(max(0.0, value - child._value.get()))  # counters only go up
        else:
            raise KeyError(name)


def serve(port: int, model: str) -> ThreadingHTTPServer:
    metrics = VllmMetrics(model)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if urlparse(self.path).path != "/metrics":
                self.send_error(404)
                return
            body = generate_latest(metrics.registry)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            try:
                metrics.set(query["metric"], float(query["value"]))
            except (KeyError, ValueError) as err:
                self.send_error(400, f"bad metric or value: {err}")
                return
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):  # keep test output quiet
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default="phi-4-mini")
    args = parser.parse_args()
    serve(args.port, args.model).serve_forever()


if __name__ == "__main__":
    main()
