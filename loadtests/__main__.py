"""`python -m loadtests <command>`: dispatch to the gate, the sweep, the smoke suite or the reference server."""

from __future__ import annotations

import importlib
import sys

# command -> (module, one-line help). Modules are imported lazily so one missing piece
# (or a heavy import such as Locust's gevent patching) never breaks the other commands.
COMMANDS = {
    "run": ("loadtests.gate", "run the load test gate: exit 0 pass, 10 SLO failed, 20 invalid, 30 preflight/smoke failed"),
    "sweep": ("loadtests.sweep", "step load up until an SLO breaks; report the highest passing load"),
    "smoke": ("loadtests.smoke", "functional smoke checks of every served model (exit 0 or 30)"),
    "reference-server": ("loadtests.reference_server", "a streaming OpenAI-compatible server with known delays"),
}


def usage() -> str:
    lines = ["usage: python -m loadtests <command> [options]", "", "commands:"]
    lines += [f"  {name:<17} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "`python -m loadtests <command> --help` shows the options of a command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
