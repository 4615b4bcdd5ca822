"""A GitHub-hosted runner on an AKS API server restricted to `authorizedIpRanges` (staging, prod).

Hosted runners have changing addresses, so deploy-stack.yml allow-lists the runner's own address
for the job and removes it after, in an always-run step:

    python -m components.runner_access allow --stack prod [--ip 198.51.100.7]
    python -m components.runner_access revoke --stack prod

`allow` adds `<ip>/32` to the cluster's ranges with `az aks update --api-server-authorized-ip-ranges`
(when the cluster exists) and writes SLMKIT_RUNNER_IP to $GITHUB_ENV, so the `pulumi up` of the same
job keeps the address (components/platform/aks.py reads it) instead of removing it half way.
`revoke` sets the ranges back to exactly the stack file's. A stack without authorizedIpRanges (or a
private one) needs neither: both do nothing and say so.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import subprocess
import sys

from components.catalog.images import REPO_ROOT

ENV = "SLMKIT_RUNNER_IP"
IP_ECHO = "https://api.ipify.org"  # answers with the caller's public address as plain text


def runner_range() -> list[str]:
    """The runner's /32 for this job (set by `allow` through $GITHUB_ENV), or nothing."""
    ip = os.environ.get(ENV, "").strip()
    return [f"{ipaddress.ip_address(ip)}/32"] if ip else []


def public_ip() -> str:
    """The runner's egress address, as the API server will see it."""
    import httpx

    return httpx.get(IP_ECHO, timeout=10).text.strip()


def update_command(cfg, ranges: list[str]) -> list[str]:
    from components.platform.aks import names

    n = names(cfg)
    return ["az", "aks", "update", "--resource-group", n["resource_group"], "--name", n["cluster"],
            "--api-server-authorized-ip-ranges", ",".join(ranges), "--only-show-errors", "-o", "none"]


def restricted(cfg) -> bool:
    return cfg.is_aks and not cfg.cluster.api_server.private and bool(cfg.cluster.api_server.authorized_ip_ranges)


def main(argv: list[str] | None = None) -> int:
    from components.config import load_from_file

    p = argparse.ArgumentParser(prog="python -m components.runner_access")
    p.add_argument("action", choices=["allow", "revoke"])
    p.add_argument("--stack", required=True)
    p.add_argument("--ip", help="the runner's public address (allow)")
    args = p.parse_args(argv)
    shown = f"stacks/Pulumi.{args.stack}.yaml"
    cfg = load_from_file(str(REPO_ROOT / shown), shown)[0].stack
    if not restricted(cfg):
        print(f"runner-access: {shown} does not restrict the API server by address: nothing to {args.action}")
        return 0
    ranges = list(cfg.cluster.api_server.authorized_ip_ranges)
    if args.action == "allow":
        ip = str(ipaddress.ip_address(args.ip or public_ip()))
        ranges.append(f"{ip}/32")
        if os.environ.get("GITHUB_ENV"):
            with open(os.environ["GITHUB_ENV"], "a") as env:
                env.write(f"{ENV}={ip}\n")
    command = update_command(cfg, ranges)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 and "ResourceNotFound" in result.stderr + result.stdout:
        print(f"runner-access: the cluster does not exist yet; `pulumi up` creates it with {','.join(ranges)}")
        return 0
    if result.returncode != 0:
        print(f"runner-access: `{' '.join(command)}` failed: {result.stderr.strip()}", file=sys.stderr)
        return 1
    print(f"runner-access: API server authorized ranges now {','.join(ranges)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
