"""scripts/check-test-tools: every missing tool named at once, with the package that provides it."""

from __future__ import annotations

import shutil
import subprocess

from tests.fixtures.plans import REPO


def test_missing_tools_are_listed_all_at_once(tmp_path):
    bash = shutil.which("bash")
    result = subprocess.run([bash, str(REPO / "scripts" / "check-test-tools")], env={"PATH": str(tmp_path)},
                            capture_output=True, text=True)
    assert result.returncode == 1
    missing = [line.split()[1] for line in result.stderr.splitlines() if line.startswith("missing: ")]
    assert missing == ["promtool", "prometheus", "node", "npm", "openssl"]
    assert "apt-get install prometheus" in result.stderr


def test_present_tools_pass(tmp_path):
    for tool in ("promtool", "prometheus", "node", "npm", "openssl"):
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    result = subprocess.run([shutil.which("bash"), str(REPO / "scripts" / "check-test-tools")], env={"PATH": str(tmp_path)},
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""
