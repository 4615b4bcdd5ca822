"""The in-cluster gate's verdict and key figures, written to a ConfigMap the kit declares (without
`data`: the gate owns that field), so they outlive the pod: `pulumi up` reads the ConfigMap back
into the stack output `gate` (components/loadtest/component.py).

The Job names the ConfigMap (`SLMKIT_GATE_RESULT=<namespace>/<name>`) and itself (`SLMKIT_GATE_JOB`,
`SLMKIT_GATE_JOB_UID`);
the pod's projected service-account token may patch that ConfigMap and nothing else. Publishing
never changes the verdict or the exit code: a failure prints one line and the gate goes on.
"""

from __future__ import annotations

import json
import os

from loadtests.report import failed_checks

TARGET_ENV = "SLMKIT_GATE_RESULT"
JOB_ENV = "SLMKIT_GATE_JOB"
JOB_UID_ENV = "SLMKIT_GATE_JOB_UID"  # the Job's UID (downward API): a Job re-created under the same name differs
DATA_KEY = "result.json"
FIELD_MANAGER = "slmkit-gate"
REQUEST_TIMEOUT_S = 10


def _pair(dist: dict | None) -> dict | None:
    return {"p50": dist.get("p50"), "p95": dist.get("p95")} if dist else None


def result_record(summary: dict, exit_code: int, job: str | None, profile: str, job_uid: str | None = None) -> dict:
    """What the stack output shows, taken from the summary the gate wrote (nothing recomputed)."""
    m = summary.get("metrics") or {}
    requests = m.get("requests")
    record = {
        "job": job, "jobUid": job_uid, "verdict": summary.get("verdict"), "exitCode": exit_code, "profile": profile,
        "target": summary.get("host"), "model": summary.get("model"), "generatedAt": summary.get("generated_at"),
        "ttftMs": _pair(m.get("ttft_ms")), "tpotMs": _pair(m.get("tpot_ms")),
        "outputTokensPerS": m.get("output_tokens_per_s"), "errorRate": m.get("error_rate"),
        "requests": {k: requests.get(k) for k in ("ok", "failed", "incomplete")} if requests else None,
    }
    pre = summary.get("preflight")
    if pre and not pre.get("passed"):
        record["problem"] = pre.get("problem")
    failed = failed_checks(summary)
    if failed:
        record["failed"] = failed
    return record


def target_from_env(environ=os.environ) -> tuple[str, str] | None:
    """(namespace, name) of the result ConfigMap, or None when the gate runs outside the kit's Job."""
    value = environ.get(TARGET_ENV, "").strip()
    if not value:
        return None
    namespace, sep, name = value.partition("/")
    if not (sep and namespace and name):
        raise ValueError(f"{TARGET_ENV}={value!r}: expected <namespace>/<name>")
    return namespace, name


def publish(record: dict, namespace: str, name: str, token_file: str | None = None, ca_file: str | None = None,
            environ=os.environ) -> None:
    """Merge-patch the record into the ConfigMap's data through the API server, with the pod's own
    service-account token: the kubernetes client's in-cluster loader, which reads the API server's
    address from KUBERNETES_SERVICE_HOST/PORT and the token and CA from their usual files (the kit's
    projected token volume is mounted there). Raises on any failure."""
    from kubernetes import client
    from kubernetes.config import incluster_config

    configuration = client.Configuration()
    incluster_config.InClusterConfigLoader(token_file or incluster_config.SERVICE_TOKEN_FILENAME,
                                           ca_file or incluster_config.SERVICE_CERT_FILENAME,
                                           environ=environ).load_and_set(configuration)
    configuration.retries = 1  # with the request timeout: a dropped connection costs the gate 20 s at most
    body = {"data": {DATA_KEY: json.dumps(record, separators=(",", ":"), sort_keys=True)}}
    with client.ApiClient(configuration) as api:
        client.CoreV1Api(api).patch_namespaced_config_map(
            name, namespace, body, field_manager=FIELD_MANAGER, _content_type="application/merge-patch+json",
            _request_timeout=REQUEST_TIMEOUT_S)


def publish_from_env(summary: dict, exit_code: int, profile: str, environ=os.environ, **files) -> str | None:
    """Publish when the Job asked for it (TARGET_ENV set); returns the one line to print, if any.
    Never raises: the verdict and the exit code are the gate's, whatever happens here."""
    try:
        target = target_from_env(environ)
        if target is None:
            return None
        record = result_record(summary, exit_code, environ.get(JOB_ENV), profile, environ.get(JOB_UID_ENV))
        publish(record, *target, environ=environ, **files)
    except Exception as exc:  # noqa: BLE001 - any failure (config, network, HTTP status) is reported the same way
        return f"gate result not published: {_why(exc)}"
    return None


def _why(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    reason = getattr(exc, "reason", None)
    text = f"HTTP {status} {reason}" if status else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split())[:300]  # one line; the API error body (which never holds the token) left out
