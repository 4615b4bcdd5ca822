"""Exact per-request records and load-generator health, merged across Locust processes.

Workers ship raw records (not Locust's rounded buckets) to the master once a second and at stop;
the master (or the single local process) keeps them all and writes them for the gate.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

import gevent

# Importing locust monkey-patches the whole process (gevent.monkey.patch_all), so only Locust's own
# processes import it: the records and the progress line stay usable from plain Python.
if TYPE_CHECKING:
    from locust.runners import WorkerRunner

logger = logging.getLogger("slmkit")
MESSAGE = "slmkit_records"
PROBE_PERIOD_S = 0.010


class LagProbe:
    """Event-loop lag: how late a 10 ms gevent.sleep wakes up. A busy load generator delays every
    timestamp it takes, inflating TTFT while Locust's CPU warning stays silent."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float]] = []  # (wall time, lag ms)
        self._greenlet = None

    def start(self, warmup_s: float) -> None:
        self._greenlet = gevent.spawn(self._run, time.time() + warmup_s)

    def _run(self, record_from: float) -> None:
        while True:
            t0 = time.perf_counter()
            gevent.sleep(PROBE_PERIOD_S)
            lag_ms = max(0.0, (time.perf_counter() - t0 - PROBE_PERIOD_S) * 1000)
            now = time.time()
            if now >= record_from:
                self.samples.append((now, round(lag_ms, 3)))

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None

    def take(self) -> list[tuple[float, float]]:
        taken, self.samples = self.samples, []
        return taken


class Collector:
    def __init__(self) -> None:
        self.records: list[dict] = []
        self.lag: list[tuple[float, float]] = []
        self.probe: LagProbe | None = None
        self.runner = None
        self.is_worker = False
        self.started_at = 0.0
        self.warmup_s = 0.0
        self.load_stopped_at: float | None = None
        self._flusher = None

    def attach_worker(self, runner: WorkerRunner) -> None:
        self.runner, self.is_worker = runner, True

    def attach_master(self, runner) -> None:
        from locust.runners import MasterRunner

        self.runner = runner
        if isinstance(runner, MasterRunner):
            runner.register_message(MESSAGE, self.on_message)

    def start(self, environment, warmup_s: float) -> None:
        self.records, self.lag = [], []
        self.started_at, self.warmup_s, self.load_stopped_at = time.time(), warmup_s, None
        if self.is_worker:
            self._flusher = gevent.spawn(self._flush_every, 1.0)

    def add(self, record: dict) -> None:
        self.records.append(record)

    def on_message(self, environment, msg, **_) -> None:
        self.records.extend(msg.data["records"])
        self.lag.extend(tuple(s) for s in msg.data["lag"])

    def _flush_every(self, period_s: float) -> None:
        while True:
            gevent.sleep(period_s)
            self.flush()

    def flush(self) -> None:
        batch, self.records = self.records, []
        lag = self.probe.take() if self.probe else []
        if batch or lag:
            self.runner.send_message(MESSAGE, {"records": batch, "lag": lag})

    def stop(self, environment) -> None:
        if self.probe:
            self.probe.stop()
        if self.is_worker:
            if self._flusher is not None:
                self._flusher.kill()
            self.flush()  # arrives before the worker's "client_stopped", so the master has it at test_stop
        elif self.probe:
            self.lag.extend(self.probe.take())
        if self.load_stopped_at is None:
            self.load_stopped_at = time.time()

    def mark_load_stopped(self) -> None:
        self.load_stopped_at = time.time()

    def write(self, out_dir: Path, environment) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        records = sorted(self.records, key=lambda r: r["sent_at"] or 0)
        with open(out_dir / "requests.raw.jsonl", "w") as f:
            for r in records:
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
        run = {
            "started_at": self.started_at,
            "warmup_s": self.warmup_s,
            "measure_from": self.started_at + self.warmup_s,
            "load_stopped_at": self.load_stopped_at or time.time(),
            "processes": max(1, getattr(self.runner, "worker_count", 0) or 1),
            "lag_ms": [s for _, s in sorted(self.lag)],
        }
        (out_dir / "run.json").write_text(json.dumps(run))
        logger.info("wrote %d request records to %s", len(records), out_dir)

    def report_progress(self, period_s: float, total_s: float) -> None:
        """A progress line every period: the exact records so far, and the generator's lag."""
        while True:
            gevent.sleep(period_s)
            print(self.progress_line(time.time(), total_s), flush=True)

    def progress_line(self, now: float, total_s: float) -> str:
        """One progress line: the exact records so far, and the generator's lag."""
        elapsed = now - self.started_at
        phase = "warm-up" if elapsed < self.warmup_s else "measuring"
        measured = [r for r in self.records if (r["sent_at"] or 0) >= self.started_at + self.warmup_s]
        ok = [r for r in measured if r["status"] == "ok"]
        failed = sum(r["status"] == "failed" for r in measured)
        # Nothing measured yet (warm-up): a dash, not "nan ms".
        ttft = f"{statistics.median(r['ttft_ms'] for r in ok):7.1f}" if ok else f"{'-':>7}"
        tpots = [r["tpot_ms"] for r in ok if r["tpot_ms"] is not None]
        tpot = f"{statistics.median(tpots):6.2f}" if tpots else f"{'-':>6}"
        window = max(1e-9, elapsed - self.warmup_s)
        tokens_s = sum(r["output_tokens"] or 0 for r in ok) / window if phase == "measuring" else 0.0
        lag = self.lag[-500:] or (self.probe.samples[-500:] if self.probe else [])
        lag_max = max((s for _, s in lag), default=0.0)
        total = f"/{total_s:.0f}s" if total_s else "s"
        return (f"[{elapsed:5.0f}{total}] {phase:<9} ok {len(ok):>5}  failed {failed:>4}  TTFT p50 {ttft} ms  "
                f"TPOT p50 {tpot} ms  out {tokens_s:8.1f} tok/s  lag max {lag_max:5.1f} ms")
