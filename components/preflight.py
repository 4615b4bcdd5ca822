"""Prerequisites for `make deploy`: every missing one at once, each in one line with its fix.

    python -m components.preflight --stack local

Each check is its own function raising Missing; `problems()` runs them all and collects the lines.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

from components.config import ConfigError, load_from_file


class Missing(Exception):
    pass


def check_pulumi_cli() -> None:
    if shutil.which("pulumi") is None:
        raise Missing("the Pulumi CLI is not installed: `curl -fsSL https://get.pulumi.com | sh` "
                      "(or see https://www.pulumi.com/docs/install/), then open a new shell")


def kubeconfig_paths(explicit: str | None) -> list[Path]:
    if explicit:
        return [Path(explicit).expanduser()]
    env = os.environ.get("KUBECONFIG")
    if env:
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return [Path("~/.kube/config").expanduser()]


def resolve_context(kubeconfig: str | None, context: str | None) -> tuple[str, str]:
    """(context name, API server URL) from the kubeconfig, as kubectl would resolve them."""
    docs = []
    for path in kubeconfig_paths(kubeconfig):
        if path.is_file():
            docs.append(yaml.safe_load(path.read_text()) or {})
    if not docs:
        where = ", ".join(str(p) for p in kubeconfig_paths(kubeconfig))
        raise Missing(f"no kubeconfig at {where}: create a cluster (`kind create cluster --name slmkit`, "
                      "`k3d cluster create slmkit` or `minikube start`) or set KUBECONFIG")
    contexts = {c["name"]: c.get("context", {}) for d in docs for c in d.get("contexts") or []}
    clusters = {c["name"]: c.get("cluster", {}) for d in docs for c in d.get("clusters") or []}
    name = context or next((d.get("current-context") for d in docs if d.get("current-context")), None)
    if not name:
        raise Missing("the kubeconfig has no current context: `kubectl config use-context NAME`, "
                      "or set slmkit:cluster.context in the stack file")
    if name not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise Missing(f"kube context '{name}' is not in the kubeconfig (contexts: {known}); "
                      "fix slmkit:cluster.context or create the cluster")
    server = clusters.get(contexts[name].get("cluster"), {}).get("server")
    if not server:
        raise Missing(f"kube context '{name}' names a cluster without a server URL in the kubeconfig")
    return name, server


def check_reachable(context: str, server: str, timeout: float = 3.0) -> None:
    url = urlparse(server)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout):
            return
    except OSError as err:
        raise Missing(f"the cluster of kube context '{context}' is unreachable at {server} ({err.strerror or err}); "
                      "start it (`docker start slmkit-control-plane`, `k3d cluster start`, `minikube start`) "
                      "or check VPN/authorized IP ranges") from None


GATEWAY_API_CRD = "gateways.gateway.networking.k8s.io"
_CRD_FIELDS = ("{.metadata.annotations.gateway\\.networking\\.k8s\\.io/channel}|"
               "{.metadata.annotations.gateway\\.networking\\.k8s\\.io/bundle-version}|"
               "{.metadata.managedFields[*].manager}")


def check_gateway_api_crds(context: str, kubeconfig: str | None) -> str:
    """Gateway API CRDs the kit did not install stop the gateway's first step: Envoy Gateway's CRD
    chart brings v1.6.1 from the experimental channel, its safe-upgrades ValidatingAdmissionPolicy
    refuses experimental CRDs over standard ones, and Pulumi does not take over objects another
    tool created. Returns a note for the ok line; raises Missing with what to do."""
    from components.traffic.operators import GATEWAY_API_CHANNEL, GATEWAY_API_VERSION

    if shutil.which("kubectl") is None:
        return "Gateway API CRDs not checked (no kubectl)"
    cmd = ["kubectl", "--context", context, *(["--kubeconfig", kubeconfig] if kubeconfig else []),
           "get", "crd", GATEWAY_API_CRD, "-o", f"jsonpath={_CRD_FIELDS}"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        raise Missing(f"`{' '.join(cmd[:3])} get crd {GATEWAY_API_CRD}` timed out: check the cluster "
                      "and your credentials") from None
    if proc.returncode != 0:
        if "NotFound" in proc.stderr or "not found" in proc.stderr:
            return f"no Gateway API CRDs yet (the kit installs {GATEWAY_API_VERSION} {GATEWAY_API_CHANNEL})"
        raise Missing(f"kubectl could not read CRD {GATEWAY_API_CRD} in kube context '{context}': "
                      f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no output'}")
    channel, version, managers = (proc.stdout.split("|") + ["", "", ""])[:3]
    found = f"channel {channel or 'unknown'}, bundle {version or 'unknown'}"
    if channel == "standard":
        raise Missing(
            f"kube context '{context}' already has the Gateway API CRDs from the standard channel ({found}); the kit "
            f"installs {GATEWAY_API_VERSION} {GATEWAY_API_CHANNEL} (what Envoy Gateway v1.9 ships) and the safe-upgrades "
            "admission policy refuses experimental CRDs over standard ones: if nothing else needs them (e.g. a "
            "provider-managed Gateway API add-on, which must be turned off first), delete them with "
            "`kubectl get crd -o name | grep gateway.networking.k8s.io | xargs kubectl delete` (this deletes every "
            "Gateway and route in the cluster), or deploy to a cluster without them")
    if "pulumi-kubernetes" not in managers:
        raise Missing(
            f"kube context '{context}' already has Gateway API CRDs that another tool installed ({found}, managed by "
            f"{managers.strip() or 'unknown'}); the kit installs its own ({GATEWAY_API_VERSION} {GATEWAY_API_CHANNEL}) "
            "and Pulumi does not take over objects it did not create: remove that installation first (e.g. "
            "`helm uninstall` of the release that brought them), or deploy to a cluster without them")
    return f"Gateway API CRDs from an earlier deploy ({found})"


def check_azure() -> list[str]:
    """AKS stacks: the Azure CLI, kubelogin and a login, each reported on its own."""
    found = []
    if shutil.which("az") is None:
        found.append("the Azure CLI is needed for AKS stacks: https://learn.microsoft.com/cli/azure/install-azure-cli")
    if shutil.which("kubelogin") is None:
        # AKS with Entra ID: the Kubernetes provider authenticates through kubelogin.
        found.append("kubelogin is needed for AKS with Entra ID: `az aks install-cli` "
                     "(or https://azure.github.io/kubelogin/install.html)")
    if shutil.which("az") is not None:
        probe = subprocess.run(["az", "account", "show", "-o", "none"], capture_output=True, text=True, check=False)
        if probe.returncode != 0:
            found.append("not logged in to Azure: `az login` (and `az account set --subscription ID`)")
    return found


def check_image_loader(kubeconfig: str | None, context: str) -> None:
    """The gate's image is built and side-loaded into kind/k3d/minikube when Docker is here; then
    the cluster's own CLI must be too. Without Docker the cluster pulls the published image."""
    from components.local_images import cluster_flavor

    flavor = cluster_flavor(kubeconfig, context)
    if flavor is None or shutil.which("docker") is None:
        return
    if shutil.which(flavor.cli) is None:
        raise Missing(f"`{flavor.cli}` is not on PATH: kube context '{context}' is a {flavor.kind} cluster and "
                      f"make deploy side-loads the load-test image with `{flavor.cli}` ({flavor.install})")


def vpa_recommenders(deployments: dict) -> list[str]:
    """'namespace/name (image)' of every Deployment running a VPA recommender, from
    `kubectl get deployments -A -o json` (the upstream install, the Fairwinds chart, a managed one)."""
    from components.catalog.vpa import RECOMMENDER_IMAGE

    found = []
    for item in deployments.get("items") or []:
        for c in item.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []:
            if RECOMMENDER_IMAGE in c.get("image", ""):
                found.append(f"{item['metadata']['namespace']}/{item['metadata']['name']} ({c['image']})")
    return found


def check_vpa(context: str, kubeconfig: str | None, wanted: bool) -> str:
    """Which Vertical Pod Autoscaler an existing cluster runs. wanted: the stack's verticalScaling is on,
    so a cluster without the VPA CRD is a missing prerequisite; otherwise only a hint."""
    from components.catalog.vpa import CRD

    if shutil.which("kubectl") is None:
        if wanted:
            raise Missing("kubectl is needed to check that the cluster runs a Vertical Pod Autoscaler "
                          "(slmkit:verticalScaling.enabled is on): install kubectl")
        return "VPA: not checked (no kubectl)"
    base = ["kubectl", "--context", context] + (["--kubeconfig", kubeconfig] if kubeconfig else [])
    crd = subprocess.run([*base, "get", "crd", CRD, "-o", "name"], capture_output=True, text=True, check=False, timeout=30)
    if crd.returncode != 0:
        if wanted:
            raise Missing(f"the cluster has no Vertical Pod Autoscaler (CRD {CRD} not found): install one "
                          "(github.com/kubernetes/autoscaler vertical-pod-autoscaler, or your platform's add-on), "
                          "or set slmkit:verticalScaling.enabled: false")
        return "VPA: none in the cluster"
    listing = subprocess.run([*base, "get", "deployments", "-A", "-o", "json"], capture_output=True, text=True,
                             check=False, timeout=60)
    import json

    try:
        found = vpa_recommenders(json.loads(listing.stdout or "{}")) if listing.returncode == 0 else []
    except ValueError:  # not JSON (an old kubectl, a proxy's error page): the CRD alone is known
        found = []
    which = ", ".join(found) if found else "its CRD (no recommender Deployment visible to you)"
    hint = "" if wanted else "; set slmkit:verticalScaling.enabled: true for recommendations"
    return f"VPA: {which}{hint}"


def problems(loaded) -> tuple[list[str], str]:
    """(every missing prerequisite, the summary line when none is missing)."""
    found: list[str] = []

    def attempt(fn, *args):
        try:
            return fn(*args)
        except Missing as err:
            found.append(str(err))
            return None

    attempt(check_pulumi_cli)
    cluster = loaded.stack.cluster
    if cluster.kind != "existing":
        found += check_azure()
        return found, "ok: pulumi CLI found; Azure CLI and kubelogin found, logged in"
    resolved = attempt(resolve_context, cluster.kubeconfig, cluster.context)
    if resolved is None:
        return found, ""
    name, server = resolved
    reachable = attempt(check_reachable, name, server) is None and not found
    attempt(check_image_loader, cluster.kubeconfig, name)
    crds = ""
    if reachable and loaded.stack.gateway.enabled:
        note = attempt(check_gateway_api_crds, name, cluster.kubeconfig)
        crds = f"; {note}" if note else ""
    if reachable:
        from components.config.vertical import vpa_enabled

        note = attempt(check_vpa, name, cluster.kubeconfig, vpa_enabled(loaded.stack))
        crds += f"; {note}" if note else ""
    return found, f"ok: pulumi CLI found; kube context '{name}' reachable at {server}{crds}"


def check(stack_file: Path, shown: str) -> str:
    """Raise Missing naming every missing prerequisite (one per line); return the ok line."""
    loaded, _ = load_from_file(str(stack_file), shown)
    found, ok = problems(loaded)
    if found:
        raise Missing("\n".join(found))
    return ok


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m components.preflight")
    p.add_argument("--stack", required=True)
    args = p.parse_args(argv)
    shown = f"stacks/Pulumi.{args.stack}.yaml"
    path = Path(__file__).resolve().parents[1] / shown
    if not path.is_file():
        print(f"preflight: {shown} does not exist (copy stacks/Pulumi.local.yaml to start one)", file=sys.stderr)
        return 2
    try:
        print(check(path, shown))
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    except Missing as err:
        lines = str(err).splitlines()
        print(f"preflight: {len(lines)} prerequisite(s) missing for stack {args.stack}:", file=sys.stderr)
        for line in lines:
            print(f"preflight: {line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
