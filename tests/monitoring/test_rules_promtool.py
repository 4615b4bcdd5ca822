"""The rendered PrometheusRule under promtool: `check rules`, then `test rules` with, for every
alert, one scenario that fires it and one that keeps it quiet.

promtool compares annotations exactly, and ours are templates ({{ $value | humanize }}); the unit
tests therefore run on a copy of the rules with annotations removed (expressions, `for`, labels
and thresholds untouched), while `check rules` validates the real file's templates.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from components.endpoints import server_endpoints
from components.monitoring import alerts
from tests.monitoring import promtool
from tests.monitoring.configs import loaded

VLLM = 'slmkit_engine="vllm", server="phi", namespace="slmkit-models"'
ONNX = 'slmkit_engine="onnx", server="qwen-cpu", namespace="slmkit-models"'
VLLM_LABELS = {"slmkit_engine": "vllm", "server": "phi", "namespace": "slmkit-models"}
ONNX_LABELS = {"slmkit_engine": "onnx", "server": "qwen-cpu", "namespace": "slmkit-models"}
POD = {"namespace": "slmkit-models", "pod": "phi-7d9f-abcde", "container": "server"}
POD_SEL = 'namespace="slmkit-models", pod="phi-7d9f-abcde", container="server"'


@dataclass
class Case:
    series: list[tuple[str, str]]
    eval_time: str
    fires: dict[str, str] | None  # expected labels (without alertname/severity) or None for quiet
    extra: dict[str, str] = field(default_factory=dict)


def vllm_requests(ok_step: int, err_step: int) -> list[tuple[str, str]]:
    api = 'handler="/v1/chat/completions", method="POST"'
    return [(f'http_requests_total{{{VLLM}, {api}, status="2xx"}}', f"0+{ok_step}x120"),
            (f'http_requests_total{{{VLLM}, {api}, status="5xx"}}', f"0+{err_step}x120"),
            # /metrics scrapes are not API traffic: a flood of them must not dilute the error rate.
            (f'http_requests_total{{{VLLM}, handler="/metrics", method="GET", status="2xx"}}', "0+1000x120")]


def ttft(bucket_steps: dict[str, int], sel: str = VLLM, name: str = "vllm:time_to_first_token_seconds") -> list[tuple[str, str]]:
    return [(f'{name}_bucket{{{sel}, le="{le}"}}', f"0+{step}x120") for le, step in bucket_steps.items()]


SLOW = {"1": 0, "10": 0, "40": 10, "+Inf": 10}  # every first token between 10 and 40 s
FAST = {"1": 10, "10": 10, "40": 10, "+Inf": 10}  # every first token under 1 s

SCENARIOS: dict[str, tuple[Case, Case]] = {
    "SlmErrorRateCritical": (
        Case(vllm_requests(90, 10), "10m", VLLM_LABELS),  # 10% > 5%
        Case(vllm_requests(99, 1), "10m", None),  # 1%
    ),
    "SlmErrorRateHigh": (
        Case([(f'onnxserver:requests_total{{{ONNX}, model_name="tiny", status="200"}}', "0+97x120"),
              (f'onnxserver:requests_total{{{ONNX}, model_name="tiny", status="503"}}', "0+3x120")], "20m", ONNX_LABELS),
        # 4xx are the client's fault: 10% of 429s must not page the model owner.
        Case([(f'onnxserver:requests_total{{{ONNX}, model_name="tiny", status="200"}}', "0+90x120"),
              (f'onnxserver:requests_total{{{ONNX}, model_name="tiny", status="429"}}', "0+10x120")], "20m", None),
    ),
    "SlmTtftP99Critical": (Case(ttft(SLOW), "10m", VLLM_LABELS), Case(ttft(FAST), "10m", None)),
    "SlmTtftP99High": (
        Case(ttft(SLOW, ONNX, "onnxserver:time_to_first_token_seconds"), "10m", ONNX_LABELS),
        Case(ttft(FAST, ONNX, "onnxserver:time_to_first_token_seconds"), "10m", None),
    ),
    "SlmQueueBacklog": (
        Case([(f'onnxserver:num_requests_waiting{{{ONNX}, model_name="tiny", pod="a"}}', "40x60"),
              (f'onnxserver:num_requests_waiting{{{ONNX}, model_name="tiny", pod="b"}}', "40x60")], "10m", ONNX_LABELS),
        Case([(f'vllm:num_requests_waiting{{{VLLM}, model_name="phi", pod="a"}}', "20x60")], "10m", None),
    ),
    "SlmMetricsTargetDown": (
        Case([(f'up{{{VLLM}, job="slmkit-models/phi-metrics", instance="10.0.0.7:8000"}}', "0x60")], "10m",
             {**VLLM_LABELS, "job": "slmkit-models/phi-metrics", "instance": "10.0.0.7:8000"}),
        Case([(f'up{{{VLLM}, job="slmkit-models/phi-metrics", instance="10.0.0.7:8000"}}', "1x60"),
              # a target outside the kit (no slmkit_engine label) is not ours to alert on
              ('up{job="other", instance="10.0.0.9:9000"}', "0x60")], "10m", None),
    ),
    "SlmKvCacheNearFull": (
        Case([(f'vllm:kv_cache_usage_perc{{{VLLM}, model_name="phi", pod="a"}}', "0.95x80"),
              (f'vllm:kv_cache_usage_perc{{{VLLM}, model_name="phi", pod="b"}}', "0.97x80")], "15m", VLLM_LABELS),
        # one full pod and one half-empty pod average 0.725: the server still has room
        Case([(f'vllm:kv_cache_usage_perc{{{VLLM}, model_name="phi", pod="a"}}', "0.95x80"),
              (f'vllm:kv_cache_usage_perc{{{VLLM}, model_name="phi", pod="b"}}', "0.5x80")], "15m", None),
    ),
    "SlmPreemptions": (
        Case([(f'vllm:num_preemptions_total{{{VLLM}, model_name="phi"}}', "0+30x80")], "10m", VLLM_LABELS),  # 2/s
        Case([(f'vllm:num_preemptions_total{{{VLLM}, model_name="phi"}}', "0+3x80")], "10m", None),  # 0.2/s
    ),
    "SlmNoBackendUp": (
        Case([('kube_deployment_spec_replicas{namespace="slmkit-models", deployment="phi"}', "1x40"),
              ('kube_deployment_status_replicas_available{namespace="slmkit-models", deployment="phi"}', "0x40")],
             "5m", {"namespace": "slmkit-models", "deployment": "phi"}),
        Case([('kube_deployment_spec_replicas{namespace="slmkit-models", deployment="phi"}', "2x40"),
              ('kube_deployment_status_replicas_available{namespace="slmkit-models", deployment="phi"}', "1x40"),
              # scale-to-zero servers (replicas.min 0) are not watched: 0 available is their idle state
              ('kube_deployment_spec_replicas{namespace="slmkit-models", deployment="qwen-cpu"}', "1x40"),
              ('kube_deployment_status_replicas_available{namespace="slmkit-models", deployment="qwen-cpu"}', "0x40")],
             "5m", None),
    ),
    "SlmPodRestarting": (
        Case([(f"kube_pod_container_status_restarts_total{{{POD_SEL}}}", "0+1x160")], "20m", POD),  # one every 15 s
        Case([(f"kube_pod_container_status_restarts_total{{{POD_SEL}}}", "0x80 1x80")], "40m", None),
    ),
    "SlmOomKilled": (
        Case([(f"kube_pod_container_status_restarts_total{{{POD_SEL}}}", "0x20 1x40"),
              (f'kube_pod_container_status_last_terminated_reason{{{POD_SEL}, reason="OOMKilled"}}', "0x20 1x40")],
             "7m", POD),
        Case([(f"kube_pod_container_status_restarts_total{{{POD_SEL}}}", "0x20 1x40"),
              (f'kube_pod_container_status_last_terminated_reason{{{POD_SEL}, reason="Error"}}', "0x20 1x40")],
             "7m", None),
    ),
    "SlmGpuMemoryHigh": (
        Case([('DCGM_FI_DEV_FB_USED{gpu="0", Hostname="aks-gpu-1", pod="phi-1"}', "15500x80"),
              ('DCGM_FI_DEV_FB_FREE{gpu="0", Hostname="aks-gpu-1", pod="phi-1"}', "300x80")], "15m",
             {"gpu": "0", "Hostname": "aks-gpu-1", "pod": "phi-1"}),
        Case([('DCGM_FI_DEV_FB_USED{gpu="0", Hostname="aks-gpu-1", pod="phi-1"}', "14000x80"),
              ('DCGM_FI_DEV_FB_FREE{gpu="0", Hostname="aks-gpu-1", pod="phi-1"}', "2000x80")], "15m", None),
    ),
    "SlmLoadTestGateFailed": (
        Case([('kube_job_status_failed{namespace="slmkit-loadtest", job_name="slmkit-gate-1a2b"}', "1x10")], "1m",
             {"namespace": "slmkit-loadtest", "job_name": "slmkit-gate-1a2b"}),
        Case([('kube_job_status_failed{namespace="slmkit-loadtest", job_name="slmkit-gate-1a2b"}', "0x10"),
              ('kube_job_status_failed{namespace="other", job_name="batch"}', "1x10")], "1m", None),
    ),
}


@pytest.fixture(scope="module")
def stack():
    # qwen-cpu scales to zero: SlmNoBackendUp must leave it alone.
    servers = [
        {"name": "phi", "engine": "vllm", "model": "Qwen/Qwen2.5-1.5B-Instruct", "gpus": 1, "nodePool": "gpu",
         "dtype": "float16", "maxModelLen": 4096},
        {"name": "qwen-cpu", "engine": "onnx", "model": "Qwen/Qwen2.5-0.5B-Instruct", "revision": "1" * 40, "replicas": {"min": 0, "max": 2},
         "autoscaling": {"scaleToZero": True}, "resources": {"cpu": "2", "memory": "8Gi"}},
        {"name": "gemma", "engine": "ollama", "model": "gemma3:1b", "resources": {"cpu": "2", "memory": "8Gi"}},
    ]
    cfg = loaded(servers).stack
    return cfg, server_endpoints(cfg)


@pytest.fixture(scope="module")
def groups(stack) -> list[dict]:
    cfg, eps = stack
    return alerts.prometheus_rule(cfg, eps)["spec"]["groups"]


def without_annotations(groups: list[dict]) -> list[dict]:
    out = copy.deepcopy(groups)
    for group in out:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    return out


def test_promtool_check_rules_accepts_the_rendered_rules(groups, tmp_path: Path):
    rules = promtool.write_rules(groups, tmp_path / "rules.yaml")
    result = promtool.run("check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_rules_rejects_a_broken_expression(groups, tmp_path: Path):
    broken = copy.deepcopy(groups)
    broken[-1]["rules"][0]["expr"] = "sum by (server (up)"
    result = promtool.run("check", "rules", str(promtool.write_rules(broken, tmp_path / "rules.yaml")))
    assert result.returncode != 0


def test_every_alert_has_a_firing_and_a_quiet_scenario(stack):
    cfg, eps = stack
    assert sorted(alerts.alert_names(cfg, eps)) == sorted(SCENARIOS)


def _alert_test(name: str, case: Case, severity: str) -> dict:
    exp = [] if case.fires is None else [{"exp_labels": {**case.fires, "severity": severity, "slmkit_alert": "true"}}]
    return {
        "interval": "15s",
        "input_series": [{"series": s, "values": v} for s, v in case.series],
        "alert_rule_test": [{"eval_time": case.eval_time, "alertname": name, "exp_alerts": exp}],
    }


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_alert_fires_and_stays_quiet(name: str, groups, tmp_path: Path):
    severity = next(r["labels"]["severity"] for g in groups for r in g["rules"] if r.get("alert") == name)
    promtool.write_rules(without_annotations(groups), tmp_path / "rules.yaml")
    fire, quiet = SCENARIOS[name]
    test_file = tmp_path / "test.yaml"
    test_file.write_text(yaml.safe_dump({
        "rule_files": ["rules.yaml"], "evaluation_interval": "15s",
        "tests": [_alert_test(name, fire, severity), _alert_test(name, quiet, severity)],
    }, sort_keys=False), encoding="utf-8")
    result = promtool.run("test", "rules", str(test_file), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_thresholds_come_from_the_config(tmp_path: Path):
    """A stricter stack config fires where the defaults stay quiet."""
    cfg = loaded(monitoring={"alerts": {"errorRateWarning": 0.002, "errorRateCritical": 0.005}}).stack
    eps = server_endpoints(cfg)
    groups = alerts.prometheus_rule(cfg, eps)["spec"]["groups"]
    promtool.write_rules(without_annotations(groups), tmp_path / "rules.yaml")
    quiet_by_default = SCENARIOS["SlmErrorRateCritical"][1]
    fired = Case(quiet_by_default.series, "10m", VLLM_LABELS)
    (tmp_path / "test.yaml").write_text(yaml.safe_dump({
        "rule_files": ["rules.yaml"], "evaluation_interval": "15s",
        "tests": [_alert_test("SlmErrorRateCritical", fired, "critical")]}), encoding="utf-8")
    result = promtool.run("test", "rules", "test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_missing_promtool_fails_naming_the_debian_package(monkeypatch):
    monkeypatch.setattr(promtool.shutil, "which", lambda name: None)
    with pytest.raises(AssertionError, match=r"apt-get install -y prometheus"):
        promtool.run("check", "rules", "rules.yaml")
