"""Wrap the plain rules in pulumi-policy validations: the only module that imports pulumi_policy."""

from __future__ import annotations

import os

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import RULES
from .base import ENVIRONMENTS, Resource, Rule

_LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


def stack_environment(urn: str = "") -> str:
    """The stack's `slmkit:environment` (the CLI passes stack config to the pack), else the stack
    name, else prod: an unknown stack gets the strictest rules."""
    configured = pulumi.Config("slmkit").get("environment")
    if configured in ENVIRONMENTS:
        return configured
    stack = urn.split("::")[0].removeprefix("urn:pulumi:") if urn else os.environ.get("PULUMI_STACK", "")
    return stack if stack in ENVIRONMENTS else "prod"


def _resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        resource = Resource(args.resource_type, args.name, args.props, args.urn)
        for violation in rule.check_resource(resource, stack_environment(args.urn)):
            report(f"{violation.resource}: {violation.message}", None)

    return ResourceValidationPolicy(rule.name, rule.description, validate, _LEVELS[rule.level])


def _stack_policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        resources = [Resource(r.resource_type, r.name, r.props, r.urn) for r in args.resources]
        environment = stack_environment(resources[0].urn if resources else "")
        for violation in rule.check_stack(resources, environment):
            report(f"{violation.resource}: {violation.message}", violation.urn or None)

    return StackValidationPolicy(rule.name, rule.description, validate, _LEVELS[rule.level])


def build_policies() -> list:
    return [_stack_policy(r) if r.stack_check else _resource_policy(r) for r in RULES]
