"""A hosted runner allow-lists itself on a restricted AKS API server for one job, and the stack's
own ranges come back after (components/runner_access.py, deploy-stack.yml)."""

from __future__ import annotations

import pytest

from components import runner_access
from components.config import load_from_file
from tests.fixtures.plans import REPO


def stack(name: str):
    return load_from_file(str(REPO / "stacks" / f"Pulumi.{name}.yaml"), f"stacks/Pulumi.{name}.yaml")[0].stack


def test_restricted_stacks_are_the_ones_with_authorized_ranges():
    assert runner_access.restricted(stack("prod")) is bool(stack("prod").cluster.api_server.authorized_ip_ranges)
    assert not runner_access.restricted(stack("local"))


def test_the_update_command_names_the_stacks_cluster_and_every_range():
    cfg = stack("prod")
    ranges = [*cfg.cluster.api_server.authorized_ip_ranges, "198.51.100.7/32"]
    command = runner_access.update_command(cfg, ranges)
    assert command[:3] == ["az", "aks", "update"]
    assert command[command.index("--api-server-authorized-ip-ranges") + 1] == ",".join(ranges)
    assert command[command.index("--name") + 1] == f"slmkit-{cfg.environment}"


def test_the_program_keeps_the_runner_only_while_the_job_says_so(monkeypatch):
    monkeypatch.delenv(runner_access.ENV, raising=False)
    assert runner_access.runner_range() == []
    monkeypatch.setenv(runner_access.ENV, "198.51.100.7")
    assert runner_access.runner_range() == ["198.51.100.7/32"]
    monkeypatch.setenv(runner_access.ENV, "not-an-ip")
    with pytest.raises(ValueError):
        runner_access.runner_range()


def test_allow_records_the_address_for_the_jobs_pulumi_up(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(runner_access.subprocess, "run",
                        lambda cmd, **kw: calls.append(cmd) or type("R", (), {"returncode": 0, "stderr": "", "stdout": ""})())
    env = tmp_path / "github_env"
    monkeypatch.setenv("GITHUB_ENV", str(env))
    assert runner_access.main(["allow", "--stack", "prod", "--ip", "198.51.100.7"]) == 0
    assert env.read_text() == "SLMKIT_RUNNER_IP=198.51.100.7\n"
    assert calls[0][calls[0].index("--api-server-authorized-ip-ranges") + 1].endswith(",198.51.100.7/32")
    assert runner_access.main(["revoke", "--stack", "prod"]) == 0
    ranges = calls[1][calls[1].index("--api-server-authorized-ip-ranges") + 1]
    assert ranges == ",".join(stack("prod").cluster.api_server.authorized_ip_ranges)
