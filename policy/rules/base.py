"""The shapes every rule shares: a resource record, a violation, a rule, and readers that accept
both plain dicts (offline plan) and pulumi-policy's read-only proxies (preview)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Level = Literal["mandatory", "advisory"]
ENVIRONMENTS = ("local", "dev", "staging", "prod")


@dataclass(frozen=True)
class Resource:
    """One declared resource as the engine sees it: Pulumi type token, name and inputs (camelCase)."""

    type: str
    name: str
    inputs: Mapping[str, Any]
    urn: str = ""

    @property
    def kind(self) -> str:
        """Kubernetes kind, or the last part of the type token for other providers."""
        if self.type.startswith("kubernetes:apiextensions.k8s.io") and "kind" in self.inputs:
            return str(self.inputs["kind"])
        return self.type.rsplit(":", 1)[-1]

    @property
    def is_kubernetes(self) -> bool:
        return self.type.startswith("kubernetes:")

    @property
    def metadata(self) -> Mapping[str, Any]:
        return as_map(self.inputs.get("metadata"))

    @property
    def namespace(self) -> str:
        return str(self.metadata.get("namespace") or "default")

    @property
    def display(self) -> str:
        """`Deployment slmkit-models/phi` for Kubernetes objects, `AgentPool gpu` otherwise."""
        meta_name = self.metadata.get("name")
        if self.is_kubernetes and meta_name:
            ns = self.metadata.get("namespace")
            return f"{self.kind} {ns}/{meta_name}" if ns else f"{self.kind} {meta_name}"
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Violation:
    rule: str
    level: Level
    resource: str
    message: str
    urn: str = ""

    def __str__(self) -> str:
        return f"[{self.level}] {self.rule}: {self.resource}: {self.message}"


ResourceCheck = Callable[[Resource, str], Iterable[str]]
StackCheck = Callable[[Sequence[Resource], str], Iterable[tuple[Resource, str]]]


@dataclass(frozen=True)
class Rule:
    """A named check. Resource rules see one resource at a time; stack rules see all of them.
    `environments` limits where the rule applies (prod-only rules)."""

    name: str
    description: str
    level: Level
    resource_check: ResourceCheck | None = None
    stack_check: StackCheck | None = None
    environments: tuple[str, ...] = field(default=ENVIRONMENTS)

    def applies_to(self, environment: str) -> bool:
        return environment in self.environments

    def check_resource(self, resource: Resource, environment: str) -> list[Violation]:
        if self.resource_check is None or not self.applies_to(environment):
            return []
        return [self._violation(resource, msg) for msg in self.resource_check(resource, environment)]

    def check_stack(self, resources: Sequence[Resource], environment: str) -> list[Violation]:
        if self.stack_check is None or not self.applies_to(environment):
            return []
        return [self._violation(r, msg) for r, msg in self.stack_check(resources, environment)]

    def _violation(self, resource: Resource, message: str) -> Violation:
        return Violation(self.name, self.level, resource.display, message, resource.urn)


def as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def as_list(value: Any) -> Sequence[Any]:
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return value
    return []


def dig(value: Any, *path: str) -> Any:
    for key in path:
        value = as_map(value).get(key)
    return value


def is_true(value: Any) -> bool:
    # Offline records carry plain JSON; preview may carry strings for enums. Only real True counts.
    return value is True


def strings_in(value: Any) -> Iterable[str]:
    """Every string leaf of a nested value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from strings_in(v)
    else:
        for v in as_list(value):
            yield from strings_in(v)
