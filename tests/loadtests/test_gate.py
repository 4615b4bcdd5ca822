"""The gate measured against the reference server, whose delays are known (the self-check of issue 6)."""

import json
import xml.etree.ElementTree as ET

import httpx
import pytest

from .refserver import CI_PROFILE, free_port, reference_server, run_cli

TTFT_MS, ITL_MS, TOKENS = 200.0, 20.0, 64


@pytest.fixture(scope="module")
def server():
    with reference_server("--ttft-ms", str(TTFT_MS), "--itl-ms", str(ITL_MS), "--tokens", str(TOKENS)) as url:
        yield url


def gate(url, out, *extra, env=None, profile=CI_PROFILE):
    proc = run_cli("run", "--host", url, "--profile", profile, "--out", str(out), "--no-smoke", *extra, env=env)
    summary = json.loads((out / "summary.json").read_text())
    return proc, summary


def test_selfcheck_measures_known_delays_within_5_percent(server, tmp_path):
    # The strict built-in profile: a saturated generator would make this run invalid, not pass.
    proc, summary = gate(server, tmp_path, "--users", "4", "--warmup", "2", "--duration", "8", "--max-tokens", str(TOKENS),
                         "--slo", "ttft_ms.p95<=1000", "--slo", "error_rate<=0", profile="smoke")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    m = summary["metrics"]
    assert m["ttft_ms"]["p50"] == pytest.approx(TTFT_MS, rel=0.05)
    assert m["tpot_ms"]["p50"] == pytest.approx(ITL_MS, rel=0.05)
    assert m["e2el_ms"]["p50"] == pytest.approx(TTFT_MS + (TOKENS - 1) * ITL_MS, rel=0.05)
    records = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    measured = [r for r in records if r["phase"] == "measured" and r["status"] == "ok"]
    assert len(measured) == m["requests"]["ok"] >= 10
    assert {r["output_tokens"] for r in measured} == {TOKENS} and {r["output_tokens_source"] for r in measured} == {"usage"}
    assert m["output_tokens"]["source"] == "usage"
    # 4 streams of 1 token per 20 ms after a 200 ms pause: 4 * 64 / 1.46 s = 175 tokens/s
    assert m["output_tokens_per_s"] == pytest.approx(4 * TOKENS / ((TTFT_MS + (TOKENS - 1) * ITL_MS) / 1000), rel=0.1)
    assert summary["verdict"] == "pass" and all(r["pass"] for r in summary["rules"])
    cases = ET.parse(tmp_path / "junit.xml").getroot().findall("testsuite[@name='loadtest.slo']/testcase")
    # The built-in error budget, the smoke profile's rules, then the command line's (which add, never replace).
    assert [c.get("name") for c in cases] == ["error_rate<=0.05", "error_rate<=0", "ttft_ms.p95<=10000", "ttft_ms.p95<=1000"]
    assert [r["source"] for r in summary["rules"]] == ["builtin", "profile", "profile", "cli"]
    assert (tmp_path / "locust-report.html").stat().st_size > 10_000
    assert "PASS" in proc.stdout and "ttft_ms" in proc.stdout


def test_strict_slo_exits_10(server, tmp_path):
    proc, summary = gate(server, tmp_path, "--users", "2", "--warmup", "1", "--duration", "3", "--max-tokens", "8",
                         "--slo", "ttft_ms.p95<=150")
    assert proc.returncode == 10, proc.stdout + proc.stderr
    assert summary["verdict"] == "fail"
    rule = next(r for r in summary["rules"] if r["rule"] == "ttft_ms.p95<=150")
    assert rule["observed"] > 150 and not rule["pass"] and rule["source"] == "cli"
    assert "[FAIL] ttft_ms.p95<=150" in proc.stdout
    assert ET.parse(tmp_path / "junit.xml").getroot().find("testsuite[@name='loadtest.slo']/testcase/failure") is not None


def test_injected_errors_show_in_error_rate(tmp_path):
    with reference_server("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "8", "--error-rate", "0.3", "--seed", "7") as url:
        proc, summary = gate(url, tmp_path, "--users", "4", "--warmup", "1", "--duration", "4", "--slo", "error_rate<=0.01")
    assert proc.returncode == 10, proc.stdout + proc.stderr
    m = summary["metrics"]
    assert m["requests"]["failed"] > 20
    assert m["error_rate"] == pytest.approx(0.3, abs=0.1)
    assert any("injected error" in e for e in m["errors"])


def test_dead_endpoint_exits_30_before_any_load(tmp_path):
    proc, summary = gate(f"http://127.0.0.1:{free_port()}", tmp_path)
    assert proc.returncode == 30, proc.stdout + proc.stderr
    assert summary["verdict"] == "preflight_failed" and "unreachable" in summary["preflight"]["problem"]
    assert (tmp_path / "requests.jsonl").read_text() == ""


def test_auth_and_model_preflight(tmp_path):
    with reference_server("--ttft-ms", "10", "--itl-ms", "1", "--tokens", "4", "--api-key", "sk-right") as url:
        proc, summary = gate(url, tmp_path / "wrong", env={"OPENAI_API_KEY": "sk-wrong"})
        assert proc.returncode == 30 and "auth rejected" in summary["preflight"]["problem"]
        proc, summary = gate(url, tmp_path / "model", "--model", "nope", env={"OPENAI_API_KEY": "sk-right"})
        assert proc.returncode == 30 and "model missing: 'nope'" in summary["preflight"]["problem"]
        key_file = tmp_path / "api-key"
        key_file.write_text("sk-right\n")
        proc, summary = gate(url, tmp_path / "ok", "--api-key-file", str(key_file), "--users", "1", "--warmup", "0.5",
                             "--duration", "2", env={"OPENAI_API_KEY": ""})
        assert proc.returncode == 0, proc.stdout + proc.stderr
    for path in (tmp_path / "ok").rglob("*"):
        if path.is_file():
            assert "sk-right" not in path.read_text(errors="ignore"), f"the key leaked into {path}"


def test_missing_usage_makes_the_run_invalid(tmp_path):
    with reference_server("--ttft-ms", "10", "--itl-ms", "2", "--tokens", "8", "--no-usage") as url:
        proc, summary = gate(url, tmp_path, "--users", "2", "--warmup", "0.5", "--duration", "2")
    assert proc.returncode == 20, proc.stdout + proc.stderr
    assert summary["verdict"] == "invalid"
    assert summary["metrics"]["output_tokens"]["source"] == "estimated"
    failed = [c["check"] for c in summary["validity"] if not c["pass"]]
    assert failed == ["requests_without_usage"]
    assert "[INVALID] requests_without_usage" in proc.stdout


def test_open_loop_rate_and_shortfall(server, tmp_path):
    profile = tmp_path / "open.yaml"
    profile.write_text("workload: {max_tokens: 8}\nload: {mode: rate, rate: 8, arrival: constant, max_in_flight: 1, "
                       "warmup_s: 1, duration_s: 4}\nslo: ['error_rate<=0']\nvalidity: {min_requests: 3, max_loop_lag_ms: 150}\n")
    proc = run_cli("run", "--host", server, "--profile", str(profile), "--out", str(tmp_path / "capped"), "--no-smoke")
    summary = json.loads((tmp_path / "capped" / "summary.json").read_text())
    # One request in flight at 340 ms each cannot carry 8 req/s: the generator fell behind, so the run proves nothing.
    assert proc.returncode == 20, proc.stdout + proc.stderr
    ratio = next(c for c in summary["validity"] if c["check"] == "achieved_rate_ratio")
    assert ratio["observed"] < 0.6 and summary["metrics"]["queue_delay_ms"]["p95"] > 500
    proc = run_cli("run", "--host", server, "--profile", str(profile), "--out", str(tmp_path / "free"), "--no-smoke",
                   "--rate", "8")
    summary = json.loads((tmp_path / "free" / "summary.json").read_text())
    assert summary["config"]["load"]["max_in_flight"] == 1  # same profile: only the rate was overridden


def test_processes_merge_raw_records(server, tmp_path):
    proc, summary = gate(server, tmp_path, "--users", "4", "--processes", "2", "--warmup", "2", "--duration", "4",
                         "--max-tokens", "16")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    assert len({r["worker"] for r in records}) == 2
    assert summary["metrics"]["requests"]["ok"] == sum(r["phase"] == "measured" and r["status"] == "ok" for r in records)
    assert summary["metrics"]["tpot_ms"]["p50"] == pytest.approx(ITL_MS, rel=0.05)


def test_reference_server_rejects_bad_requests_with_openai_errors(server):
    bad = httpx.post(server + "/v1/chat/completions", json={"model": "reference-model", "messages": [], "max_tokens": 0})
    assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
    missing = httpx.post(server + "/v1/chat/completions", json={"model": "other", "messages": [{"role": "user", "content": "x"}]})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_cli_dispatcher():
    assert "reference-server" in run_cli("--help").stdout
    unknown = run_cli("frobnicate")
    assert unknown.returncode == 2 and "unknown command" in unknown.stderr
    bad = run_cli("run", "--host", "http://127.0.0.1:1", "--slo", "ttft_ms<=1")
    assert bad.returncode == 2 and "needs a stat" in bad.stderr


def report_rows(html: str) -> dict[str, dict]:
    """The request rows Locust embeds in its HTML report."""
    import re

    raw = re.search(r'"requests_statistics": (\[.*?\])', html).group(1)
    return {row["name"]: row for row in json.loads(raw)}


def test_locust_html_report_counts_what_summary_json_counts(server, tmp_path):
    # a warm-up the report must leave out, and no TTFT/TPOT pseudo-requests inflating its RPS
    proc, summary = gate(server, tmp_path, "--users", "3", "--warmup", "2", "--duration", "4", "--max-tokens", "16",
                         "--slo", "error_rate<=0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = report_rows((tmp_path / "locust-report.html").read_text())
    assert set(rows) == {"chat stream (E2EL)", "Aggregated"}
    m = summary["metrics"]
    total = rows["Aggregated"]
    assert total["num_requests"] == m["requests"]["ok"] + m["requests"]["failed"] > 0
    assert total["num_failures"] == m["requests"]["failed"]
    assert total["total_rps"] == pytest.approx(m["requests_per_s"], rel=0.02)
    assert total["avg_content_length"] == 16  # output tokens per request
