"""The chat UI: release values and wiring from the pure builders, and the offline plan of a test
stack with it on (release pinned, Secret wiring, route, NetworkPolicies; schemas and checkov)."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest
import yaml

from components import chat_ui
from components.catalog.charts import CHARTS
from components.config import ConfigError, load_from_file, validate_raw
from components.offline import scan
from components.traffic import gateway as traffic_gateway
from tests.fixtures.plans import REPO, render_plan

STACK = Path(__file__).resolve().parent / "stacks" / "Pulumi.chat.yaml"
OIDC = {"providerUrl": "https://login.example.org/.well-known/openid-configuration", "clientId": "slmkit-chat"}


def raw() -> dict:
    return load_from_file(str(STACK))[1]


def cfg_with(**chat_ui_changes):
    r = copy.deepcopy(raw())
    r["chatUi"] = {**r["chatUi"], **chat_ui_changes}
    return validate_raw(r, "test", set()).stack


def env_of(values: dict) -> dict[str, dict]:
    return {e["name"]: e for e in values["extraEnvVars"]}


@pytest.fixture(scope="module")
def plan(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("chat")
    proc = render_plan(["--config-file", str(STACK)], out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_values_keep_keys_in_the_secret_and_turn_signup_and_downloads_off():
    values = chat_ui.release_values(cfg_with())
    env = env_of(values)
    for name, field in (("WEBUI_SECRET_KEY", "webui-secret-key"), ("OPENAI_API_KEY", "openai-api-key")):
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "slmkit-chat-ui", "key": field}
    assert values["openaiApiKey"] == ""  # the chart's default key must not be used
    assert env["ENABLE_SIGNUP"]["value"] == "False" and env["OFFLINE_MODE"]["value"] == "True"
    assert env["WEBUI_URL"]["value"] == "https://chat.example.org"
    assert values["openaiBaseApiUrl"] == "https://llm.example.org/v1"  # the gateway, by its public name
    assert not values["ollama"]["enabled"] and not values["pipelines"]["enabled"]
    assert values["persistence"]["enabled"] and values["persistence"]["storageClass"] == "managed-csi"
    assert values["podSecurityContext"]["runAsUser"] == 10001
    c = values["containerSecurityContext"]
    assert c["readOnlyRootFilesystem"] and c["capabilities"] == {"drop": ["ALL"]} and not c["allowPrivilegeEscalation"]
    assert values["serviceAccount"]["automountServiceAccountToken"] is False
    assert values["service"]["type"] == "ClusterIP"


def test_oidc_replaces_the_login_form_and_reads_the_client_secret_from_the_secret():
    values = chat_ui.release_values(cfg_with(oidc=OIDC))
    oidc = values["sso"]["oidc"]
    assert values["sso"]["enabled"] and oidc["enabled"] and oidc["clientId"] == "slmkit-chat"
    assert (oidc["clientExistingSecret"], oidc["clientExistingSecretKey"]) == ("slmkit-chat-ui", "oidc-client-secret")
    assert "clientSecret" not in oidc
    assert env_of(values)["ENABLE_LOGIN_FORM"]["value"] == "False"
    egress = chat_ui.network_policies(cfg_with(oidc=OIDC))[-1]["spec"]["egress"]
    assert any(rule["ports"] == [{"protocol": "TCP", "port": 443}] for rule in egress)


def test_oidc_without_a_hostname_is_rejected():
    r = copy.deepcopy(raw())
    r["chatUi"] = {"enabled": True, "oidc": OIDC}
    with pytest.raises(ConfigError, match="redirects the browser"):
        validate_raw(r, "test", set())


def test_chat_ui_needs_the_gateway_and_trusted_tls_in_prod():
    r = copy.deepcopy(raw())
    r["gateway"] = {"enabled": False}
    with pytest.raises(ConfigError, match="slmkit:chatUi.enabled"):
        validate_raw(r, "test", set())
    r = copy.deepcopy(raw())
    r["environment"] = "staging"
    r["gateway"] = {"enabled": True, "tls": {"issuer": "self-signed"}}
    with pytest.raises(ConfigError, match="trusted certificate"):
        validate_raw(r, "test", set())


def test_policies_let_only_the_gateway_in_and_out():
    cfg = cfg_with()
    deny, dns, ui = chat_ui.network_policies(cfg)
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], "ingress": [], "egress": []}
    proxies = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": cfg.namespaces.system}},
               "podSelector": {"matchLabels": traffic_gateway.names.proxy_pod_labels(cfg.namespaces.gateway)}}
    assert ui["spec"]["ingress"] == [{"from": [proxies], "ports": [{"protocol": "TCP", "port": 8080}]}]
    assert ui["spec"]["egress"] == [{"to": [proxies], "ports": [{"protocol": "TCP", "port": 10443}]}]
    assert {p["port"] for rule in dns["spec"]["egress"] for p in rule["ports"]} == {53}


def test_chat_listener_fits_the_gateway_schema(crd_schemas):
    import jsonschema

    cfg = cfg_with()
    gw = traffic_gateway.gateway(cfg)
    gw["spec"]["listeners"] += chat_ui.chat_listeners(cfg)
    schema = json.loads((crd_schemas / "gateway.networking.k8s.io_gateway_v1_strict.json").read_text())
    jsonschema.validate(gw, schema)
    [listener] = chat_ui.chat_listeners(cfg)
    assert listener["hostname"] == "chat.example.org" and listener["name"] == "chat-ui"
    assert chat_ui.chat_listeners(cfg_with(hostname=None)) == []


def test_plan_has_the_pinned_release_with_its_values(plan):
    release = yaml.safe_load((plan / "helm" / "open-webui.yaml").read_text())
    pinned = CHARTS["open-webui"]
    assert (release["chart"], release["version"], release["repositoryOpts"]["repo"]) == (pinned.name, pinned.version, pinned.repo)
    assert release["namespace"] == "slmkit-chat"
    assert env_of(release["values"])["OPENAI_API_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "slmkit-chat-ui"
    assert "offline-generated" not in yaml.safe_dump(release)


def test_plan_has_secret_route_certificate_and_policies(plan):
    objs = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o
            for _, o in scan.load_manifests(plan / "manifests")}
    secret = objs[("Secret", "slmkit-chat", "slmkit-chat-ui")]
    assert set(secret["stringData"]) == {"webui-secret-key", "openai-api-key"}
    route = objs[("HTTPRoute", "slmkit-chat", "open-webui")]
    assert route["spec"]["hostnames"] == ["chat.example.org"]
    assert route["spec"]["parentRefs"][0] == {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                                    "name": "slmkit", "namespace": "slmkit-gateway", "sectionName": "chat-ui"}
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == "open-webui"
    cert = objs[("Certificate", "slmkit-gateway", "chat-ui")]
    assert cert["spec"]["dnsNames"] == ["chat.example.org"] and cert["spec"]["issuerRef"]["name"] == "slmkit-letsencrypt"
    ns = objs[("Namespace", None, "slmkit-chat")]
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert {n for k, n_s, n in objs if k == "NetworkPolicy" and n_s == "slmkit-chat"} == {"default-deny", "allow-dns", "chat-ui"}
    records = json.loads((plan / "resources.json").read_text())
    assert "chat-ui-secret-key" in {r["name"] for r in records}  # WEBUI_SECRET_KEY generated by pulumi-random


def test_plan_custom_resources_pass_the_upstream_schemas(plan, crd_schemas):
    import jsonschema

    mine = [(n, o) for n, o in scan.load_manifests(plan / "manifests") if "chat" in n]
    route_schema = json.loads((crd_schemas / "gateway.networking.k8s.io_httproute_v1_strict.json").read_text())
    jsonschema.validate(next(o for _, o in mine if o["kind"] == "HTTPRoute"), route_schema)
    assert not scan.validate_custom(mine, crd_schemas)


def test_plan_manifests_pass_kubernetes_validate_and_checkov(plan, tmp_path):
    objs = scan.load_manifests(plan / "manifests")
    assert not scan.validate_core(objs)
    for path in (plan / "manifests").glob("*chat*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    failed, _ = scan.run_checkov(tmp_path)
    assert not failed, "\n".join(failed)


def test_prod_with_the_chat_ui_on_serves_it_behind_trusted_tls(tmp_path):
    doc = yaml.safe_load((REPO / "stacks" / "Pulumi.prod.yaml").read_text())
    doc["config"]["slmkit:chatUi"] = {"enabled": True, "hostname": "chat.example.com"}
    stack_file = tmp_path / "Pulumi.prod.yaml"
    stack_file.write_text(yaml.safe_dump(doc))
    out = tmp_path / "plan"
    proc = render_plan(["--config-file", str(stack_file)], out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    release = yaml.safe_load((out / "helm" / "open-webui.yaml").read_text())
    assert release["version"] == CHARTS["open-webui"].version
    assert release["values"]["openaiBaseApiUrl"] == "https://llm.example.com/v1"
    objs = {(o["kind"], o["metadata"]["name"]): o for _, o in scan.load_manifests(out / "manifests")}
    assert objs[("HTTPRoute", "open-webui")]["spec"]["hostnames"] == ["chat.example.com"]
    cert = objs[("Certificate", "chat-ui")]
    assert cert["spec"]["issuerRef"]["name"] == "slmkit-letsencrypt"  # trusted, not self-signed
    gateway = objs[("Gateway", "slmkit")]
    assert "chat.example.com" in {listener.get("hostname") for listener in gateway["spec"]["listeners"]}
