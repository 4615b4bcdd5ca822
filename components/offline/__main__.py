"""python -m components.offline --stack NAME --out DIR  (or --config-file PATH)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from components.config import ConfigError, load_from_file

from .engine import REPO_ROOT, run_plan
from .policy_check import check_resources, mandatory, render
from .render import write_plan


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m components.offline",
                                description="Render what a stack declares, without credentials or a cluster.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--stack", help="a stack in stacks/ (stacks/Pulumi.<stack>.yaml)")
    src.add_argument("--config-file", type=Path, help="a stack file elsewhere")
    p.add_argument("--out", type=Path, required=True, help="folder for manifests/, helm/, resources.json, plan.txt")
    return p.parse_args(argv)


def stack_source(args: argparse.Namespace) -> tuple[Path, str, str]:
    """(file to read, name shown in messages, stack name)."""
    if args.stack:
        path = REPO_ROOT / "stacks" / f"Pulumi.{args.stack}.yaml"
        return path, f"stacks/Pulumi.{args.stack}.yaml", args.stack
    name = args.config_file.name
    stack = name[len("Pulumi."):-len(".yaml")] if name.startswith("Pulumi.") and name.endswith(".yaml") else "offline"
    return args.config_file, str(args.config_file), stack


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path, shown, stack = stack_source(args)
    if not path.is_file():
        known = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in (REPO_ROOT / "stacks").glob("Pulumi.*.yaml"))
        print(f"{shown}: no such stack file (stacks here: {', '.join(known)})", file=sys.stderr)
        return 2
    try:
        loaded, raw = load_from_file(str(path), shown)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    result = run_plan(loaded, raw, stack)
    objs = write_plan(args.out, loaded, result.records)
    print(f"{shown}: {len(result.records)} resources, {len(objs)} Kubernetes manifests -> {args.out}")
    # The policy pack's rules, over exactly what was rendered: enforced without the Pulumi CLI.
    violations = check_resources(result.records, loaded.stack.environment)
    lines = render(violations)
    (args.out / "policy.txt").write_text("\n".join(lines) + "\n" if lines else "no policy violations\n", encoding="utf-8")
    for line in lines:
        print(line, file=sys.stderr)
    if mandatory(violations):
        print(f"{shown}: {len(mandatory(violations))} mandatory policy violation(s); see {args.out / 'policy.txt'}",
              file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
