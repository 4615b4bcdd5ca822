"""Locust users for OpenAI-compatible LLM servers, measured per request from our own clock.

Use as is:  locust -f loadtests/locustfile.py --host http://127.0.0.1:8000 --class-picker   (web UI)
            locust -f loadtests/locustfile.py --host URL --headless -u 8 -t 60s     (headless)
The gate (`python -m loadtests run`) drives the same file and evaluates the exact per-request records.

Two user classes: `ClosedLoopUser` (one stream at a time per user: concurrency) and `OpenLoopUser`
(a dispatcher issuing constant or Poisson arrivals at --rate-per-user, capped by --max-in-flight,
recording queue delay so coordinated omission shows). Name one, or pass --class-picker to choose in
the UI; with neither, ClosedLoopUser runs (Locust would otherwise mix both). The UI binds 127.0.0.1.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import sys
import time
from pathlib import Path

import gevent
import gevent.pool
from locust import FastHttpUser, constant, events, task
from locust.runners import MasterRunner, WorkerRunner

if __package__ in (None, ""):  # loaded by path (`locust -f loadtests/locustfile.py`): make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from loadtests import locust_stats, webui  # noqa: E402
from loadtests.collector import Collector, LagProbe  # noqa: E402
from loadtests.prompts import dataset_prompts, request_body, synthetic_prompts  # noqa: E402
from loadtests.streaming import new_record, stream_request  # noqa: E402

logger = logging.getLogger("slmkit")
COLLECTOR = Collector()
_prompt_source = None
_discovered_model: str | None = None
_request_ids = itertools.count()


@events.init_command_line_parser.add_listener
def add_options(parser):
    g = parser  # Locust's web-UI flags (include_in_web_ui, is_secret) only work on the parser itself
    g.add_argument("--endpoint", choices=["chat", "completions"], default="chat", include_in_web_ui=True, help="/v1/chat/completions or /v1/completions")
    g.add_argument("--model", default="", include_in_web_ui=True, help="model id (default: first from /v1/models)")
    g.add_argument("--api-key", default="", is_secret=True, include_in_web_ui=True, help="bearer token (prefer env OPENAI_API_KEY: args show in ps)")
    g.add_argument("--prompt-tokens", type=int, default=128, include_in_web_ui=True, help="synthetic prompt length in words")
    g.add_argument("--max-tokens", type=int, default=128, include_in_web_ui=True, help="output length per request")
    g.add_argument("--ignore-eos", choices=["true", "false"], default="true", include_in_web_ui=True, help="ask the server to ignore EOS (fixed output length)")
    g.add_argument("--dataset", default="", include_in_web_ui=False, help="JSONL prompts instead of synthetic ones")
    g.add_argument("--seed", type=int, default=42, include_in_web_ui=False)
    g.add_argument("--rate-per-user", type=float, default=1.0, include_in_web_ui=True, help="OpenLoopUser: requests/s each dispatcher offers")
    g.add_argument("--arrival", choices=["poisson", "constant"], default="poisson", include_in_web_ui=True, help="OpenLoopUser: arrival process")
    g.add_argument("--max-in-flight", type=int, default=256, include_in_web_ui=True, help="OpenLoopUser: cap on requests in flight per dispatcher")
    g.add_argument("--insecure-tls", action="store_true", default=False, include_in_web_ui=False,
                   help="skip TLS verification (default: verify with the system CAs or SSL_CERT_FILE)")
    g.add_argument("--request-timeout", type=float, default=120.0, include_in_web_ui=False, help="wall-clock deadline per request (connect to [DONE]), seconds; past it the request fails")
    g.add_argument("--warmup-s", type=float, default=0.0, include_in_web_ui=False, help="seconds excluded from the exact results")
    g.add_argument("--measure-s", type=float, default=0.0, include_in_web_ui=False, help="headless: stop after warm-up + this, then write records")
    g.add_argument("--records-out", default="", include_in_web_ui=False, help="folder for requests.raw.jsonl and run.json (master)")
    g.add_argument("--progress-s", type=float, default=5.0, include_in_web_ui=False, help="progress line period (0: silent)")
    # The web UI starts load at a click: on your machine it listens on loopback only (the in-cluster
    # master passes --web-host 0.0.0.0 behind its login and a port-forward).
    parser.set_defaults(web_host="127.0.0.1")


def options(environment):
    return environment.parsed_options


def api_key(environment) -> str:
    return options(environment).api_key or os.environ.get("OPENAI_API_KEY", "")


@events.init.add_listener
def on_init(environment, **_):
    logging.getLogger("httpx").setLevel(logging.WARNING)
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        COLLECTOR.attach_worker(runner)
    elif runner is not None:
        COLLECTOR.attach_master(runner)
    if environment.web_ui:
        webui.install(environment, COLLECTOR)
    opts = options(environment)
    if opts is not None and not getattr(opts, "class_picker", False) and set(environment.user_classes) == {ClosedLoopUser, OpenLoopUser}:
        # No class named and no picker: Locust would mix both 50/50, a load nobody asked for.
        logger.info("running ClosedLoopUser (name OpenLoopUser, or pass --class-picker, to choose)")
        environment.user_classes = [ClosedLoopUser]
    if opts is not None:
        OpenLoopUser.concurrency = max(10, opts.max_in_flight)
        for cls in (ClosedLoopUser, OpenLoopUser):
            cls.network_timeout = cls.connection_timeout = opts.request_timeout
            cls.insecure = opts.insecure_tls  # Locust's FastHttpUser skips verification by default; we verify


@events.test_start.add_listener
def on_test_start(environment, **_):
    global _prompt_source
    opts = options(environment)
    _prompt_source = (dataset_prompts(Path(opts.dataset), opts.seed) if opts.dataset
                      else synthetic_prompts(opts.prompt_tokens, opts.seed + _process_index(environment)))
    COLLECTOR.start(environment, warmup_s=opts.warmup_s)
    if not isinstance(environment.runner, MasterRunner):
        COLLECTOR.probe = LagProbe()
        COLLECTOR.probe.start(warmup_s=opts.warmup_s)
    if not isinstance(environment.runner, WorkerRunner):
        if opts.progress_s > 0:
            gevent.spawn(COLLECTOR.report_progress, opts.progress_s, opts.warmup_s + opts.measure_s)
        if opts.measure_s > 0:
            gevent.spawn(_stop_after, environment, opts.warmup_s + opts.measure_s)
        if opts.warmup_s > 0:
            gevent.spawn_later(opts.warmup_s, environment.stats.reset_all)  # the UI's numbers start with the measurement


@events.test_stop.add_listener
def on_test_stop(environment, **_):
    COLLECTOR.stop(environment)
    opts = options(environment)
    if not isinstance(environment.runner, WorkerRunner) and opts.records_out:
        COLLECTOR.write(Path(opts.records_out), environment)
    if not isinstance(environment.runner, WorkerRunner):  # after the records are safe on disk
        try:
            locust_stats.restate(environment.stats, COLLECTOR.records, COLLECTOR.started_at + COLLECTOR.warmup_s,
                                 COLLECTOR.load_stopped_at or time.time())
        except Exception:  # the display must never cost the gate its verdict (summary.json is the result)
            logger.exception("could not restate Locust's statistics from the exact records")


def _stop_after(environment, seconds: float) -> None:
    """Stop all users ourselves (Locust's -t quits the master before workers' last records arrive)."""
    gevent.sleep(seconds)
    COLLECTOR.mark_load_stopped()
    environment.runner.stop()  # waits for workers (stop_timeout), so test_stop sees every record
    environment.runner.quit()


def _process_index(environment) -> int:
    return max(0, getattr(environment.runner, "worker_index", 0))


class LLMUser(FastHttpUser):
    abstract = True
    wait_time = constant(0)
    default_headers = {"Accept-Encoding": "identity"}  # compressed SSE would be buffered

    def on_start(self):
        opts = options(self.environment)
        self.endpoint = opts.endpoint
        self.path = "/v1/chat/completions" if self.endpoint == "chat" else "/v1/completions"
        self.headers = {"Authorization": f"Bearer {api_key(self.environment)}"} if api_key(self.environment) else {}
        self.model = opts.model or self.discover_model()
        self.worker = f"{os.uname().nodename}:{os.getpid()}"

    def discover_model(self) -> str:
        global _discovered_model
        if _discovered_model is None:
            resp = self.client.get("/v1/models", headers=self.headers, name="/v1/models (discovery)")
            try:
                _discovered_model = resp.json()["data"][0]["id"]
            except (ValueError, KeyError, IndexError, TypeError):
                logger.error("cannot discover the model from /v1/models (HTTP %s); pass --model", resp.status_code)
                raise
        return _discovered_model

    def one_request(self, scheduled_at: float | None = None) -> None:
        opts = options(self.environment)
        record = new_record(f"{self.worker}-{next(_request_ids)}", self.worker, self.model, self.endpoint, scheduled_at)
        body = request_body(next(_prompt_source), self.endpoint, self.model, opts.max_tokens, opts.ignore_eos == "true")
        try:
            stream_request(self.client, self.path, body, self.headers, record, locust_stats.label(self.endpoint),
                           deadline_s=opts.request_timeout)
        finally:
            COLLECTOR.add(record)


class ClosedLoopUser(LLMUser):
    """One stream at a time: N users = N concurrent streams."""

    @task
    def stream(self):
        self.one_request()


class OpenLoopUser(LLMUser):
    """A dispatcher: arrivals at --rate-per-user (constant or Poisson), in flight up to --max-in-flight."""

    def on_start(self):
        super().on_start()
        opts = options(self.environment)
        self.pool = gevent.pool.Pool(opts.max_in_flight)
        self.rng = random.Random(opts.seed * 1000 + _process_index(self.environment))
        self.next_arrival = time.perf_counter()

    @task
    def dispatch(self):
        # Schedule arrivals for half a second per task run, so a graceful stop can end between slices.
        opts = options(self.environment)
        slice_end = time.perf_counter() + 0.5
        while self.next_arrival < slice_end:
            delay = self.next_arrival - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            scheduled_at = time.time() - max(0.0, time.perf_counter() - self.next_arrival)
            self.pool.wait_available()  # at the cap, the wait shows up as queue delay
            self.pool.spawn(self.one_request, scheduled_at)
            gap = self.rng.expovariate(opts.rate_per_user) if opts.arrival == "poisson" else 1.0 / opts.rate_per_user
            self.next_arrival += gap

    def on_stop(self):
        # Let streams in flight finish (within the stop timeout), then cut the rest (recorded as incomplete).
        self.pool.join(timeout=max(0.0, (self.environment.stop_timeout or 0) - 1))
        self.pool.kill()

