"""Metric definitions on hand-made records: exact percentiles, the measured window, validity and verdicts."""

import xml.etree.ElementTree as ET

import pytest

from loadtests.metrics import check_validity, compute_metrics, distribution, evaluate_rules, tokens_in_window, verdict
from loadtests.profile import Profile, Rule
from loadtests.report import junit
from loadtests.streaming import stream_allows

T0 = 1_000_000.0


def rec(sent_offset, status="ok", ttft=200.0, e2el=1460.0, tokens=64, source="usage", error=None):
    return {"id": str(sent_offset), "sent_at": T0 + sent_offset, "scheduled_at": None, "queue_delay_ms": None,
            "status": status, "error": error, "ttft_ms": ttft if status == "ok" else None,
            "e2el_ms": e2el if status == "ok" else None,
            "tpot_ms": (e2el - ttft) / (tokens - 1) if status == "ok" else None,
            "itl_ms": [20.0] * (tokens - 1) if status == "ok" else [], "output_tokens": tokens if status == "ok" else None,
            "output_tokens_source": source if status == "ok" else None, "prompt_tokens": 10}


RUN = {"measure_from": T0 + 10, "load_stopped_at": T0 + 20, "lag_ms": [1.0] * 99 + [30.0]}


def test_distribution_is_exact_linear_interpolation():
    d = distribution([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert d["p50"] == pytest.approx(5.5) and d["p90"] == pytest.approx(9.1) and d["mean"] == 5.5 and d["count"] == 10
    assert distribution([])["p95"] is None


def test_tokens_are_counted_only_inside_the_window():
    r = rec(0, ttft=0, e2el=10_000, tokens=101)  # 101 tokens spread over 10 s
    assert tokens_in_window(r, T0 + 5, T0 + 10) == pytest.approx(50.5)
    assert tokens_in_window(r, T0 + 20, T0 + 30) == 0


def test_metrics_exclude_warmup_and_count_errors():
    records = [rec(5, ttft=999)] + [rec(10 + i) for i in range(8)] + [rec(12, status="failed", error="HTTP 500: boom"),
                                                                      rec(13, status="incomplete", error="stopped")]
    rules = [Rule.parse("ttft_ms.p50<=210"), Rule.parse("error_rate<=0.05")]
    m = compute_metrics(records, RUN, rules)
    assert m["requests"] == {"ok": 8, "failed": 1, "incomplete": 1}
    assert m["ttft_ms"]["max"] == 200.0  # the warm-up request (999 ms) is excluded
    assert m["error_rate"] == pytest.approx(1 / 9)
    assert m["errors"]["HTTP 500: boom"] == 1
    results = evaluate_rules(m, rules)
    assert [r["pass"] for r in results] == [True, False]
    tokens = m["output_tokens"]
    assert (tokens["total"], tokens["source"], tokens["estimated_requests"], tokens["usage_mismatch_requests"]) == (512, "usage", 0, 0)


@pytest.mark.parametrize(("tokens", "chunks", "output_bytes", "agrees"), [
    (64, 64, 190, True),     # one token per chunk
    (64, 16, 190, True),     # a server packing 4 tokens per chunk
    (66, 64, 64, True),      # two special tokens (EOS, a think marker) that decode to nothing: the slack
    (64, 10, 25, False),     # claims 64 tokens, sent 10 chunks of 25 bytes: no tokenizer does that
    (1, 64, 190, False),     # claims 1 token for 64 chunks carrying text
    (60, 64, 190, True),     # within the slack below (2 tokens + 5%)
    (58, 64, 190, False),
])
def test_usage_is_believed_only_within_tokenization_slack(tokens, chunks, output_bytes, agrees):
    assert stream_allows(tokens, chunks, output_bytes) is agrees


def test_stream_figures_count_when_usage_lies_and_wrong_models_and_short_answers_are_invalid():
    liar = {**rec(11, tokens=10), "usage_completion_tokens": 64, "usage_agrees": False, "content_chunks": 10,
            "output_bytes": 25, "output_tokens_source": "stream"}
    short = {**rec(12, tokens=3), "ignore_eos": True, "max_tokens": 16, "output_length_ok": False, "finish_reason": "stop"}
    wrong = {**rec(13), "model": "m", "response_model": "other", "model_mismatch": True}
    m = compute_metrics([liar, short, wrong] + [rec(14 + i * 0.1) for i in range(10)], RUN, [])
    assert m["output_tokens"]["usage_mismatch_example"] == {"id": liar["id"], "usage_completion_tokens": 64,
                                                            "content_chunks": 10, "output_bytes": 25}
    assert m["output_tokens"]["source"] == "stream"
    checks = {c["check"]: c for c in check_validity(m, Profile(), offered_rate=None)}
    assert {name for name, c in checks.items() if not c["pass"]} == {"usage_matches_stream", "model_matches", "output_length_matches"}
    assert "usage 64, stream 10 output chunks, 25 bytes" in checks["usage_matches_stream"]["why"]
    assert "'other'" in checks["model_matches"]["why"] and "got 3 of 16" in checks["output_length_matches"]["why"]
    no_eos = Profile.model_validate({"workload": {"ignore_eos": False}})
    assert "output_length_matches" not in {c["check"] for c in check_validity(m, no_eos, offered_rate=None)}


def test_missing_usage_and_lag_make_a_run_invalid():
    records = [rec(10 + i, source="estimated") for i in range(20)]
    m = compute_metrics(records, {**RUN, "lag_ms": [50.0] * 10}, [])
    checks = {c["check"]: c for c in check_validity(m, Profile(), offered_rate=None)}
    assert not checks["requests_without_usage"]["pass"] and not checks["loop_lag_ms.p99"]["pass"]
    assert checks["completed_requests"]["pass"]
    assert m["output_tokens"]["source"] == "estimated"
    assert verdict([{"pass": True}], list(checks.values())) == "invalid"


def test_rate_shortfall_is_invalid():
    m = compute_metrics([rec(10 + i * 0.5) for i in range(20)], RUN, [])  # 2 req/s sent
    checks = {c["check"]: c for c in check_validity(m, Profile(), offered_rate=10)}
    assert checks["achieved_rate_ratio"]["observed"] == pytest.approx(0.2)
    assert not checks["achieved_rate_ratio"]["pass"]


def test_junit_has_one_case_per_rule_with_failures():
    summary = {"rules": [{"rule": "a<=1", "pass": True, "observed": 0.5, "op": "<=", "threshold": 1},
                         {"rule": "b<=1", "pass": False, "observed": 2.0, "op": "<=", "threshold": 1}],
               "validity": []}
    root = junit(summary).getroot()
    slo = root.find("testsuite[@name='loadtest.slo']")
    assert slo.get("tests") == "2" and slo.get("failures") == "1"
    assert "observed 2" in slo.findall("testcase")[1].find("failure").get("message")
    extra = ET.Element("testcase", name="smoke case")
    assert junit(summary, [extra]).getroot().find("testsuite[@name='loadtest.smoke']/testcase").get("name") == "smoke case"


def test_the_progress_line_shows_a_dash_not_nan_during_warm_up():
    from loadtests.collector import Collector

    c = Collector()
    c.started_at, c.warmup_s = 1000.0, 10.0
    c.records = [{"sent_at": 1001.0, "status": "ok", "ttft_ms": 50.0, "tpot_ms": 5.0, "output_tokens": 10}]
    warm = c.progress_line(1005.0, 40)
    assert "nan" not in warm and "warm-up" in warm and "TTFT p50       - ms" in warm and "TPOT p50      - ms" in warm
    c.records.append({"sent_at": 1011.0, "status": "ok", "ttft_ms": 80.0, "tpot_ms": 6.0, "output_tokens": 20})
    measuring = c.progress_line(1015.0, 40)
    assert "measuring" in measuring and "TTFT p50    80.0 ms" in measuring and "TPOT p50   6.00 ms" in measuring
