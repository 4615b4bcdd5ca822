"""The gate never passes a lying server (issue 20): each lie of the scripted server, the exit code the
gate must give, and a deadline this test enforces (the gate must end on its own, with summary.json)."""

from __future__ import annotations

import json
import time

import pytest

from loadtests.testing.scripted_server import Lie, ScriptedServer

from .refserver import run_cli

MODEL = "scripted-model"
GATE_DEADLINE_S = 45  # the whole gate run, enforced from outside: a hang fails the test


def profile(tmp_path, slo=None, max_tokens=16, require_usage=True, timeout_s=1.0, duration_s=2.0):
    """A user-written profile: no `slo` list unless given (the built-in floor must hold anyway)."""
    lines = [
        f"workload: {{endpoint: chat, prompt_tokens: 8, max_tokens: {max_tokens}}}",
        f"load: {{mode: concurrency, users: 2, warmup_s: 0.5, duration_s: {duration_s}, request_timeout_s: {timeout_s}}}",
        f"validity: {{min_requests: 3, max_loop_lag_ms: 150, require_usage: {str(require_usage).lower()}}}",
    ]
    if slo is not None:
        lines.append(f"slo: {json.dumps(slo)}")
    path = tmp_path / "profile.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def gate(server, tmp_path, prof, *extra):
    out = tmp_path / "out"
    started = time.monotonic()
    proc = run_cli("run", "--host", server.base_url, "--profile", prof, "--out", str(out), *extra, timeout=GATE_DEADLINE_S)
    took = time.monotonic() - started
    summary = json.loads((out / "summary.json").read_text())
    return proc, summary, took


def failed_checks(summary):
    return {c["check"] for c in summary.get("validity", []) if not c["pass"]}


@pytest.fixture
def server():
    with ScriptedServer(models=[MODEL]) as srv:
        srv.token_delay_s = 0.002  # a stream of 16 words takes some 30 ms: a few hundred requests per run
        yield srv


@pytest.mark.timeout(60)
def test_an_honest_server_passes(server, tmp_path):
    proc, summary, _ = gate(server, tmp_path, profile(tmp_path), "--no-smoke")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert summary["verdict"] == "pass"
    assert summary["metrics"]["requests"]["ok"] >= 10 and summary["metrics"]["requests"]["failed"] == 0
    assert all(c["pass"] for c in summary["validity"])
    tokens = summary["metrics"]["output_tokens"]
    assert tokens["usage_total"] == tokens["stream_chunks"] == tokens["total"] == 16 * summary["metrics"]["requests"]["ok"]


@pytest.mark.timeout(60)
def test_every_request_failing_fails_without_an_slo_list(server, tmp_path):
    server.lies.add(Lie.HALF_SERVER_ERRORS)
    proc, summary, _ = gate(server, tmp_path, profile(tmp_path), "--no-smoke")
    assert proc.returncode == 10, proc.stdout + proc.stderr
    floor = next(r for r in summary["rules"] if r["metric"] == "error_rate")
    assert floor["source"] == "builtin" and not floor["pass"] and floor["observed"] == pytest.approx(0.5, abs=0.1)


@pytest.mark.timeout(60)
def test_cli_slo_adds_to_the_profile_rules_and_never_drops_the_error_budget(server, tmp_path):
    server.lies.add(Lie.HALF_SERVER_ERRORS)
    prof = profile(tmp_path, slo=["error_rate<=0.01", "ttft_ms.p95<=5000"])
    proc, summary, _ = gate(server, tmp_path, prof, "--no-smoke", "--slo", "ttft_ms.p95<=2000")
    assert proc.returncode == 10, proc.stdout + proc.stderr
    sources = {r["rule"]: r["source"] for r in summary["rules"]}
    assert sources == {"error_rate<=0.05": "builtin", "error_rate<=0.01": "profile", "ttft_ms.p95<=5000": "profile",
                       "ttft_ms.p95<=2000": "cli"}
    assert [r["pass"] for r in summary["rules"] if r["metric"] == "error_rate"] == [False, False]
    assert "(builtin)" in proc.stdout and "(cli)" in proc.stdout


@pytest.mark.timeout(60)
@pytest.mark.parametrize("lie", [Lie.OVERCLAIM_USAGE, Lie.UNDERCLAIM_USAGE])
def test_usage_that_disagrees_with_the_stream_makes_the_run_invalid(server, tmp_path, lie):
    server.lies.add(lie)
    proc, summary, _ = gate(server, tmp_path, profile(tmp_path, max_tokens=64), "--no-smoke")
    assert proc.returncode == 20, proc.stdout + proc.stderr
    check = next(c for c in summary["validity"] if c["check"] == "usage_matches_stream")
    assert not check["pass"] and check["observed"] == summary["metrics"]["requests"]["ok"] > 0
    tokens = summary["metrics"]["output_tokens"]
    chunks = 10 if lie == Lie.OVERCLAIM_USAGE else 64
    claimed = 64 if lie == Lie.OVERCLAIM_USAGE else 1
    assert tokens["stream_chunks"] == chunks * tokens["usage_mismatch_requests"]
    assert tokens["usage_total"] == claimed * tokens["usage_mismatch_requests"]
    assert tokens["usage_mismatch_example"]["usage_completion_tokens"] == claimed
    assert tokens["usage_mismatch_example"]["content_chunks"] == chunks
    # What arrived is what counts: the throughput is the stream's, not the claim's.
    assert tokens["total"] == tokens["stream_chunks"]


@pytest.mark.timeout(30)
def test_a_trickling_model_list_ends_the_gate_at_its_deadline(server, tmp_path):
    server.lies.add(Lie.TRICKLE_MODELS)  # one byte every 0.5 s: no read ever times out
    proc, summary, took = gate(server, tmp_path, profile(tmp_path), "--preflight-timeout", "2")
    assert proc.returncode == 30, proc.stdout + proc.stderr
    assert summary["verdict"] == "preflight_failed" and "deadline" in summary["preflight"]["problem"]
    assert took < 15


@pytest.mark.timeout(60)
def test_streams_stalled_behind_heartbeats_fail_at_their_deadline(server, tmp_path):
    server.lies.add(Lie.STALL_AFTER_HEADERS)
    proc, summary, _ = gate(server, tmp_path, profile(tmp_path), "--no-smoke")
    assert proc.returncode == 10, proc.stdout + proc.stderr
    req = summary["metrics"]["requests"]
    assert req["ok"] == 0 and req["failed"] >= 3 and summary["metrics"]["error_rate"] == 1.0
    assert any("deadline" in e for e in summary["metrics"]["errors"])


@pytest.mark.timeout(40)
def test_the_smoke_suite_ends_at_its_deadline_on_a_stalled_stream(server, tmp_path):
    server.lies.add(Lie.STALL_AFTER_HEADERS)
    proc, summary, took = gate(server, tmp_path, profile(tmp_path), "--smoke-timeout", "1", "--skip-content-checks", "*")
    assert proc.returncode == 30, proc.stdout + proc.stderr
    assert summary["verdict"] == "preflight_failed"
    smoke = json.loads((tmp_path / "out" / "smoke.json").read_text())
    reasons = [c["reason"] or "" for c in smoke["checks"] if c["status"] == "fail"]
    assert any("deadline" in r for r in reasons), reasons
    assert took < 30


@pytest.mark.timeout(60)
def test_hung_streams_count_as_failures(server, tmp_path):
    server.lies.add(Lie.HANG_EVERY_20TH)
    proc, summary, _ = gate(server, tmp_path, profile(tmp_path, slo=["error_rate<=0.01"]), "--no-smoke")
    assert proc.returncode == 10, proc.stdout + proc.stderr
    m = summary["metrics"]
    assert m["requests"]["failed"] >= 1 and m["error_rate"] > 0.01
    assert m["requests"]["incomplete"] == 0


@pytest.mark.timeout(60)
def test_a_wrong_model_makes_the_run_invalid(server, tmp_path):
    server.lies.add(Lie.WRONG_MODEL)
    proc, summary, _ = gate(server, tmp_path, profile(tmp_path), "--no-smoke")
    assert proc.returncode == 20, proc.stdout + proc.stderr
    assert "model_matches" in failed_checks(summary)
    assert "other-model" in next(c["why"] for c in summary["validity"] if c["check"] == "model_matches")


@pytest.mark.timeout(60)
def test_answers_shorter_than_ignore_eos_asks_make_the_run_invalid(server, tmp_path):
    server.lies.add(Lie.SHORT_DESPITE_IGNORE_EOS)
    proc, summary, _ = gate(server, tmp_path, profile(tmp_path), "--no-smoke")
    assert proc.returncode == 20, proc.stdout + proc.stderr
    assert failed_checks(summary) == {"output_length_matches"}


@pytest.mark.timeout(60)
def test_a_whitespace_chunk_ahead_of_the_answer_does_not_count_as_the_first_token(server, tmp_path):
    server.lies.add(Lie.WHITESPACE_FIRST)
    server.first_token_delay_s = 0.6
    proc, summary, _ = gate(server, tmp_path, profile(tmp_path, timeout_s=3.0), "--no-smoke", "--slo", "ttft_ms.p95<=300")
    assert proc.returncode == 10, proc.stdout + proc.stderr
    assert summary["metrics"]["ttft_ms"]["p50"] >= 600


@pytest.mark.timeout(60)
def test_non_openai_error_chunks_fail_even_without_required_usage(server, tmp_path):
    server.lies.add(Lie.NON_OPENAI_ERROR_CHUNK)
    proc, summary, _ = gate(server, tmp_path, profile(tmp_path, require_usage=False), "--no-smoke")
    assert proc.returncode == 10, proc.stdout + proc.stderr
    assert summary["metrics"]["requests"]["ok"] == 0
    assert any("engine crashed" in e for e in summary["metrics"]["errors"]), summary["metrics"]["errors"]


@pytest.mark.timeout(60)
def test_a_stream_cut_mid_way_fails_with_a_real_reason(server, tmp_path):
    server.lies.add(Lie.CLOSE_MID_STREAM)
    proc, summary, _ = gate(server, tmp_path, profile(tmp_path), "--no-smoke")
    assert proc.returncode == 10, proc.stdout + proc.stderr
    errors = summary["metrics"]["errors"]
    assert errors and all(e and e not in ("null", "None") and "None" not in e for e in errors), errors
    records = [json.loads(line) for line in (tmp_path / "out" / "requests.jsonl").read_text().splitlines()]
    assert all(r["error"] for r in records if r["status"] == "failed")


def test_every_lie_of_the_scripted_server_is_exercised():
    tested = {Lie.HALF_SERVER_ERRORS, Lie.OVERCLAIM_USAGE, Lie.UNDERCLAIM_USAGE, Lie.TRICKLE_MODELS, Lie.STALL_AFTER_HEADERS,
              Lie.HANG_EVERY_20TH, Lie.WRONG_MODEL, Lie.SHORT_DESPITE_IGNORE_EOS, Lie.WHITESPACE_FIRST,
              Lie.NON_OPENAI_ERROR_CHUNK, Lie.CLOSE_MID_STREAM}
    assert tested == set(Lie)


@pytest.mark.timeout(30)
def test_the_smoke_command_holds_its_request_deadline_on_a_trickling_model_list(server, tmp_path):
    server.lies.add(Lie.TRICKLE_MODELS)
    started = time.monotonic()
    proc = run_cli("smoke", "--host", server.base_url, "--timeout", "1", "--out", str(tmp_path), timeout=20)
    assert proc.returncode == 30, proc.stdout + proc.stderr
    assert "deadline exceeded" in proc.stdout
    assert time.monotonic() - started < 15
