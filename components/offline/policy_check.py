"""Run the policy pack's rules over the offline plan's resources, so the guardrails hold without
the Pulumi CLI. The offline plan fails (exit 3) on mandatory violations and prints advisory ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from policy.rules import Resource, Violation, evaluate

__all__ = ["Violation", "check_resources", "mandatory", "render"]


def check_resources(resources: list[dict[str, Any]], environment: str) -> list[Violation]:
    """resources: resources.json records (`type`, `name`, `inputs`, optionally `urn`)."""
    return evaluate([_to_resource(r) for r in resources], environment)


def mandatory(violations: Iterable[Violation]) -> list[Violation]:
    return [v for v in violations if v.level == "mandatory"]


def render(violations: Iterable[Violation]) -> list[str]:
    """One line per violation, mandatory first: `[mandatory] rule-name: Kind ns/name: message`."""
    return [str(v) for v in sorted(violations, key=lambda v: (v.level != "mandatory", v.rule, v.resource))]


def _to_resource(record: Mapping[str, Any]) -> Resource:
    return Resource(
        type=str(record["type"]), name=str(record.get("name", "")),
        inputs=record.get("inputs") or {}, urn=str(record.get("urn", "")),
    )
