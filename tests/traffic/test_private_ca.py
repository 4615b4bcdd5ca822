"""Without a public CA the stack is its own: the gate trusts the gateway's certificate through the
kit's CA, and stacks with Let's Encrypt need none of it."""

from __future__ import annotations

import yaml

from components.traffic import names


def load(plan, filename):
    return yaml.safe_load((plan / "manifests" / filename).read_text())


def gate_job(plan):
    """The first server's gate Job (one per server)."""
    paths = sorted((plan / "manifests").glob("slmkit-loadtest__job__gate-*.yaml"))
    assert paths, "no gate Job rendered"
    return yaml.safe_load(paths[0].read_text())


def test_self_signed_gateway_is_signed_by_the_kits_ca_and_the_gate_trusts_it(rendered_plans):
    plan = rendered_plans["dev"]
    issuer = load(plan, f"slmkit-gateway__issuer__{names.SELF_SIGNED_ISSUER}.yaml")
    assert issuer["spec"] == {"ca": {"secretName": names.CA_SECRET}}
    ca = load(plan, f"slmkit-gateway__secret__{names.CA_SECRET}.yaml")
    assert ca["type"] == "kubernetes.io/tls" and set(ca["stringData"]) == {"tls.crt", "tls.key"}
    assert ca["stringData"]["tls.key"] == "<redacted>"
    bundle = load(plan, f"slmkit-loadtest__configmap__{names.CA_BUNDLE}.yaml")
    assert "BEGIN CERTIFICATE" in bundle["data"][names.CA_BUNDLE_KEY]
    pod = gate_job(plan)["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    assert env["SSL_CERT_FILE"] == f"{mounts['gateway-ca']}/{names.CA_BUNDLE_KEY}"
    assert {"name": "gateway-ca", "configMap": {"name": names.CA_BUNDLE, "defaultMode": 292}} in pod["volumes"]


def test_lets_encrypt_stacks_use_the_public_trust_store(rendered_plans):
    plan = rendered_plans["prod"]
    assert not list((plan / "manifests").glob(f"*__{names.CA_BUNDLE}.yaml"))
    env = {e["name"] for e in gate_job(plan)["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "SSL_CERT_FILE" not in env
