"""The gate Job as the pure builder makes it: arguments, key wiring, name hash, deadlines."""

from __future__ import annotations

import pytest
import yaml

from components.endpoints import server_endpoints
from components.loadtest import common, gate
from tests.fixtures.plans import REPO

from .helpers import (
    GATEWAY_UI_STACK,
    LOCAL_STACK,
    changed,
    config,
    endpoint,
    raw_config,
)


def container(job: dict) -> dict:
    return job["spec"]["template"]["spec"]["containers"][0]


def test_local_gate_calls_the_server_directly_with_the_server_key_file():
    cfg = config(raw_config(LOCAL_STACK))
    [job] = gate.gate_jobs(cfg, server_endpoints(cfg))
    c = container(job)
    assert c["command"] == ["python", "-m", "loadtests"]
    assert c["args"] == ["run", "--host", "http://qwen.slmkit-models.svc.cluster.local:11434",
                         "--out", "/results", "--api-key-file", "/var/run/slmkit/api-key/api-key",
                         "--profile", "local", "--model", "qwen2.5:0.5b", "--skip-content-checks", "*"]
    assert c["args"][7:] == gate.gate_options(cfg, server_endpoints(cfg)[0])  # what `make loadtest` passes too
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes["api-key"]["secret"]["secretName"] == "slmkit-server-api-key"
    assert volumes["results"] == {"name": "results", "emptyDir": {"sizeLimit": "1Gi"}}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert mounts["/results"] == "results" and mounts["/var/run/slmkit/api-key"] == "api-key"
    # Nothing secret in the environment: plain values and the pod's own labels, no Secret references.
    assert all(set(e.get("valueFrom", {"fieldRef": None})) == {"fieldRef"} for e in c["env"])
    assert job["spec"]["backoffLimit"] == 0
    assert job["metadata"]["namespace"] == cfg.namespaces.loadtest


def test_gateway_gate_uses_a_gateway_key_and_expects_tools_only_from_tool_capable_servers():
    cfg = config(raw_config(GATEWAY_UI_STACK))
    jobs = {j["metadata"]["labels"]["app.kubernetes.io/instance"]: j for j in gate.gate_jobs(cfg, server_endpoints(cfg))}
    phi, qwen = container(jobs["phi4mini"])["args"], container(jobs["qwen"])["args"]
    gateway = "https://slmkit-gateway.slmkit-system.svc.cluster.local"  # the EnvoyProxy's named Service
    assert phi[phi.index("--host") + 1] == qwen[qwen.index("--host") + 1] == gateway
    assert phi[phi.index("--model") + 1] == "phi-4-mini"
    assert [phi[i + 1] for i, a in enumerate(phi) if a == "--expect-tools"] == ["phi-4-mini"]
    assert "--expect-tools" not in qwen  # Ollama does not parse tool calls
    assert "--no-smoke" in phi and "--skip-content-checks" not in phi
    key_volume = next(v for v in jobs["qwen"]["spec"]["template"]["spec"]["volumes"] if v["name"] == "api-key")
    assert key_volume["secret"]["secretName"] == common.GATEWAY_KEY_SECRET


def test_a_public_hostname_is_dialled_by_name():
    raw = changed(raw_config(GATEWAY_UI_STACK), "gateway", "hostname", "llm.example.org")
    cfg = config(raw)
    args = container(gate.gate_job(cfg, endpoint(cfg, "qwen")))["args"]
    assert args[args.index("--host") + 1] == "https://llm.example.org"


def test_job_name_changes_with_the_server_spec_and_gate_options_only():
    raw = raw_config(GATEWAY_UI_STACK)
    cfg = config(raw)
    names = {ep.name: gate.job_name(cfg, ep) for ep in server_endpoints(cfg)}
    assert names["phi4mini"].startswith("gate-phi4mini-") and names["qwen"].startswith("gate-qwen-")

    def names_for(new_raw):
        c = config(new_raw)
        return {ep.name: gate.job_name(c, ep) for ep in server_endpoints(c)}

    # A change to one server re-runs that server's gate, not the other's.
    bumped = names_for(changed(raw, "servers", 0, "maxNumSeqs", 4))
    assert bumped["phi4mini"] != names["phi4mini"] and bumped["qwen"] == names["qwen"]
    image = names_for(changed(raw, "servers", 1, "resources", {"cpu": "3", "memory": "3Gi"}))
    assert image["qwen"] != names["qwen"] and image["phi4mini"] == names["phi4mini"]
    # Another profile is another verdict.
    assert names_for(changed(raw, "loadtest", "profile", "staging")) != names
    # Unrelated changes keep the passed gates.
    assert names_for(changed(raw, "loadtest", "ui", {"enabled": False})) == names
    assert names_for(changed(raw, "monitoring", "enabled", True)) == names
    assert names_for(raw) == names


def test_deadline_covers_the_profile_and_the_smoke_suite():
    profile = yaml.safe_load((REPO / "loadtests" / "profiles" / "dev.yaml").read_text())
    measured = profile["load"]["duration_s"] + profile["load"].get("warmup_s", 5)
    raw = raw_config(GATEWAY_UI_STACK)
    without_smoke = gate.deadline_seconds(config(raw))
    with_smoke = gate.deadline_seconds(config(changed(raw, "loadtest", "smoke", True)))
    assert measured < without_smoke < with_smoke
    job = gate.gate_job(config(raw), endpoint(config(raw), "qwen"))
    assert job["spec"]["activeDeadlineSeconds"] == without_smoke


def test_gate_off_declares_no_job():
    cfg = config(changed(raw_config(LOCAL_STACK), "loadtest", "gate", False))
    assert gate.gate_jobs(cfg, server_endpoints(cfg)) == []


def test_an_unknown_profile_is_a_config_error_naming_the_built_in_ones():
    from components.config import ConfigError

    with pytest.raises(ConfigError, match="built-in load-test profile.*local"):
        config(changed(raw_config(LOCAL_STACK), "loadtest", "profile", "/home/me/my-profile.yaml"))
