"""The load test in the offline plans: the `local` stack's gate Job, and a test stack with the
gateway and the Locust UI on (its manifests checked here with kubernetes-validate and checkov,
since the global manifest test covers only stacks/)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from components.loadtest import gate
from components.offline import scan
from tests.fixtures.plans import REPO, render_plan

from .helpers import GATEWAY_UI_STACK, LOCAL_STACK, config, loadtest_manifests, raw_config


@pytest.fixture(scope="module")
def local_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    proc = render_plan(["--config-file", str(LOCAL_STACK)], out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out



def test_local_plan_has_the_gate_job_with_its_key_file(local_plan):
    objs = loadtest_manifests(local_plan)
    jobs = [o for (kind, _), o in objs.items() if kind == "Job"]
    assert len(jobs) == 1 and jobs[0]["metadata"]["name"].startswith("gate-qwen-")
    pod = jobs[0]["spec"]["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert args[:2] == ["run", "--host"] and "--api-key-file" in args
    assert {v["name"] for v in pod["volumes"]} == {"tmp", "results", "api-key", "api-token"}
    assert ("Secret", "slmkit-server-api-key") in objs  # what the key volume mounts
    assert pod["automountServiceAccountToken"] is False and pod["securityContext"]["runAsUser"] == 10001
    text = yaml.safe_dump(jobs[0])
    assert "offline-generated" not in text  # the mock's generated key value never reaches the Job


def test_gateway_ui_plan_has_ui_login_and_gateway_key(gateway_ui_plan):
    objs = loadtest_manifests(gateway_ui_plan)
    master, worker = objs[("Deployment", "locust-master")], objs[("Deployment", "locust-worker")]
    assert worker["spec"]["replicas"] == 2
    m = master["spec"]["template"]["spec"]["containers"][0]
    w = worker["spec"]["template"]["spec"]["containers"][0]
    assert "--master" in m["args"] and "--web-login" in m["args"]
    assert m["args"][m["args"].index("--expect-workers") + 1] == "2"
    assert "--class-picker" in m["args"]
    assert "--worker" in w["args"]
    assert w["args"][w["args"].index("--master-host") + 1].startswith("locust-master.slmkit-loadtest.")
    assert w["args"][w["args"].index("--master-port") + 1] == "5557"
    env = {e["name"]: e for e in m["env"]}
    assert env["SLMKIT_WEB_PASSWORD_FILE"]["value"].startswith("/var/run/slmkit/locust-login/")
    login_volume = next(v for v in master["spec"]["template"]["spec"]["volumes"] if v["name"] == "login")
    assert login_volume["secret"]["secretName"] == "slmkit-locust-login"
    assert set(objs[("Secret", "slmkit-locust-login")]["stringData"]) == {"password", "session-key"}
    svc = objs[("Service", "locust-master")]
    assert svc["spec"]["type"] == "ClusterIP" and {p["port"] for p in svc["spec"]["ports"]} == {8089, 5557}
    assert set(objs[("Secret", "slmkit-loadtest-gateway-key")]["stringData"]) == {"api-key"}
    for c in (m, w):
        assert all("valueFrom" not in e for e in c["env"]), "keys come from files, not env"
    jobs = sorted(name for kind, name in objs if kind == "Job")
    assert [j.split("-")[1] for j in jobs] == ["phi4mini", "qwen"]


def test_gateway_ui_plan_marks_generated_secrets_and_exports_the_login(gateway_ui_plan):
    records = json.loads((gateway_ui_plan / "resources.json").read_text())
    names = {r["name"] for r in records}
    assert {"locust-ui-password", "locust-ui-session-key"} <= names
    plan = (gateway_ui_plan / "plan.txt").read_text()
    assert "offline-generated" not in plan


def test_gateway_ui_manifests_pass_kubernetes_validate_and_checkov(gateway_ui_plan, tmp_path):
    objs = scan.load_manifests(gateway_ui_plan / "manifests")
    assert not scan.validate_core(objs)
    scan_dir = tmp_path / "m"
    scan_dir.mkdir()
    for path in (gateway_ui_plan / "manifests").glob("slmkit-loadtest__*.yaml"):
        (scan_dir / path.name).write_text(path.read_text())
    failed, passed = scan.run_checkov(scan_dir)
    assert not failed, "\n".join(failed)
    assert passed > 50


def test_gate_jobs_wait_for_servers_and_gateway_and_outlast_their_deadline():
    proc = subprocess.run([sys.executable, "-m", "tests.loadtest_component.record_options", str(GATEWAY_UI_STACK)],
                          check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = json.loads(proc.stdout)
    cfg = config(raw_config(GATEWAY_UI_STACK))
    jobs = [r for r in records if r["type"] == "kubernetes:batch/v1:Job" and "/gate-" in r["name"]]
    assert len(jobs) == 2
    for job in jobs:
        deps = job["dependencies"]
        assert any(d.endswith("Deployment::slmkit-models/phi4mini") for d in deps)
        assert any(d.endswith("Deployment::slmkit-models/qwen") for d in deps)
        assert any("slmkit:traffic:Traffic$" in d and "Gateway::" in d for d in deps), "the gateway must be up first"
        assert any(d.endswith("Secret::slmkit-loadtest/slmkit-loadtest-gateway-key") for d in deps)
        seconds = int(job["timeouts"]["create"].rstrip("s"))
        assert seconds > gate.deadline_seconds(cfg) and job["timeouts"]["update"] == job["timeouts"]["create"]
