"""The monitoring config section: defaults from production practice, clear errors, cross-layer checks."""

from __future__ import annotations

import pytest

from components.config import ConfigError
from tests.monitoring.configs import VLLM, loaded


def test_defaults_are_llm_d_thresholds():
    a = loaded().stack.monitoring.alerts
    assert (a.error_rate_warning, a.error_rate_critical) == (0.01, 0.05)
    assert (a.ttft_p99_warning_seconds, a.ttft_p99_critical_seconds) == (10, 30)
    assert (a.kv_cache_usage, a.queue_backlog, a.preemptions_per_second) == (0.9, 50, 1)


@pytest.mark.parametrize(("monitoring", "key"), [
    ({"retention": "7 days"}, "slmkit:monitoring.retention"),
    ({"storageSize": "lots"}, "slmkit:monitoring.storageSize"),
    ({"alerts": {"kvCacheUsage": 1.5}}, "slmkit:monitoring.alerts.kvCacheUsage"),
    ({"alerts": {"errorRate": 0.1}}, "slmkit:monitoring.alerts.errorRate"),
    ({"gpuMetrics": {"source": "nvml"}}, "slmkit:monitoring.gpuMetrics.source"),
])
def test_bad_values_name_the_key(monitoring, key):
    with pytest.raises(ConfigError) as err:
        loaded(monitoring=monitoring)
    assert key in str(err.value)


def test_unknown_key_suggests_the_right_one():
    with pytest.raises(ConfigError) as err:
        loaded(monitoring={"alerts": {"queueBacklogg": 10}})
    assert "did you mean queueBacklog?" in str(err.value)


def test_warning_threshold_above_critical_is_an_error():
    with pytest.raises(ConfigError) as err:
        loaded(monitoring={"alerts": {"errorRateWarning": 0.1, "errorRateCritical": 0.05}})
    assert "slmkit:monitoring.alerts.errorRateWarning = 0.1: not below errorRateCritical (0.05)" in str(err.value)


def test_gpu_memory_alert_below_vllm_reservation_warns():
    lc = loaded([{**VLLM, "gpuMemoryUtilization": 0.95}])
    (line,) = [w for w in lc.warning_lines() if "gpuMemoryUsage" in w]
    assert "SlmGpuMemoryHigh would never clear" in line and "servers[0] (phi)" in line
    assert not [w for w in loaded([VLLM]).warning_lines() if "gpuMemoryUsage" in w]


def test_prod_warnings_for_single_prometheus_and_monitoring_off():
    prod = {"environment": "prod"}
    lines = " ".join(loaded([{**VLLM, "revision": "a" * 40}], **prod).warning_lines())
    assert "slmkit:monitoring.prometheusReplicas = 1" in lines
    unscaled = {**VLLM, "revision": "a" * 40, "autoscaling": {"enabled": False}}  # autoscaling needs Prometheus
    off = " ".join(loaded([unscaled], monitoring={"enabled": False}, **prod).warning_lines())
    assert "slmkit:monitoring.enabled = False: production without metrics" in off
