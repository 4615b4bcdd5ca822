"""`make loadtest`: the post-deploy gate from your machine, with exactly the options the stack's
in-cluster gate Job passes (profile, model, smoke options: components/loadtest/gate.gate_options).

    python -m components.loadtest.local --stack dev --host http://127.0.0.1:8000 [--server NAME] [gate options]

Gate options after the known ones go to `python -m loadtests run` as they are, after the stack's,
so they override it: `--duration 10`, `--profile smoke`, `--api-key-file PATH`, `--no-smoke`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from components.config import ConfigError, load_from_file
from components.endpoints import server_endpoints

from .gate import gate_options

REPO = Path(__file__).resolve().parents[2]


def gate_command(stack: str, host: str, out: Path, server: str | None, extra: list[str]) -> list[str]:
    """The arguments of `python -m loadtests run` for this stack's server (raises ConfigError, LookupError)."""
    loaded, _ = load_from_file(str(REPO / "stacks" / f"Pulumi.{stack}.yaml"), f"stacks/Pulumi.{stack}.yaml")
    endpoints = server_endpoints(loaded.stack)
    names = [ep.name for ep in endpoints]
    if server is not None and server not in names:
        raise LookupError(f"--server {server}: stacks/Pulumi.{stack}.yaml has no such server (servers: {', '.join(names)})")
    ep = next(ep for ep in endpoints if server in (None, ep.name))
    return ["--host", host, "--out", str(out), *gate_options(loaded.stack, ep), *extra]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m components.loadtest.local", description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", required=True, help="the stack whose gate to run (stacks/Pulumi.<stack>.yaml)")
    p.add_argument("--host", required=True, help="the server or gateway URL, e.g. a port-forward: http://127.0.0.1:8000")
    p.add_argument("--server", help="which of slmkit:servers (default: the first)")
    p.add_argument("--out", type=Path, default=None, help="result folder (default: results/<stack>)")
    p.add_argument("--dry-run", action="store_true", help="print the gate command and stop")
    args, extra = p.parse_known_args(argv)
    if not (REPO / "stacks" / f"Pulumi.{args.stack}.yaml").is_file():
        print(f"stacks/Pulumi.{args.stack}.yaml: no such stack file", file=sys.stderr)
        return 2
    try:
        cmd = gate_command(args.stack, args.host, args.out or Path("results") / args.stack, args.server, extra)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    except LookupError as err:
        print(err, file=sys.stderr)
        return 2
    print("gate: python -m loadtests run " + shlex.join(cmd), flush=True)
    if args.dry_run:
        return 0
    from loadtests import gate  # lazy: Locust is imported only for a real run

    return gate.main(cmd)


if __name__ == "__main__":
    sys.exit(main())
