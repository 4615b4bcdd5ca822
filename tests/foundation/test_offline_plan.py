"""The offline plan: what a stack declares, written for review, and refused on bad config."""

from __future__ import annotations

import json

import yaml

from tests.fixtures.plans import REPO, STACKS, render_plan


def test_every_stack_renders_resources_and_a_plan(rendered_plans):
    for stack in STACKS:
        plan = rendered_plans[stack]
        resources = json.loads((plan / "resources.json").read_text())
        assert {"type", "name", "urn", "parent", "inputs"} <= set(resources[0])
        types = {r["type"] for r in resources}
        assert "kubernetes:apps/v1:Deployment" in types
        # Every in-cluster resource hangs under a component, not loose at the root.
        loose = [r["name"] for r in resources if r["type"].startswith("kubernetes:") and "::pulumi:pulumi:Stack::" in r["parent"]
                 and r["type"] != "pulumi:providers:kubernetes"]
        assert not loose, loose
        text = (plan / "plan.txt").read_text()
        assert "Resources by type" in text and "startup budget:" in text


def test_plan_shows_gpu_capacity_figures_for_vllm(rendered_plans):
    text = (rendered_plans["dev"] / "plan.txt").read_text()
    assert "GPU T4 x1 (float16): weights 7.2 GiB" in text
    assert "headroom" in text


def test_invalid_config_exits_2_lists_every_problem_and_writes_nothing(tmp_path):
    doc = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())
    server = doc["config"]["slmkit:servers"][0]
    server.update({"tensorParallel": 4, "replicas": {"min": 3, "max": 1}})
    bad = tmp_path / "Pulumi.broken.yaml"
    bad.write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    proc = render_plan(["--config-file", str(bad)], out)
    assert proc.returncode == 2, proc.stderr
    assert "slmkit:servers[0].tensorParallel = 4" in proc.stderr
    assert "slmkit:servers[0].replicas.min = 3" in proc.stderr
    assert not out.exists()


def test_the_impossible_t4_stack_from_the_issue_is_refused_before_anything_is_declared(tmp_path):
    doc = yaml.safe_load((REPO / "stacks" / "Pulumi.dev.yaml").read_text())
    doc["config"]["slmkit:servers"][0].update(
        {"model": "Qwen/Qwen2.5-7B-Instruct", "dtype": "bfloat16", "maxModelLen": 32768, "servedModelName": "qwen7b"})
    bad = tmp_path / "Pulumi.t4.yaml"
    bad.write_text(yaml.safe_dump(doc))
    proc = render_plan(["--config-file", str(bad)], tmp_path / "out")
    assert proc.returncode == 2
    assert "slmkit:servers[0].dtype = bfloat16: T4" in proc.stderr
    assert "slmkit:servers[0].maxModelLen = 32768" in proc.stderr


def test_unknown_stack_names_the_known_ones(tmp_path):
    proc = render_plan(["--stack", "nope"], tmp_path / "out")
    assert proc.returncode == 2
    assert "stacks here: " in proc.stderr and "local" in proc.stderr


def test_secure_values_become_marked_secrets_never_plain(tmp_path):
    """A `secure:` value (encrypted by the Pulumi CLI) reaches the cluster only as a Secret."""
    doc = yaml.safe_load((REPO / "stacks" / "Pulumi.local.yaml").read_text())
    doc["config"]["slmkit:hfToken"] = {"secure": "v1:AAAAencryptedAAAA"}
    f = tmp_path / "Pulumi.withtoken.yaml"
    f.write_text(yaml.safe_dump(doc))
    out = tmp_path / "out"
    proc = render_plan(["--config-file", str(f)], out)
    assert proc.returncode == 0, proc.stderr
    secret = yaml.safe_load((out / "manifests" / "slmkit-models__secret__slmkit-hf-token.yaml").read_text())
    assert secret["stringData"] == {"token": "<redacted>"}
    everything = (out / "resources.json").read_text() + "".join(p.read_text() for p in (out / "manifests").glob("*"))
    assert "<secret slmkit:hfToken>" not in everything and "AAAAencrypted" not in everything
    deployment = yaml.safe_load((out / "manifests" / "slmkit-models__deployment__qwen.yaml").read_text())
    pod = deployment["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["HF_TOKEN_PATH"] == "/var/run/slmkit/hf-token/token"
    assert {"name": "hf-token", "secret": {"secretName": "slmkit-hf-token", "defaultMode": 288}} in pod["volumes"]
