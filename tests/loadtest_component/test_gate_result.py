"""The gate's result ConfigMap, its least-privilege access, and the stack output `gate` read back
from it: rendered objects in the offline plans, and the program under the mock engine playing a
cluster where the gate has written its result."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pulumi.runtime import MockResourceArgs, rpc

from components.catalog import upstream
from components.loadtest import common, gate, gate_result
from components.offline.mocks import SlmkitMocks
from components.endpoints import server_endpoints
from components.traffic import network
from components.traffic.network import API_SERVER_PORTS
from loadtests import gate_result as publisher
from tests.fixtures.plans import REPO
from tests.platform.harness import run, stack_raw

from .helpers import GATEWAY_UI_STACK, LOCAL_STACK, config, endpoint, loadtest_manifests, raw_config

NS = "slmkit-loadtest"



def test_result_config_maps_have_no_data_and_the_jobs_labels(gateway_ui_plan):
    objs = loadtest_manifests(gateway_ui_plan)
    jobs = {o["metadata"]["labels"]["app.kubernetes.io/instance"]: o for (kind, _), o in objs.items() if kind == "Job"}
    assert sorted(jobs) == ["phi4mini", "qwen"]
    for server, job in jobs.items():
        cm = objs[("ConfigMap", f"gate-result-{server}")]
        assert set(cm) == {"apiVersion", "kind", "metadata"}, "no data: the gate owns that field, not Pulumi"
        assert cm["metadata"]["labels"] == job["metadata"]["labels"]
        assert len(cm["metadata"]["name"]) <= 63
        container = job["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
        assert env[publisher.TARGET_ENV] == f"{NS}/gate-result-{server}"
        assert env[publisher.JOB_ENV] == job["metadata"]["name"]
        # The Job's UID, from the label the Job controller puts on its pods.
        assert env[publisher.JOB_UID_ENV] == {"fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.labels['batch.kubernetes.io/controller-uid']"}}


def test_the_role_may_only_patch_the_named_result_config_maps(gateway_ui_plan):
    objs = loadtest_manifests(gateway_ui_plan)
    role = objs[("Role", gate_result.ROLE)]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"],
                              "resourceNames": ["gate-result-phi4mini", "gate-result-qwen"], "verbs": ["patch"]}]
    binding = objs[("RoleBinding", gate_result.ROLE)]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": gate_result.ROLE}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": gate_result.SERVICE_ACCOUNT, "namespace": NS}]
    assert ("ServiceAccount", gate_result.SERVICE_ACCOUNT) in objs
    # The kit grants nothing else in the load-test namespace.
    assert sorted(k for k in objs if k[0] in ("Role", "RoleBinding")) == [("Role", gate_result.ROLE), ("RoleBinding", gate_result.ROLE)]


def test_only_the_gate_pods_hold_a_token_and_only_their_own(gateway_ui_plan):
    pods = {name: o["spec"]["template"]["spec"] for (kind, name), o in loadtest_manifests(gateway_ui_plan).items()
            if kind in ("Job", "Deployment")}
    mount_path = upstream.SERVICE_ACCOUNT_TOKEN_VOLUME.value["mount_path"]
    for name, pod in pods.items():
        assert pod["automountServiceAccountToken"] is False, name
        tokens = [v for v in pod["volumes"] if any("serviceAccountToken" in s for s in v.get("projected", {}).get("sources", []))]
        if name.startswith("gate-"):
            assert pod["serviceAccountName"] == gate_result.SERVICE_ACCOUNT
            (volume,) = tokens
            sources = volume["projected"]["sources"]
            assert sources[0]["serviceAccountToken"]["expirationSeconds"] >= 600
            assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
            (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
            assert mount == {"name": volume["name"], "mountPath": mount_path, "readOnly": True}
        else:  # the Locust UI: the shared account, no token
            assert pod["serviceAccountName"] == common.SERVICE_ACCOUNT and not tokens, name
            assert all(m["mountPath"] != mount_path for c in pod["containers"] for m in c.get("volumeMounts", []))
    assert {n for n in pods if not n.startswith("gate-")} == {"locust-master", "locust-worker"}


def test_gate_pods_may_reach_the_api_server_ports_and_nothing_else_is_new(gateway_ui_plan):
    policies = {name: o for (kind, name), o in loadtest_manifests(gateway_ui_plan).items() if kind == "NetworkPolicy"}
    # The same policies as without the gate, plus this one.
    raw = raw_config(GATEWAY_UI_STACK)
    cfg = config({**raw, "loadtest": {**raw["loadtest"], "gate": False}})
    without = {p["metadata"]["name"]: p for p in network.network_policies(cfg, server_endpoints(cfg))
               if p["metadata"]["namespace"] == NS}
    assert set(policies) - set(without) == {"gate-api-server-egress"}
    assert all(policies[name] == without[name] for name in without)
    spec = policies["gate-api-server-egress"]["spec"]
    assert spec["podSelector"] == {"matchLabels": common.labels("gate")}
    assert spec["policyTypes"] == ["Egress"] and "ingress" not in spec
    assert spec["egress"] == [{"ports": [{"protocol": "TCP", "port": p} for p in API_SERVER_PORTS]}]
    job = next(o for (kind, _), o in loadtest_manifests(gateway_ui_plan).items() if kind == "Job")
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert all(labels.get(k) == v for k, v in spec["podSelector"]["matchLabels"].items())


def test_no_result_objects_without_the_gate():
    raw = raw_config(LOCAL_STACK)
    cfg = config({**raw, "loadtest": {**raw.get("loadtest", {}), "gate": False}})
    assert gate_result.objects_for(cfg, [endpoint(cfg, "qwen")]) == []


def test_the_gate_jobs_wait_for_their_account_role_and_config_map():
    proc = subprocess.run([sys.executable, "-m", "tests.loadtest_component.record_options", str(GATEWAY_UI_STACK)],
                          check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = json.loads(proc.stdout)
    jobs = [r for r in records if r["type"] == "kubernetes:batch/v1:Job" and "/gate-" in r["name"]]
    assert len(jobs) == 2
    for job in jobs:
        deps = job["dependencies"]
        for needed in (f"ServiceAccount::{NS}/{gate_result.SERVICE_ACCOUNT}", f"Role::{NS}/{gate_result.ROLE}",
                       f"RoleBinding::{NS}/{gate_result.ROLE}", f"ConfigMap::{NS}/gate-result-phi4mini",
                       f"ConfigMap::{NS}/gate-result-qwen"):
            assert any(d.endswith(needed) for d in deps), needed
    assert not any(r["name"].endswith("/result") for r in records), "the read back is not a declared resource"


# --- the stack output, through the mock engine ---------------------------------------------------

JOB_UID = "5f0c2a9e-0000-4000-8000-00000000a1b2"


class ClusterAfterTheGate(SlmkitMocks):
    """Plays the cluster after `pulumi up` awaited the gate Job: the Job (UID JOB_UID) succeeded and
    the result ConfigMap holds what a gate recorded (for `recorded_job`, `recorded_uid`)."""

    def __init__(self, recorded_job: str | None, record: dict, recorded_uid: str = JOB_UID):
        self.recorded_job, self.recorded_uid, self.record, self.reads = recorded_job, recorded_uid, record, []

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict]:
        rid, state = super().new_resource(args)
        if args.typ == "kubernetes:batch/v1:Job":
            state["metadata"] = {**state["metadata"], "uid": JOB_UID}
            state["status"] = {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}
        return rid, state

    def read(self, args: MockResourceArgs) -> dict:
        self.reads.append((args.typ, args.resource_id))
        if args.typ != "kubernetes:core/v1:ConfigMap" or self.recorded_job is None:
            return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": args.resource_id.split("/")[-1]}}
        data = {publisher.DATA_KEY: json.dumps({**self.record, "job": self.recorded_job, "jobUid": self.recorded_uid})}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": args.resource_id.split("/")[-1]}, "data": data}


RECORD = {"verdict": "pass", "exitCode": 0, "profile": "local", "target": "http://qwen.slmkit-models.svc.cluster.local:11434",
          "ttftMs": {"p50": 180.5, "p95": 320.25}, "tpotMs": {"p50": 25.5, "p95": 31.0}, "outputTokensPerS": 48.2,
          "errorRate": 0.0, "requests": {"ok": 120, "failed": 0, "incomplete": 0}}


def local_job_name() -> str:
    cfg = config(raw_config(LOCAL_STACK))
    return gate.job_name(cfg, endpoint(cfg, "qwen"))


def test_the_stack_output_carries_the_figures_this_job_recorded():
    job = local_job_name()
    mocks = ClusterAfterTheGate(job, RECORD)
    out, secret = run(stack_raw("local"), "local", mocks=mocks, preview=False).outputs["gate"]
    assert not secret
    assert mocks.reads == [("kubernetes:core/v1:ConfigMap", f"{NS}/gate-result-qwen")]
    qwen = out["qwen"]
    assert qwen["job"] == job and qwen["passed"] is True and qwen["profile"] == "local"
    assert qwen["result"] == RECORD


def test_the_stack_output_says_when_the_result_is_another_jobs():
    mocks = ClusterAfterTheGate("gate-qwen-00000000", RECORD)
    out, _ = run(stack_raw("local"), "local", mocks=mocks, preview=False).outputs["gate"]
    assert out["qwen"]["result"] == "not recorded by this Job (the ConfigMap holds the result of gate-qwen-00000000)"
    # Deleted and re-created under the same name (the documented way to rerun a gate): another UID.
    mocks = ClusterAfterTheGate(local_job_name(), RECORD, recorded_uid="0d9b6e4c-0000-4000-8000-0000000000ff")
    out, _ = run(stack_raw("local"), "local", mocks=mocks, preview=False).outputs["gate"]
    assert out["qwen"]["result"] == "not recorded by this Job (the ConfigMap holds the result of an earlier Job of this name)"
    out, _ = run(stack_raw("local"), "local", mocks=ClusterAfterTheGate(None, RECORD), preview=False).outputs["gate"]
    assert out["qwen"]["result"] == "not recorded by this Job"
    assert out["qwen"]["passed"] is True


def test_a_preview_of_an_unchanged_job_shows_its_recorded_result():
    # The Job exists (its status is in the state): the read runs in the preview too.
    out, _ = run(stack_raw("local"), "local", mocks=ClusterAfterTheGate(local_job_name(), RECORD)).outputs["gate"]
    assert out["qwen"]["result"] == RECORD


class RecordingReads(SlmkitMocks):
    def __init__(self):
        self.reads = []

    def read(self, args: MockResourceArgs) -> dict:
        self.reads.append(args.resource_id)
        return super().read(args)


def test_a_preview_of_a_new_job_reads_with_an_unknown_id_and_declares_no_read():
    # The offline plan is a preview in which the Job is new: its status, so the read's ID, is unknown,
    # which the engine skips (upstream.PULUMI_READ_SKIPPED_FOR_UNKNOWN_ID); the output stays unknown.
    mocks = RecordingReads()
    r = run(stack_raw("local"), "local", mocks=mocks)
    assert mocks.reads == [rpc.UNKNOWN]
    assert r.outputs["gate"] == (None, False)
    assert not any(rec["name"].endswith("/result") for rec in r.records)
    assert r.outputs["loadtest"][0]["gateJobs"] == [local_job_name()]


def test_stack_result_parses_only_this_jobs_json():
    assert gate_result.stack_result(None, "j", "u") == gate_result.NOT_RECORDED
    assert gate_result.stack_result({publisher.DATA_KEY: "not json"}, "j", "u").startswith(gate_result.NOT_RECORDED)
    mine = {publisher.DATA_KEY: json.dumps({"job": "j", "jobUid": "u", "verdict": "fail"})}
    assert gate_result.stack_result(mine, "j", "u") == {"verdict": "fail"}
    assert gate_result.stack_result(mine, "j", "other-uid").startswith(gate_result.NOT_RECORDED)


def test_make_deploy_prints_the_figures_from_the_stack_output():
    from components.gate_report import report

    r = run(stack_raw("local"), "local", mocks=ClusterAfterTheGate(local_job_name(), RECORD), preview=False)
    lines = report({name: value for name, (value, _) in r.outputs.items()}, failed=False)
    assert lines[0] == f"gate: passed ({local_job_name()})"
    assert lines[1] == ("  qwen: PASS (exit 0), profile local: TTFT p50/p95 180.5/320.2 ms, TPOT p50/p95 25.5/31 ms, "
                        "48.2 tok/s, error rate 0.00%, requests ok 120 failed 0")
    stale = run(stack_raw("local"), "local", mocks=ClusterAfterTheGate("gate-qwen-00000000", RECORD), preview=False)
    lines = report({name: value for name, (value, _) in stale.outputs.items()}, failed=False)
    assert lines[1].startswith("  qwen: not recorded by this Job")
