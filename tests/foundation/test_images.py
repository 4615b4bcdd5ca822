"""The kit's images build from what their context holds: every COPY/ADD source of every Dockerfile
exists in the context `make images` and the release workflow pass (components/catalog/images.py;
tests/workflows checks that both use that table), and survives the context's .dockerignore."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from components.catalog.images import KIT_IMAGES, KIT_VERSION, LOADTEST_IMAGE, REPO_ROOT

INSTRUCTION = re.compile(r"^(COPY|ADD)\s+(.*)$", re.IGNORECASE)


def instructions(dockerfile: Path) -> list[tuple[str, str | None, list[str]]]:
    """(stage, instruction, sources) for each COPY/ADD that reads the build context."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    out, stage = [], None
    for line in text.splitlines():
        line = line.strip()
        if m := re.match(r"^FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.IGNORECASE):
            stage = m.group(1)
        elif m := INSTRUCTION.match(line):
            words = shlex.split(m.group(2))
            if any(w.startswith("--from=") for w in words):
                continue  # from another stage or image, not the context
            sources = [w for w in words if not w.startswith("--")][:-1]
            out.append((stage, sources))
    return out


def ignore_patterns(dockerfile: Path, context: Path) -> list[str]:
    # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile first, else <context>/.dockerignore.
    for candidate in (dockerfile.with_name(dockerfile.name + ".dockerignore"), context / ".dockerignore"):
        if candidate.is_file():
            lines = [line.strip() for line in candidate.read_text().splitlines()]
            return [line for line in lines if line and not line.startswith("#")]
    return []


def _matches(pattern: str, path: str) -> bool:
    pattern = pattern.strip("/")
    regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
    parts = path.split("/")
    # A pattern that matches a parent folder matches everything inside it.
    return any(re.fullmatch(regex, "/".join(parts[:i])) for i in range(1, len(parts) + 1))


def ignored(path: str, patterns: list[str]) -> bool:
    out = False
    for p in patterns:
        negate = p.startswith("!")
        if _matches(p.lstrip("!"), path):
            out = not negate
    return out


def missing_sources(dockerfile: Path, context: Path) -> list[str]:
    patterns = ignore_patterns(dockerfile, context)
    problems = []
    for stage, sources in instructions(dockerfile):
        for source in sources:
            found = sorted(p for p in context.glob(source.rstrip("/")) if p.exists()) if any(c in source for c in "*?[") \
                else [context / source] if (context / source).exists() else []
            files = [f for p in found for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
            kept = [f for f in files if not ignored(f.relative_to(context).as_posix(), patterns)]
            if not kept:
                why = "not in the context" if not found else "excluded by .dockerignore"
                problems.append(f"{dockerfile.relative_to(REPO_ROOT)} ({stage or 'final'}): COPY {source}: {why} {context}")
    return problems


@pytest.mark.parametrize("key", sorted(KIT_IMAGES))
def test_every_copy_source_is_in_the_build_context(key):
    built = KIT_IMAGES[key]
    dockerfile, context = REPO_ROOT / built.dockerfile, REPO_ROOT / built.context
    assert instructions(dockerfile), f"{built.dockerfile}: no COPY found (parser broken?)"
    assert missing_sources(dockerfile, context) == []


def test_the_check_catches_a_wrong_context():
    # The bug this guards against: the ONNX Dockerfile built with the repository root as context.
    problems = missing_sources(REPO_ROOT / "docker/onnx-server/Dockerfile", REPO_ROOT)
    assert any("requirements-serve.txt" in p and "not in the context" in p for p in problems)


def test_the_dockerignore_is_applied():
    patterns = ["*", "!loadtests/", "loadtests/**/__pycache__"]
    assert not ignored("loadtests/gate.py", patterns)
    assert ignored("components/stack.py", patterns) and ignored("loadtests/__pycache__/gate.cpython-311.pyc", patterns)


def test_every_dockerfile_is_built_by_the_kit():
    dockerfiles = {p.relative_to(REPO_ROOT).as_posix() for p in REPO_ROOT.glob("docker/*/Dockerfile")}
    assert dockerfiles == {k.dockerfile for k in KIT_IMAGES.values()}


def test_targets_exist_and_tags_carry_the_kit_version():
    for built in KIT_IMAGES.values():
        if built.target:
            assert re.search(rf"^FROM .* AS {built.target}$", (REPO_ROOT / built.dockerfile).read_text(), re.MULTILINE)
        assert built.tag.startswith(KIT_VERSION)
    assert LOADTEST_IMAGE[1] == KIT_VERSION
    assert 'version = "' + KIT_VERSION + '"' in (REPO_ROOT / "pyproject.toml").read_text()
