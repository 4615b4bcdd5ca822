"""From exact per-request records to metrics, validity checks, SLO results and a verdict.

Pure functions (no Locust import) so the gate, the sweep and the tests share one definition.
Percentiles are numpy's linear interpolation over every record, never Locust's rounded buckets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from loadtests.profile import DISTRIBUTION_METRICS, Profile, Rule

PERCENTILES = {"p50": 50, "p90": 90, "p95": 95, "p99": 99}


def distribution(values: Iterable[float]) -> dict:
    arr = np.asarray([v for v in values if v is not None], dtype=float)
    if arr.size == 0:
        return {"count": 0, "mean": None, **{k: None for k in PERCENTILES}, "max": None}
    out = {"count": int(arr.size), "mean": float(arr.mean())}
    out.update({k: float(v) for k, v in zip(PERCENTILES, np.percentile(arr, list(PERCENTILES.values())), strict=True)})
    out["max"] = float(arr.max())
    return out


def phase(record: dict, measure_from: float, load_stopped_at: float) -> str:
    sent = record["sent_at"] or record["scheduled_at"] or 0.0
    if sent < measure_from:
        return "warmup"
    return "measured" if sent < load_stopped_at else "after"


def tokens_in_window(record: dict, start: float, end: float) -> float:
    """Output tokens a request emitted inside [start, end), spread evenly from its first to its last token."""
    first = record["sent_at"] + record["ttft_ms"] / 1000
    last = record["sent_at"] + record["e2el_ms"] / 1000
    n = record["output_tokens"] or 0
    if last <= first:
        return float(n) if start <= first < end else 0.0
    overlap = max(0.0, min(end, last) - max(start, first))
    return n * overlap / (last - first)


def compute_metrics(records: list[dict], run: dict, rules: list[Rule]) -> dict:
    start, end = run["measure_from"], run["load_stopped_at"]
    window_s = max(1e-9, end - start)
    measured = [r for r in records if phase(r, start, end) == "measured"]
    ok = [r for r in measured if r["status"] == "ok"]
    failed = [r for r in measured if r["status"] == "failed"]
    incomplete = [r for r in measured if r["status"] == "incomplete"]
    all_ok = [r for r in records if r["status"] == "ok"]
    estimated = sum(r["output_tokens_source"] == "estimated" for r in ok)
    latency_rules = [rule for rule in rules if rule.per_request()]
    good = [r for r in ok if all(rule.holds(r[rule.metric]) for rule in latency_rules)]
    metrics = {key: distribution(r[key] for r in ok) for key in ("ttft_ms", "tpot_ms", "e2el_ms")}
    metrics["itl_ms"] = distribution(g for r in ok for g in r["itl_ms"])
    metrics["queue_delay_ms"] = distribution(r["queue_delay_ms"] for r in measured if r["queue_delay_ms"] is not None)
    metrics["output_tokens_per_s"] = sum(tokens_in_window(r, start, end) for r in all_ok) / window_s
    metrics["requests_per_s"] = sum(start <= r["sent_at"] + r["e2el_ms"] / 1000 < end for r in all_ok) / window_s
    metrics["sent_requests_per_s"] = len(measured) / window_s
    finished = len(ok) + len(failed)
    metrics["error_rate"] = len(failed) / finished if finished else 0.0
    metrics["goodput_requests_per_s"] = len(good) / window_s
    metrics["requests"] = {"ok": len(ok), "failed": len(failed), "incomplete": len(incomplete)}
    disagreeing = [r for r in ok if r.get("usage_agrees") is False]
    metrics["output_tokens"] = {
        "total": int(sum(r["output_tokens"] or 0 for r in ok)),
        "source": "estimated" if estimated else "stream" if disagreeing else "usage",
        "estimated_requests": estimated,
        "per_request": distribution(r["output_tokens"] for r in ok),
        # What the server claimed against what arrived (usage_matches_stream in validity).
        "usage_total": int(sum(r.get("usage_completion_tokens") or 0 for r in ok)),
        "stream_chunks": int(sum(r.get("content_chunks") or 0 for r in ok)),
        "stream_bytes": int(sum(r.get("output_bytes") or 0 for r in ok)),
        "usage_mismatch_requests": len(disagreeing),
        "usage_mismatch_example": _example(disagreeing, "usage_completion_tokens", "content_chunks", "output_bytes"),
    }
    wrong_model = [r for r in measured if r.get("model_mismatch")]
    metrics["model_mismatch"] = {"requests": len(wrong_model), "example": _example(wrong_model, "model", "response_model")}
    short = [r for r in ok if r.get("output_length_ok") is False]
    metrics["output_length_mismatch"] = {"requests": len(short),
                                         "example": _example(short, "max_tokens", "output_tokens", "finish_reason")}
    metrics["prompt_tokens"] = distribution(r["prompt_tokens"] for r in ok)
    metrics["loop_lag_ms"] = distribution(run.get("lag_ms", []))
    metrics["window_s"] = window_s
    metrics["errors"] = dict(Counter(r["error"] for r in failed + incomplete).most_common(5))
    return metrics


def _example(records: list[dict], *keys: str) -> dict | None:
    return {"id": records[0]["id"], **{k: records[0].get(k) for k in keys}} if records else None


def observed(metrics: dict, rule: Rule) -> float | None:
    value = metrics.get(rule.metric)
    if rule.metric in DISTRIBUTION_METRICS:
        return value[rule.stat] if value else None
    return value


def evaluate_rules(metrics: dict, rules: list[Rule]) -> list[dict]:
    results = []
    for rule in rules:
        value = observed(metrics, rule)
        results.append({"rule": rule.name, "source": rule.source, "metric": rule.metric, "stat": rule.stat, "op": rule.op,
                        "threshold": rule.threshold, "observed": value, "pass": rule.holds(value)})
    return results


def check_validity(metrics: dict, profile: Profile, offered_rate: float | None) -> list[dict]:
    v = profile.validity
    req = metrics["requests"]
    checks = [
        check("completed_requests", req["ok"] + req["failed"], ">=", v.min_requests,
              "too few requests finished in the measured window: run longer or with more load"),
        check("loop_lag_ms.p99", metrics["loop_lag_ms"]["p99"] or 0.0, "<=", v.max_loop_lag_ms,
              "the load generator itself saturated (its timestamps are late): add --processes or workers"),
    ]
    if v.require_usage:
        checks.append(check("requests_without_usage", metrics["output_tokens"]["estimated_requests"], "<=", 0,
                            "the server sent no usage: token counts are estimates (set validity.require_usage: false to accept)"))
    # Always checked, whatever the profile says: the server's own figures must match what arrived.
    tokens = metrics["output_tokens"]
    example = tokens["usage_mismatch_example"]
    checks.append(check("usage_matches_stream", tokens["usage_mismatch_requests"], "<=", 0,
                        "usage.completion_tokens disagrees with the stream beyond tokenization slack (e.g. request "
                        f"{example['id']}: usage {example['usage_completion_tokens']}, stream {example['content_chunks']} "
                        f"output chunks, {example['output_bytes']} bytes): the token figures are the stream's"
                        if example else ""))
    wrong = metrics["model_mismatch"]["example"]
    checks.append(check("model_matches", metrics["model_mismatch"]["requests"], "<=", 0,
                        f"answers named model {wrong['response_model']!r}, the run asked for {wrong['model']!r}: "
                        "the gateway or server routed to another model" if wrong else ""))
    if profile.workload.ignore_eos:
        short = metrics["output_length_mismatch"]["example"]
        checks.append(check("output_length_matches", metrics["output_length_mismatch"]["requests"], "<=", 0,
                            f"ignore_eos asked for exactly max_tokens: request {short['id']} got {short['output_tokens']} "
                            f"of {short['max_tokens']} (finish_reason {short['finish_reason']!r}); for a server that does "
                            "not honour ignore_eos set workload.ignore_eos: false" if short else ""))
    total = req["ok"] + req["failed"] + req["incomplete"]
    checks.append(check("incomplete_ratio", req["incomplete"] / total if total else 0.0, "<=", v.max_incomplete_ratio,
                        "many streams were cut by the end of the run: raise request timeout or duration"))
    if offered_rate:
        checks.append(check("achieved_rate_ratio", metrics["sent_requests_per_s"] / offered_rate, ">=", v.min_rate_ratio,
                            "the generator could not send at the offered rate (max_in_flight cap or saturation)"))
    return checks


def check(name: str, value: float, op: str, limit: float, why: str) -> dict:
    passed = value >= limit if op == ">=" else value <= limit
    return {"check": name, "observed": value, "op": op, "limit": limit, "pass": passed, "why": None if passed else why}


def verdict(rules: list[dict], validity: list[dict]) -> str:
    if not all(c["pass"] for c in validity):
        return "invalid"
    return "pass" if all(r["pass"] for r in rules) else "fail"
