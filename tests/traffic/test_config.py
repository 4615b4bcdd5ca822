"""Config validation for the traffic sections: each mistake is an error (or warning) that names the
key, the value and the fix."""

from __future__ import annotations

from .configs import OLLAMA, ONNX, VLLM, problems, server, warnings


def _one(lines: list[str], key: str) -> str:
    hits = [line for line in lines if f": {key} = " in line]
    assert len(hits) == 1, lines
    return hits[0]


def test_rate_limit_without_a_gateway_is_an_error():
    line = _one(problems(gateway={"enabled": False, "rateLimit": {"tokensPerMinute": 1000}}), "slmkit:gateway.rateLimit")
    assert "enforced by the gateway, which is off" in line and "set slmkit:gateway.enabled: true" in line


def test_min_replicas_above_max_is_an_error():
    line = _one(problems([server(VLLM, replicas={"min": 3, "max": 2})]), "slmkit:servers[0].replicas.min")
    assert "above replicas.max (2)" in line


def test_scale_to_zero_in_prod_is_a_warning_with_the_cold_start_reason():
    servers = [server(VLLM, replicas={"min": 0, "max": 2}, autoscaling={"scaleToZero": True})]
    gateway = {"hostname": "llm.example.com", "tls": {"issuer": "letsencrypt", "email": "ops@example.com"}}
    servers[0]["revision"] = "0123456789abcdef0123456789abcdef01234567"
    line = _one(warnings(servers, environment="prod", gateway=gateway), "slmkit:servers[0].autoscaling.scaleToZero")
    assert "cold start" in line
    dev = warnings([server(VLLM, replicas={"min": 0, "max": 2}, autoscaling={"scaleToZero": True})])
    assert not [w for w in dev if "scaleToZero" in w]


def test_a_metric_the_engine_does_not_emit_is_an_error():
    line = _one(problems([server(ONNX, autoscaling={"kvCacheThreshold": 0.8})]), "slmkit:servers[0].autoscaling.kvCacheThreshold")
    assert "onnx does not report KV-cache usage" in line


def test_ollama_autoscaling_needs_the_gateway_metrics():
    line = _one(problems([server(OLLAMA)], gateway={"enabled": False}), "slmkit:servers[0].autoscaling.enabled")
    assert "Ollama emits no metrics" in line and "replicas.max: 1" in line
    assert problems([server(OLLAMA, replicas={"min": 1, "max": 1})], gateway={"enabled": False}) == []


def test_scale_to_zero_needs_the_gateway_to_wake_the_server():
    servers = [server(ONNX, replicas={"min": 0, "max": 2}, autoscaling={"scaleToZero": True})]
    line = _one(problems(servers, gateway={"enabled": False}), "slmkit:servers[0].autoscaling.scaleToZero")
    assert "only the gateway's request count can wake it" in line


def test_autoscaling_needs_prometheus():
    line = _one(problems([server(VLLM)], monitoring={"enabled": False}), "slmkit:servers[0].autoscaling.enabled")
    assert "Prometheus" in line and "monitoring.enabled: true" in line
    assert problems([server(VLLM, replicas={"min": 1, "max": 1})], monitoring={"enabled": False}) == []


def test_fallback_replicas_must_lie_within_the_bounds():
    line = _one(problems([server(VLLM, autoscaling={"fallbackReplicas": 5})]), "slmkit:servers[0].autoscaling.fallbackReplicas")
    assert "outside replicas.min..max (1..3)" in line


def test_lets_encrypt_needs_email_hostname_and_a_reachable_gateway():
    lines = problems(gateway={"tls": {"issuer": "letsencrypt"}, "serviceType": "ClusterIP"})
    assert "Let's Encrypt needs a contact email" in _one(lines, "slmkit:gateway.tls.email")
    assert "issues certificates for a DNS name" in _one(lines, "slmkit:gateway.hostname")
    assert "HTTP-01" in _one(lines, "slmkit:gateway.serviceType")


def test_gateway_keys_hostnames_and_buffers_are_checked_where_written():
    assert "must be unique" in _one(problems(gateway={"apiKeyNames": ["a", "a"]}), "slmkit:gateway.apiKeyNames")
    assert "lowercase" in _one(problems(gateway={"apiKeyNames": ["Team_A"]}), "slmkit:gateway.apiKeyNames")
    assert "not a DNS name" in _one(problems(gateway={"hostname": "https://llm.example.com"}), "slmkit:gateway.hostname")
    assert "32Ki" in _one(problems(gateway={"requestBufferLimit": "16Ki"}), "slmkit:gateway.requestBufferLimit")
    assert "did you mean rateLimit" in _one(problems(gateway={"ratelimit": {"tokensPerMinute": 5}}), "slmkit:gateway.ratelimit")


def test_self_signed_certificate_in_prod_is_a_warning():
    servers = [server(VLLM, revision="0123456789abcdef0123456789abcdef01234567")]
    line = _one(warnings(servers, environment="prod"), "slmkit:gateway.tls.issuer")
    assert "cannot verify a self-signed certificate" in line
