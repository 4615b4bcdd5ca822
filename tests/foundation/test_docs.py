"""The README and the generated docs stay true."""

from __future__ import annotations

import re

from components.config.reference import reference
from tests.fixtures.plans import REPO


def test_config_reference_is_generated_from_the_current_model():
    committed = (REPO / "docs" / "config-reference.md").read_text()
    assert committed == reference(), "regenerate: python -m components.config.reference > docs/config-reference.md"


def test_readme_gives_the_two_commands_and_its_links_resolve():
    readme = (REPO / "README.md").read_text()
    assert "make deploy STACK=local" in readme and "make test" in readme
    for target in re.findall(r"\]\(((?:docs|stacks|loadtests|benchmarks|policy)/[^)#]+)", readme):
        assert (REPO / target).exists(), f"README links to {target}, which does not exist"


def test_every_make_target_the_readme_names_exists():
    makefile = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, re.MULTILINE))
    for target in set(re.findall(r"`make ([a-z-]+)", (REPO / "README.md").read_text())):
        assert target in targets, f"README names `make {target}`, which the Makefile lacks"
