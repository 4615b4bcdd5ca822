"""The in-cluster gate publishes its verdict and key figures to its result ConfigMap (what
`pulumi stack output gate` shows), through the kubernetes client against a loopback HTTPS server
that plays the API server; a failure to publish never changes the exit code. And the log's last
lines (a failed Job's termination message) carry the verdict and figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from components.catalog import upstream
from loadtests import gate_result
from loadtests.report import summary_text

from .apiserver import fake_api_server
from .refserver import CI_PROFILE, REPO, free_port, reference_server
from .test_tls import private_ca  # noqa: F401 - the CA fixture (openssl), shared with the TLS tests

TOKEN = "sa-token-for-the-test-7f3c"
NAMESPACE, CONFIG_MAP, JOB = "slmkit-loadtest", "gate-result-qwen", "gate-qwen-0a1b2c3d"
JOB_UID = "5f0c2a9e-0000-4000-8000-00000000a1b2"
# The gate as the Job runs it, with the kubernetes client's in-cluster token and CA paths pointed at
# the test's files (in a pod they are the projected token volume's).
GATE_WITH_FILES = ("import sys; from kubernetes.config import incluster_config as c; "
                   "c.SERVICE_TOKEN_FILENAME, c.SERVICE_CERT_FILENAME = sys.argv[1:3]; "
                   "from loadtests.gate import main; sys.exit(main(sys.argv[3:]))")


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN)
    return path


def in_cluster_env(api) -> dict[str, str]:
    return {"KUBERNETES_SERVICE_HOST": api.host, "KUBERNETES_SERVICE_PORT": str(api.port)}


def run_gate(url: str, out, token_file, ca_file, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", GATE_WITH_FILES, str(token_file), str(ca_file),
           "--host", url, "--profile", CI_PROFILE, "--out", str(out), "--no-smoke", *extra]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180,
                          env={**os.environ, gate_result.TARGET_ENV: f"{NAMESPACE}/{CONFIG_MAP}",
                               gate_result.JOB_ENV: JOB, gate_result.JOB_UID_ENV: JOB_UID, **env})


def test_publish_sends_a_merge_patch_with_the_pods_token(private_ca, token_file):  # noqa: F811
    record = {"job": JOB, "verdict": "pass", "exitCode": 0}
    with fake_api_server(private_ca) as api:
        gate_result.publish(record, NAMESPACE, CONFIG_MAP, str(token_file), str(private_ca / "ca.pem"),
                            environ=in_cluster_env(api))
    (seen,) = api.requests
    path, _, query = seen.path.partition("?")
    assert seen.method == "PATCH" and path == f"/api/v1/namespaces/{NAMESPACE}/configmaps/{CONFIG_MAP}"
    assert query == "fieldManager=slmkit-gate"
    assert seen.headers["content-type"] == "application/merge-patch+json"
    assert seen.headers["authorization"].lower() == f"bearer {TOKEN}"
    body = json.loads(seen.body)
    assert list(body) == ["data"] and list(body["data"]) == [gate_result.DATA_KEY]
    assert json.loads(body["data"][gate_result.DATA_KEY]) == record


def test_the_client_reads_the_token_where_the_kit_mounts_it():
    from kubernetes.config import incluster_config

    mount = upstream.SERVICE_ACCOUNT_TOKEN_VOLUME.value["mount_path"]
    assert incluster_config.SERVICE_TOKEN_FILENAME == f"{mount}/token"
    assert incluster_config.SERVICE_CERT_FILENAME == f"{mount}/ca.crt"


def test_a_passing_gate_publishes_its_figures_from_summary_json(private_ca, token_file, tmp_path):  # noqa: F811
    with reference_server("--ttft-ms", "30", "--itl-ms", "3", "--tokens", "16") as url, fake_api_server(private_ca) as api:
        proc = run_gate(url, tmp_path, token_file, private_ca / "ca.pem", in_cluster_env(api))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    (seen,) = api.requests
    record = json.loads(json.loads(seen.body)["data"][gate_result.DATA_KEY])
    m = summary["metrics"]
    assert record["job"] == JOB and record["jobUid"] == JOB_UID and record["verdict"] == "pass" and record["exitCode"] == 0
    assert record["profile"] == CI_PROFILE and record["target"] == url
    assert record["ttftMs"] == {"p50": m["ttft_ms"]["p50"], "p95": m["ttft_ms"]["p95"]}
    assert record["tpotMs"] == {"p50": m["tpot_ms"]["p50"], "p95": m["tpot_ms"]["p95"]}
    assert record["outputTokensPerS"] == m["output_tokens_per_s"] and record["errorRate"] == m["error_rate"]
    assert record["requests"] == {k: m["requests"][k] for k in ("ok", "failed", "incomplete")}
    assert "not published" not in proc.stdout
    last = proc.stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("gate verdict: PASS (exit 0)") and f"output {m['output_tokens_per_s']:.1f} tok/s" in last


def test_a_refused_publish_leaves_the_verdict_and_exit_code(private_ca, token_file, tmp_path):  # noqa: F811
    with reference_server("--ttft-ms", "20", "--itl-ms", "2", "--tokens", "8", "--error-rate", "0.3", "--seed", "7") as url, \
            fake_api_server(private_ca, status=403) as api:
        proc = run_gate(url, tmp_path, token_file, private_ca / "ca.pem", in_cluster_env(api),
                        "--users", "4", "--slo", "error_rate<=0.01")
    assert proc.returncode == 10, proc.stdout + proc.stderr
    assert len(api.requests) == 1
    notes = [line for line in proc.stdout.splitlines() if line.startswith("gate result not published")]
    assert notes == ["gate result not published: HTTP 403 Forbidden"]
    assert TOKEN not in proc.stdout + proc.stderr
    assert proc.stdout.rstrip("\n").splitlines()[-1].startswith("gate verdict: FAIL (exit 10)")


def test_an_unreachable_api_server_leaves_the_exit_code(private_ca, token_file, tmp_path):  # noqa: F811
    closed = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(free_port())}
    proc = run_gate(f"http://127.0.0.1:{free_port()}", tmp_path, token_file, private_ca / "ca.pem", closed)
    assert proc.returncode == 30, proc.stdout + proc.stderr
    notes = [line for line in proc.stdout.splitlines() if line.startswith("gate result not published: ")]
    assert len(notes) == 1 and TOKEN not in proc.stdout + proc.stderr
    *_, problem, last = proc.stdout.rstrip("\n").splitlines()
    assert last == "gate verdict: PREFLIGHT_FAILED (exit 30)" and problem.startswith("  preflight failed: endpoint unreachable")


def test_outside_the_job_nothing_is_published(tmp_path):
    assert gate_result.publish_from_env({"verdict": "pass"}, 0, "dev", environ={}) is None
    line = gate_result.publish_from_env({"verdict": "pass"}, 0, "dev", environ={gate_result.TARGET_ENV: "no-slash"})
    assert line == "gate result not published: ValueError: SLMKIT_GATE_RESULT='no-slash': expected <namespace>/<name>"


# --- the log's tail: what a failed Job's termination message keeps ----------------------------------

def _metrics() -> dict:
    dist = {"p50": 123.4, "p95": 456.7, "p99": 789.0}
    return {"requests": {"ok": 400, "failed": 12, "incomplete": 1}, "window_s": 60.0, "error_rate": 0.0291,
            "ttft_ms": dist, "tpot_ms": {"p50": 21.5, "p95": 33.25, "p99": 40.0}, "itl_ms": dist, "e2el_ms": dist,
            "output_tokens": {"total": 25600, "source": "usage"}, "output_tokens_per_s": 212.34,
            "requests_per_s": 6.7, "goodput_requests_per_s": 6.5, "loop_lag_ms": {"p99": 3.0},
            "errors": {f"HTTP 500 from the server, variant {i}: " + "x" * 150: i + 1 for i in range(12)}}


def tail(text: str) -> str:
    """What the kubelet keeps: the last 80 lines, then the last 2048 bytes of those."""
    keep = upstream.TERMINATION_MESSAGE_LOG_TAIL.value
    lines = "\n".join(text.splitlines()[-keep["lines"]:]).encode()
    return lines[-keep["bytes"]:].decode(errors="ignore")


def test_the_logs_tail_carries_the_verdict_and_key_figures_of_a_long_report():
    rules = [{"rule": f"ttft_ms.p95<={100 + i}", "pass": False, "observed": 456.7, "op": "<=", "threshold": 100 + i,
              "source": "cli"} for i in range(40)]
    summary = {"verdict": "fail", "host": "https://gateway.example", "model": "qwen", "profile": "dev - " + "d" * 300,
               "load": "8 users", "metrics": _metrics(), "rules": rules, "validity": [], "out_dir": "/results"}
    smoke = [f"[PASS] case {i}: " + "s" * 100 for i in range(60)]
    text = summary_text(summary, smoke)
    assert len(text.encode()) > 3 * 2048 and len(text.splitlines()) > 80  # the head is cut off
    kept = tail(text)
    assert "gate verdict: FAIL (exit 10)" in kept
    for figure in ("ttft p50/p95 123.4/456.7 ms", "tpot p50/p95 21.5/33.25 ms", "output 212.3 tok/s",
                   "error rate 2.91%", "requests ok 400 failed 12 incomplete 1"):
        assert figure in kept, figure


def test_the_logs_tail_carries_a_preflight_problem():
    summary = {"verdict": "preflight_failed", "host": "https://gw", "model": None, "profile": "dev",
               "preflight": {"passed": False, "problem": "auth rejected: GET https://gw/v1/models answered HTTP 401 "
                                                        "(check the API key)"}}
    kept = tail(summary_text(summary, [f"[FAIL] case {i}: " + "f" * 120 for i in range(100)]))
    assert kept.endswith("\n  preflight failed: auth rejected: GET https://gw/v1/models answered HTTP 401 (check the API key)\n"
                         "gate verdict: PREFLIGHT_FAILED (exit 30)")
