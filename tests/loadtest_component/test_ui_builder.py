"""The Locust UI builders: the workers' key launcher really hands the key to Locust's process
environment, and nothing is built when the UI is off."""

from __future__ import annotations

import os
import subprocess
import sys

from components.endpoints import server_endpoints
from components.loadtest import ui

from .helpers import GATEWAY_UI_STACK, changed, config, raw_config


def test_key_launcher_passes_the_file_key_to_locust_through_the_environment(tmp_path):
    key_file = tmp_path / "api-key"
    key_file.write_text("sk-from-the-secret-file\n")
    fake_locust = tmp_path / "locust"
    fake_locust.write_text(f"#!{sys.executable}\nimport os, sys\nprint(os.environ['OPENAI_API_KEY'], *sys.argv[1:])\n")
    fake_locust.chmod(0o755)
    cfg = config(raw_config(GATEWAY_UI_STACK))
    container = ui.worker(cfg, server_endpoints(cfg))["spec"]["template"]["spec"]["containers"][0]
    command = [sys.executable if c == "python" else c for c in container["command"]]
    command[-1] = str(key_file)  # the mount path, redirected to the test's file
    proc = subprocess.run([*command, *container["args"]], capture_output=True, text=True, timeout=30, check=False,
                          env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr
    key, *args = proc.stdout.split()
    assert key == "sk-from-the-secret-file" and args == container["args"]
    assert "sk-from" not in " ".join(container["command"] + container["args"])


def test_ui_off_builds_nothing():
    raw = changed(raw_config(GATEWAY_UI_STACK), "loadtest", "ui", {"enabled": False})
    cfg = config(raw)
    assert ui.ui_objects(cfg, server_endpoints(cfg)) == []
