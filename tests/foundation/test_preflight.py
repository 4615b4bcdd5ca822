"""`make deploy` stops with one clear line when a prerequisite is missing."""

from __future__ import annotations

import socket

import pytest
import yaml

from components import preflight


def write_kubeconfig(path, server: str, current: str | None = "kind-slmkit") -> str:
    doc = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "kind-slmkit", "cluster": {"server": server}}],
        "contexts": [{"name": "kind-slmkit", "context": {"cluster": "kind-slmkit", "user": "u"}}],
        "users": [{"name": "u", "user": {}}],
    }
    if current:
        doc["current-context"] = current
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_missing_kubeconfig_names_how_to_make_a_cluster(tmp_path):
    with pytest.raises(preflight.Missing, match="kind create cluster"):
        preflight.resolve_context(str(tmp_path / "nope"), None)


def test_unknown_context_lists_the_known_ones(tmp_path):
    cfg = write_kubeconfig(tmp_path / "config", "https://127.0.0.1:6443")
    with pytest.raises(preflight.Missing, match=r"'prod-aks' is not in the kubeconfig \(contexts: kind-slmkit\)"):
        preflight.resolve_context(cfg, "prod-aks")


def test_no_current_context(tmp_path):
    cfg = write_kubeconfig(tmp_path / "config", "https://127.0.0.1:6443", current=None)
    with pytest.raises(preflight.Missing, match="no current context"):
        preflight.resolve_context(cfg, None)


def test_unreachable_cluster_is_reported_with_the_address(tmp_path):
    server = f"https://127.0.0.1:{closed_port()}"
    name, resolved = preflight.resolve_context(write_kubeconfig(tmp_path / "config", server), None)
    with pytest.raises(preflight.Missing, match=f"unreachable at {server}"):
        preflight.check_reachable(name, resolved, timeout=1)


def test_reachable_cluster_passes(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        server = f"https://127.0.0.1:{listener.getsockname()[1]}"
        name, resolved = preflight.resolve_context(write_kubeconfig(tmp_path / "config", server), None)
        preflight.check_reachable(name, resolved, timeout=1)


def test_missing_pulumi_cli_says_how_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(preflight.Missing, match="get.pulumi.com"):
        preflight.check_pulumi_cli()
