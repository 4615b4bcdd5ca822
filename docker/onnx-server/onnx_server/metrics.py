"""Prometheus metrics, named after vLLM's (`vllm:` -> `onnxserver:`) where the meaning is the same."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# vLLM's bucket boundaries, so dashboards built for vLLM read the same way.
TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
                20.0, 40.0, 80.0, 160.0, 640.0, 2560.0)
ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
               40.0, 80.0)
E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
               480.0, 960.0, 1920.0, 7680.0)
# Finer low end for ITL: CPU models produce tokens in milliseconds.
ITL_BUCKETS = (0.0005, 0.001, 0.0025, 0.005) + ITL_BUCKETS


class ServerMetrics:
    """All metrics of one server, in their own registry (tests may build several apps in one process)."""

    def __init__(self, model_name: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.model_name = model_name
        label = ["model_name"]
        r = self.registry
        self.running = Gauge("onnxserver:num_requests_running", "Requests currently generating.", label, registry=r)
        self.waiting = Gauge("onnxserver:num_requests_waiting", "Requests waiting for a generation slot.", label,
                             registry=r)
        self.ttft = Histogram("onnxserver:time_to_first_token_seconds",
                              "Time from request arrival to the first generated token.", label,
                              buckets=TTFT_BUCKETS, registry=r)
        self.itl = Histogram("onnxserver:inter_token_latency_seconds", "Time between consecutive generated tokens.",
                             label, buckets=ITL_BUCKETS, registry=r)
        self.e2e = Histogram("onnxserver:e2e_request_latency_seconds",
                             "Time from request arrival to the end of generation.", label, buckets=E2E_BUCKETS,
                             registry=r)
        self.prompt_tokens = Counter("onnxserver:prompt_tokens", "Prompt tokens processed.", label, registry=r)
        self.generation_tokens = Counter("onnxserver:generation_tokens", "Tokens generated.", label, registry=r)
        self.requests = Counter("onnxserver:requests", "Finished HTTP requests to the /v1 API, by status code.",
                                ["model_name", "status"], registry=r)
        for metric in (self.running, self.waiting, self.ttft, self.itl, self.e2e, self.prompt_tokens,
                       self.generation_tokens):
            metric.labels(model_name)  # expose every series at 0 from the start

    def observe_itl(self, seconds: float) -> None:
        self.itl.labels(self.model_name).observe(seconds)

    def observe_ttft(self, seconds: float) -> None:
        self.ttft.labels(self.model_name).observe(seconds)

    def observe_e2e(self, seconds: float) -> None:
        self.e2e.labels(self.model_name).observe(seconds)

    def count_request(self, status: int) -> None:
        self.requests.labels(self.model_name, str(status)).inc()
