"""`make deploy` side-loads the load-test image into kind/k3d/minikube with their own commands, built
with the same Dockerfile and context as `make images` and the release workflow."""

from __future__ import annotations

import pytest
import yaml

from components import local_images
from components.catalog.images import KIT_IMAGES
from components.config import load_from_file
from tests.fixtures.plans import REPO


def kubeconfig(tmp_path, context: str, minikube: bool = False) -> str:
    ctx = {"cluster": context, "user": "u"}
    if minikube:
        ctx["extensions"] = [{"name": "context_info", "extension": {"provider": "minikube.sigs.k8s.io"}}]
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": context,
           "clusters": [{"name": context, "cluster": {"server": "https://127.0.0.1:6443"}}],
           "contexts": [{"name": context, "context": ctx}], "users": [{"name": "u", "user": {}}]}
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


@pytest.mark.parametrize("context, minikube, command", [
    ("kind-slmkit", False, ["kind", "load", "docker-image", "IMG", "--name", "slmkit"]),
    ("k3d-slmkit", False, ["k3d", "image", "import", "IMG", "--cluster", "slmkit"]),
    ("laptop", True, ["minikube", "image", "load", "IMG", "--profile", "laptop"]),
])
def test_each_local_cluster_gets_its_own_load_command(tmp_path, context, minikube, command):
    flavor = local_images.cluster_flavor(kubeconfig(tmp_path, context, minikube), context)
    assert flavor.load_command("IMG") == command


def test_other_clusters_are_not_side_loaded(tmp_path):
    assert local_images.cluster_flavor(kubeconfig(tmp_path, "aks-prod"), "aks-prod") is None


def local(tmp_path, monkeypatch, context: str):
    monkeypatch.setenv("KUBECONFIG", kubeconfig(tmp_path, context))
    loaded, _ = load_from_file(str(REPO / "stacks" / "Pulumi.local.yaml"), "stacks/Pulumi.local.yaml")
    return loaded


def test_the_local_stack_builds_and_loads_the_gate_image_when_docker_is_here(tmp_path, monkeypatch):
    loaded = local(tmp_path, monkeypatch, "kind-slmkit")
    monkeypatch.setattr(local_images.shutil, "which", lambda name: f"/usr/bin/{name}")
    commands, note = local_images.plan(loaded)
    ref = loaded.stack.images.kit("loadtest")
    built = KIT_IMAGES["loadtest"]
    assert commands == [["docker", "build", "-f", built.dockerfile, "-t", ref.ref, built.context],
                        ["kind", "load", "docker-image", ref.ref, "--name", "slmkit"]]
    # The gate uses the side-loaded copy: the kubelet does not ask the registry first.
    assert ref.pull_policy == "IfNotPresent" and "Always" not in note


def test_without_docker_it_says_the_cluster_pulls_the_published_image(tmp_path, monkeypatch):
    loaded = local(tmp_path, monkeypatch, "kind-slmkit")
    monkeypatch.setattr(local_images.shutil, "which", lambda name: None)
    commands, note = local_images.plan(loaded)
    assert commands == [] and "docker not found" in note and loaded.stack.images.kit("loadtest").ref in note
