"""Make the kit-built load-test image available to a local cluster (`make deploy`, before `pulumi up`).

With Docker present it builds the image with the same Dockerfile and context as `make images` and
the release workflow, then side-loads it with the cluster's own command (kind, k3d, minikube); the
local stack's `slmkit:images.loadtest.pullPolicy: IfNotPresent` makes the gate use it. Without
Docker, or on any other cluster, the gate pulls the published image from its registry.

    python -m components.local_images --stack local
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass

import yaml

from components.catalog.images import KIT_IMAGES, REPO_ROOT


@dataclass(frozen=True)
class Flavor:
    kind: str  # kind, k3d, minikube
    cli: str
    cluster: str  # the cluster (kind, k3d) or profile (minikube) name
    install: str

    def load_command(self, image: str) -> list[str]:
        # kind: kind.sigs.k8s.io/docs/user/quick-start (#loading-an-image-into-your-cluster);
        # k3d: k3d.io/stable/usage/commands/k3d_image_import; minikube: minikube.sigs.k8s.io/docs/handbook/pushing.
        if self.kind == "kind":
            return ["kind", "load", "docker-image", image, "--name", self.cluster]
        if self.kind == "k3d":
            return ["k3d", "image", "import", image, "--cluster", self.cluster]
        return ["minikube", "image", "load", image, "--profile", self.cluster]


INSTALL = {
    "kind": "https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
    "k3d": "https://k3d.io/#installation",
    "minikube": "https://minikube.sigs.k8s.io/docs/start/",
}


def _kubeconfig_docs(kubeconfig: str | None) -> list[dict]:
    from components.preflight import kubeconfig_paths

    return [yaml.safe_load(p.read_text()) or {} for p in kubeconfig_paths(kubeconfig) if p.is_file()]


def cluster_flavor(kubeconfig: str | None, context: str) -> Flavor | None:
    """kind names its contexts kind-<cluster>, k3d k3d-<cluster>; minikube marks its context with
    the minikube.sigs.k8s.io extension (context name = profile). Anything else: None."""
    if context.startswith("kind-"):
        return Flavor("kind", "kind", context.removeprefix("kind-"), INSTALL["kind"])
    if context.startswith("k3d-"):
        return Flavor("k3d", "k3d", context.removeprefix("k3d-"), INSTALL["k3d"])
    for doc in _kubeconfig_docs(kubeconfig):
        for c in doc.get("contexts") or []:
            if c.get("name") == context and "minikube.sigs.k8s.io" in yaml.safe_dump(c.get("context") or {}):
                return Flavor("minikube", "minikube", context, INSTALL["minikube"])
    if context == "minikube":
        return Flavor("minikube", "minikube", context, INSTALL["minikube"])
    return None


def build_command(image: str) -> list[str]:
    built = KIT_IMAGES["loadtest"]
    target = ["--target", built.target] if built.target else []
    return ["docker", "build", "-f", built.dockerfile, *target, "-t", image, built.context]


def plan(loaded) -> tuple[list[list[str]], str]:
    """(commands to run, what happens and why) for a loaded stack."""
    from components.preflight import resolve_context

    stack = loaded.stack
    ref = stack.images.kit("loadtest")
    if not (stack.loadtest.gate or stack.loadtest.ui.enabled):
        return [], "no load-test Job or UI in this stack: no image to load"
    if stack.cluster.kind != "existing":
        return [], f"the cluster pulls {ref.ref} from its registry"
    context, _ = resolve_context(stack.cluster.kubeconfig, stack.cluster.context)
    flavor = cluster_flavor(stack.cluster.kubeconfig, context)
    if flavor is None:
        return [], (f"kube context '{context}' is not kind, k3d or minikube: the cluster pulls {ref.ref} "
                    "(publish it with `make images REGISTRY=...` and set slmkit:images.registry)")
    if ref.digest:
        return [], f"slmkit:images.loadtest pins a digest: the cluster pulls {ref.ref} from its registry"
    if shutil.which("docker") is None:
        return [], (f"docker not found: the {flavor.kind} cluster pulls {ref.ref} from its registry "
                    "(published by .github/workflows/release.yml); install Docker to build and side-load it instead")
    note = f"building {ref.ref} and loading it into {flavor.kind} cluster '{flavor.cluster}'"
    if ref.pull_policy == "Always":
        note += " (slmkit:images.loadtest.pullPolicy is Always: the kubelet will still ask the registry; set IfNotPresent)"
    return [build_command(ref.ref), flavor.load_command(ref.ref)], note


def main(argv: list[str] | None = None) -> int:
    from components.config import ConfigError, load_from_file
    from components.preflight import Missing

    p = argparse.ArgumentParser(prog="python -m components.local_images")
    p.add_argument("--stack", required=True)
    args = p.parse_args(argv)
    shown = f"stacks/Pulumi.{args.stack}.yaml"
    try:
        loaded, _ = load_from_file(str(REPO_ROOT / shown), shown)
        commands, note = plan(loaded)
    except (ConfigError, Missing) as err:
        print(f"local-images: {err}", file=sys.stderr)
        return 2
    print(f"local-images: {note}")
    for command in commands:
        print("+ " + " ".join(command), flush=True)
        if subprocess.run(command, cwd=REPO_ROOT, check=False).returncode != 0:
            print(f"local-images: `{' '.join(command)}` failed", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
