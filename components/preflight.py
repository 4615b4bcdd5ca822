"""Prerequisites for `make deploy`: say in one line what is missing and how to get it.

    python -m components.preflight --stack local
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


def check(stack_file: Path, shown: str) -> str:
    loaded, _ = load_from_file(str(stack_file), shown)
    check_pulumi_cli()
    cluster = loaded.stack.cluster
    if cluster.kind == "existing":
        name, server = resolve_context(cluster.kubeconfig, cluster.context)
        check_reachable(name, server)
        crds = f"; {check_gateway_api_crds(name, cluster.kubeconfig)}" if loaded.stack.gateway.enabled else ""
        return f"ok: pulumi CLI found; kube context '{name}' reachable at {server}{crds}"
    if shutil.which("az") is None:
        raise Missing("the Azure CLI is needed for AKS stacks: https://learn.microsoft.com/cli/azure/install-azure-cli")
    if shutil.which("kubelogin") is None:
        # AKS with Entra ID: the Kubernetes provider authenticates through kubelogin.
        raise Missing("kubelogin is needed for AKS with Entra ID: `az aks install-cli` "
                      "(or https://azure.github.io/kubelogin/install.html)")
    probe = subprocess.run(["az", "account", "show", "-o", "none"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        raise Missing("not logged in to Azure: `az login` (and `az account set --subscription ID`)")
    return "ok: pulumi CLI found; Azure CLI logged in"


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
        print(f"preflight: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
