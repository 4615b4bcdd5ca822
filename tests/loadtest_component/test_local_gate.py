"""`make loadtest` runs the stack's gate: the in-cluster Job's options, then the user's overrides."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from components.config import load_from_file
from components.endpoints import server_endpoints
from components.loadtest import gate
from components.loadtest.local import REPO, gate_command, main


def job_options(stack: str, server: int = 0) -> list[str]:
    loaded, _ = load_from_file(str(REPO / "stacks" / f"Pulumi.{stack}.yaml"))
    [job] = [j for j in gate.gate_jobs(loaded.stack, server_endpoints(loaded.stack))][server:server + 1]
    args = job["spec"]["template"]["spec"]["containers"][0]["args"]
    return args[args.index("--profile"):]


def test_the_local_gate_passes_what_the_job_passes_then_the_overrides():
    cmd = gate_command("local", "http://127.0.0.1:11434", Path("results/local"), None, ["--duration", "10"])
    assert cmd[:4] == ["--host", "http://127.0.0.1:11434", "--out", "results/local"]
    assert cmd[4:-2] == job_options("local")
    assert "--skip-content-checks" in cmd  # the local stack's skipContentChecks reaches the local run too
    assert cmd[-2:] == ["--duration", "10"]  # last: argparse lets it override the profile


def test_server_picks_one_of_the_stack_servers():
    cmd = gate_command("prod", "http://127.0.0.1:8000", Path("r"), "phi4mini-onnx", [])
    assert cmd[4:] == job_options("prod", server=1)


def test_an_unknown_server_names_the_known_ones(capsys):
    assert main(["--stack", "prod", "--host", "http://127.0.0.1:8000", "--server", "nope", "--dry-run"]) == 2
    assert "servers: phi4mini, phi4mini-onnx" in capsys.readouterr().err


def test_make_loadtest_passes_args_through():
    out = subprocess.run(["make", "-n", "loadtest", "STACK=local", "HOST=http://127.0.0.1:1", "ARGS=--duration 10 --no-smoke"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    line = " ".join(out.replace("\\\n", " ").split())
    assert "-m components.loadtest.local --stack local --host http://127.0.0.1:1 --out results/local --duration 10 --no-smoke" in line
    dry = subprocess.run([sys.executable, "-m", "components.loadtest.local", "--stack", "local", "--host", "http://127.0.0.1:1",
                          "--dry-run", "--duration", "10"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert dry.strip().endswith("--skip-content-checks '*' --duration 10")
