"""The pack's rules as plain functions over (type, name, inputs), usable without the Pulumi CLI.

`evaluate()` runs every rule over a whole stack; the policy pack (`policy/__main__.py`) wraps each
rule in a pulumi-policy validation; the offline plan calls `evaluate()` on what it renders.
"""

from __future__ import annotations

from collections.abc import Sequence

from . import azure, containers, exposure, secrets
from .base import ENVIRONMENTS, Level, Resource, Rule, Violation

RULES: list[Rule] = [*containers.RULES, *secrets.RULES, *exposure.RULES, *azure.RULES]

__all__ = ["ENVIRONMENTS", "RULES", "Level", "Resource", "Rule", "Violation", "evaluate", "rule_named"]


def rule_named(name: str) -> Rule:
    return next(r for r in RULES if r.name == name)


def evaluate(resources: Sequence[Resource], environment: str, rules: Sequence[Rule] = RULES) -> list[Violation]:
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}; one of {', '.join(ENVIRONMENTS)}")
    found: list[Violation] = []
    for rule in rules:
        for resource in resources:
            found += rule.check_resource(resource, environment)
        found += rule.check_stack(resources, environment)
    return found
