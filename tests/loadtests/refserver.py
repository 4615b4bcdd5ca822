"""Start the kit's reference streaming server on a free loopback port for a test."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def reference_server(*args: str) -> Iterator[str]:
    port = free_port()
    cmd = [sys.executable, "-m", "loadtests", "reference-server", "--port", str(port), *args]
    # Higher priority than the load generator, so the truth it serves stays on time on a busy machine.
    if os.geteuid() == 0:
        cmd = ["nice", "-n", "-10", *cmd]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"reference server did not start: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


CI_PROFILE = str(Path(__file__).resolve().parent / "ci-profile.yaml")


def run_cli(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "loadtests", *args]
    if os.geteuid() == 0:  # the load generator's clock matters too on a shared machine
        cmd = ["nice", "-n", "-5", *cmd]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
