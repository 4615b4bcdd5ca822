"""docker/locust: lint-clean, non-root, pinned, and carrying what the gate imports."""

import importlib.metadata
import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "docker" / "locust" / "Dockerfile"
REQUIREMENTS = REPO / "docker" / "locust" / "requirements.txt"


def test_hadolint_passes():
    hadolint = shutil.which("hadolint") or str(Path(__import__("sys").executable).parent / "hadolint")
    result = subprocess.run([hadolint, str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_runs_as_uid_10001_from_a_pinned_base():
    text = DOCKERFILE.read_text()
    assert re.search(r"^USER 10001:10001$", text, re.M)
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M).group(1)
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+", base), base
    assert "COPY loadtests ./loadtests" in text


def test_requirements_pin_every_package_and_match_the_tested_versions():
    pins = dict(line.split("==") for line in REQUIREMENTS.read_text().splitlines() if line and not line.startswith("#"))
    for name in ("locust", "pydantic", "PyYAML", "httpx", "numpy", "matplotlib", "gevent", "geventhttpclient", "kubernetes"):
        assert pins[name] == importlib.metadata.version(name), name
    # --no-deps install: every dependency of locust and of the kubernetes client (the gate's result
    # publisher), down the whole tree, must be listed itself
    from packaging.requirements import Requirement

    def norm(name: str) -> str:
        return name.lower().replace("_", "-")

    listed = {norm(n) for n in pins}
    todo, seen = ["locust", "kubernetes"], set()
    while todo:
        name = todo.pop()
        if norm(name) in seen:
            continue
        seen.add(norm(name))
        assert norm(name) in listed, name
        for text in importlib.metadata.requires(name) or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": "", "sys_platform": "linux", "platform_system": "Linux"}):
                todo.append(req.name)
