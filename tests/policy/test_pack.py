"""The policy pack as the Pulumi CLI runs it: `policy/__main__.py` started from the pack folder,
spoken to over the analyzer gRPC protocol (the CLI is not installable here)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
import yaml
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from policy.rules import RULES

from .factories import DIGEST, container, deployment

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / "policy"
PROD_URN = "urn:pulumi:prod::slmkit::kubernetes:apps/v1:Deployment::slmkit-models/phi"


@pytest.fixture(scope="module")
def analyzer():
    # `python policy` runs policy/__main__.py with the pack folder first on sys.path, as the
    # CLI's Python language host does. The pack prints its gRPC port and serves until killed.
    proc = subprocess.Popen([sys.executable, str(PACK)], cwd=PACK, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), f"the pack did not start: {proc.stderr.read() if proc.poll() is not None else port}"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        proc.kill()
        proc.wait()


def props(resource) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(dict(resource.inputs))
    return s


def analyze(stub, resource, urn=PROD_URN):
    request = analyzer_pb2.AnalyzeRequest(type=resource.type, properties=props(resource), urn=urn, name=resource.name)
    return stub.Analyze(request).diagnostics


def test_pack_lists_every_rule_with_its_level(analyzer):
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    levels = {p.name: p.enforcementLevel for p in info.policies}
    expected = {r.name: analyzer_pb2.MANDATORY if r.level == "mandatory" else analyzer_pb2.ADVISORY for r in RULES}
    assert info.name == "slmkit" and levels == expected


def test_pack_reports_violations_of_resource_rules(analyzer):
    root = deployment(containers=[container(securityContext={"readOnlyRootFilesystem": True})])
    found = {(d.policyName, d.enforcementLevel) for d in analyze(analyzer, root)}
    assert ("container-security-context", analyzer_pb2.MANDATORY) in found
    assert ("model-server-image-digest", analyzer_pb2.ADVISORY) in found  # prod from the URN's stack name


def test_pack_passes_a_pinned_hardened_server_and_relaxes_digest_outside_prod(analyzer):
    pinned = deployment(containers=[container(image=f"docker.io/vllm/vllm-openai:v0.18.2@{DIGEST}")])
    assert list(analyze(analyzer, pinned)) == []
    assert list(analyze(analyzer, deployment(), PROD_URN.replace(":prod::", ":dev::"))) == []


def test_pack_runs_stack_rules(analyzer):
    resources = [analyzer_pb2.AnalyzerResource(type=r.type, properties=props(r), urn=PROD_URN, name=r.name)
                 for r in [deployment(containers=[container(image=f"x/y:1@{DIGEST}")])]]
    names = {d.policyName for d in analyzer.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=resources)).diagnostics}
    assert names == {"model-server-behind-gateway", "namespace-network-policy"}


def test_pack_project_file_and_pins_match_the_kit():
    project = yaml.safe_load((PACK / "PulumiPolicy.yaml").read_text())
    assert project["runtime"]["name"] == "python"
    pins = dict(re.findall(r"^([a-z-]+)==(\S+)$", (PACK / "requirements.txt").read_text(), re.MULTILINE))
    pyproject = (REPO / "pyproject.toml").read_text()
    for package, version in pins.items():
        assert f'"{package}=={version}"' in pyproject, f"{package}=={version} differs from pyproject.toml"


@pytest.fixture
def stack_config():
    from pulumi.runtime import config as runtime_config

    saved = dict(runtime_config.CONFIG.get())
    runtime_config.set_all_config({})  # start empty: other tests in this process run whole programs
    yield runtime_config.set_config
    runtime_config.set_all_config(saved)


def test_environment_comes_from_stack_config_then_stack_name(stack_config):
    from policy.rules.pack import stack_environment

    assert stack_environment("urn:pulumi:staging::slmkit::kubernetes:apps/v1:Deployment::x") == "staging"
    assert stack_environment("urn:pulumi:team-a::slmkit::kubernetes:apps/v1:Deployment::x") == "prod"  # unknown: strictest
    stack_config("slmkit:environment", "dev")
    assert stack_environment("urn:pulumi:team-a::slmkit::kubernetes:apps/v1:Deployment::x") == "dev"
