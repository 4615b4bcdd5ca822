"""Locust's own numbers (Statistics tab, charts, --html report) made equal to summary.json's.

Locust counts every request event: warm-up requests, and any extra rows fired as requests. The kit
fires none (TTFT and TPOT live in the LLM tab, from the exact records), resets Locust's statistics
when the warm-up ends, and at the stop restates them from the exact records of the measured window
(the requests summary.json counts), so the table and the HTML report show the gate's figures.
"""

from __future__ import annotations

from loadtests.metrics import phase


def label(endpoint: str) -> str:
    """The Locust row of a streamed request: its time is our E2EL, its size our output tokens."""
    return f"{endpoint} stream (E2EL)"


def restate(stats, records: list[dict], measure_from: float, load_stopped_at: float) -> tuple[int, int]:
    """Replace Locust's statistics with the measured records: ok and failed requests (incomplete
    ones, cut by the end of the run, are neither, as in summary.json). Returns (requests, failures)."""
    stats.reset_all()
    requests = failures = 0
    for r in records:
        if phase(r, measure_from, load_stopped_at) != "measured" or r["status"] not in ("ok", "failed"):
            continue
        name = label(r["endpoint"])
        stats.log_request("POST", name, round(r["e2el_ms"] or r["headers_ms"] or 0), r["output_tokens"] or 0)
        requests += 1
        if r["status"] == "failed":
            stats.log_error("POST", name, r["error"] or "failed")
            failures += 1
    # Rates over the measured window, not over the instant of this restatement.
    for entry in (stats.total, *stats.entries.values()):
        entry.start_time, entry.last_request_timestamp = measure_from, load_stopped_at
    return requests, failures
