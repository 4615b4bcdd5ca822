"""On AKS a gateway without a hostname of its own is called from outside by an Azure DNS name, and
its private-CA certificate names it: the runner-side gate of deploy-stack.yml can verify dev/staging."""

from __future__ import annotations

import re

import pytest

from components.catalog import upstream
from tests.platform.harness import run, stack_raw

from .configs import problems

LABEL_TYPE = "random:index/randomString:RandomString"
MOCK_SUFFIX = "offln1"  # what the offline engine's mocks give every RandomString (components/offline/mocks.py)


def proxy_service(r) -> dict:
    return r.manifest("EnvoyProxy", "slmkit-proxy")["spec"]["provider"]["kubernetes"]["envoyService"]


@pytest.fixture(scope="module")
def dev():
    return run(stack_raw("dev"), "dev")


def test_dev_gateway_gets_an_azure_name_that_the_certificate_and_the_url_output_carry(dev):
    label = f"slmkit-dev-{MOCK_SUFFIX}"
    fqdn = f"{label}.eastus2.cloudapp.azure.com"
    made = dev.inputs(LABEL_TYPE, "gateway-dns-label")
    assert (made["length"], made["upper"], made["special"]) == (8, False, False)
    assert proxy_service(dev)["annotations"] == {"service.beta.kubernetes.io/azure-dns-label-name": label}
    assert fqdn in dev.manifest("Certificate", "slmkit-gateway")["spec"]["dnsNames"]
    assert dev.outputs["gatewayUrl"] == (f"https://{fqdn}/v1", False)
    # In-cluster clients (the gate Job) keep calling the proxy Service, which the certificate names too.
    jobs = [r for r in dev.records if r["type"] == "kubernetes:batch/v1:Job"
            and r["inputs"]["metadata"]["name"].startswith("gate-")]
    assert jobs and all(j["inputs"]["metadata"]["annotations"]["slmkit.io/gate-target"]
                        == "https://slmkit-gateway.slmkit-system.svc.cluster.local" for j in jobs)


def test_a_chosen_label_replaces_the_random_one():
    raw = stack_raw("staging")
    raw["gateway"] = {**raw.get("gateway", {}), "azureDnsLabel": "team-llm-staging"}
    r = run(raw, "staging")
    assert not [x for x in r.of_type(LABEL_TYPE) if x["name"] == "gateway-dns-label"]
    assert proxy_service(r)["annotations"] == {"service.beta.kubernetes.io/azure-dns-label-name": "team-llm-staging"}
    location = r.loaded.stack.cluster.location
    assert r.outputs["gatewayUrl"][0] == f"https://team-llm-staging.{location}.cloudapp.azure.com/v1"


def test_a_gateway_with_its_own_hostname_gets_no_azure_name():
    r = run(stack_raw("prod"), "prod")
    assert "annotations" not in proxy_service(r)
    assert not [x for x in r.of_type(LABEL_TYPE) if x["name"] == "gateway-dns-label"]
    assert r.outputs["gatewayUrl"] == ("https://llm.example.com/v1", False)


def test_the_generated_labels_follow_azures_rule():
    rule = re.compile(upstream.AZURE_DNS_LABEL_PATTERN.value)
    for env in ("dev", "staging", "prod"):
        for suffix in ("00000000", "zzzzzzzz", "a1b2c3d4"):
            assert rule.match(f"slmkit-{env}-{suffix}")


@pytest.mark.parametrize("label", ["Team-LLM", "9llm", "llm-", "ab", "a" * 64, "llm.example"])
def test_a_label_azure_would_refuse_is_a_preview_error(label):
    (line,) = [x for x in problems(gateway={"azureDnsLabel": label}) if "azureDnsLabel" in x]
    assert line.startswith("stacks/Pulumi.test.yaml: slmkit:gateway.azureDnsLabel")


def test_a_label_where_no_azure_name_is_made_is_refused():
    # configs.loaded() is an existing cluster: there is no Azure load balancer to name.
    (line,) = [x for x in problems(gateway={"azureDnsLabel": "team-llm"}) if "azureDnsLabel" in x]
    assert "team-llm" in line and "AKS gateway on a LoadBalancer" in line and "remove azureDnsLabel" in line
