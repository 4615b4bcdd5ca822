"""The gateway's public facts (components/traffic/access.py): one home that the load test and the
chat UI read, no import circle between them and the gateway, and the gate waits for the gateway's
certificate before it calls over TLS."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from components.traffic import access, gateway, names
from tests.fixtures.plans import REPO

from .configs import loaded

COMPONENTS = REPO / "components"
CLIENTS = ("components.chat_ui", "components.loadtest", "components.traffic")


def module_imports() -> dict[str, set[str]]:
    """Module -> the components modules it imports, function-level imports included."""
    mods = {}
    for path in COMPONENTS.rglob("*.py"):
        name = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        mods[name] = path
    graph = {}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in mods and m != name}
    return graph


def reaches(graph: dict[str, set[str]], start: str, goal: str) -> bool:
    seen, todo = set(), [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            if nxt == goal:
                return True
            seen.add(nxt)
            todo.append(nxt)
    return False


def test_no_import_circle_between_the_chat_ui_the_load_test_and_the_gateway():
    graph = module_imports()
    ours = [m for m in graph if m.startswith(CLIENTS)]
    circles = sorted(m for m in ours if reaches(graph, m, m))
    assert circles == [], f"modules that import themselves through others: {circles}"
    # Both clients read the gateway's facts from access.py, not from each other or the builders.
    for client in ("components.chat_ui", "components.loadtest.common", "components.loadtest.component"):
        assert "components.traffic.gateway" not in graph[client], client
    assert not {m for m in graph["components.chat_ui"] if m.startswith("components.loadtest")}
    assert "components.traffic.access" in graph["components.chat_ui"]
    assert "components.traffic.access" in graph["components.loadtest.common"]


def test_the_cycle_finder_sees_a_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert reaches(graph, "a", "a") and not reaches(graph, "d", "d")


def test_access_facts():
    cfg = loaded(gateway={"hostname": "llm.example.com", "tls": {"issuer": "letsencrypt", "email": "a@example.com"}}).stack
    assert access.public_url(cfg) == "https://llm.example.com/v1" and access.base_url(cfg) == "https://llm.example.com"
    assert access.issuer_name(cfg) == "slmkit-letsencrypt" and not access.uses_private_ca(cfg)
    plain = loaded().stack
    assert access.public_url(plain) == f"https://{names.proxy_service_host(plain.namespaces.system)}/v1"
    assert access.issuer_name(plain) == names.SELF_SIGNED_ISSUER and access.uses_private_ca(plain)


def test_the_gateway_certificate_is_awaited_ready():
    cert = gateway.certificate(loaded().stack)
    assert cert["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"


def test_every_gate_job_waits_for_the_gateway_certificate(rendered_plans):
    for stack in ("dev", "staging", "prod"):
        records = json.loads((Path(rendered_plans[stack]) / "resources.json").read_text())
        (cert,) = [r for r in records if r["type"] == "kubernetes:cert-manager.io/v1:Certificate"
                   and r["inputs"]["metadata"]["name"] == names.CERTIFICATE]
        assert cert["inputs"]["metadata"]["annotations"] == access.WAIT_FOR
        jobs = [r for r in records if r["type"] == "kubernetes:batch/v1:Job" and r["name"].split("/")[-1].startswith("gate-")]
        assert jobs, stack
        assert all(cert["urn"] in job["dependsOn"] for job in jobs), stack
