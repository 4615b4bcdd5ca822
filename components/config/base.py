"""Shared pieces of the config model: the camelCase base model and the error format."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

NAMESPACE = "slmkit"


class ConfigModel(BaseModel):
    """Stack files use camelCase keys; unknown keys are errors (a typo must not be ignored)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


def key_path(loc: tuple[Any, ...]) -> str:
    """('servers', 0, 'tensorParallel') -> 'slmkit:servers[0].tensorParallel'."""
    out = f"{NAMESPACE}:{loc[0]}" if loc else NAMESPACE
    for part in loc[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@dataclass(frozen=True)
class Problem:
    """One config problem: where, what was written, what is wrong, how to fix it."""

    key: str
    value: Any
    message: str
    fix: str = ""
    warning: bool = False

    def render(self, stack_file: str) -> str:
        # value ... (Ellipsis): a key whose value is beside the point (a stray key, which may hold a secret)
        line = f"{stack_file}: {self.key}: {self.message}" if self.value is ... else \
            f"{stack_file}: {self.key} = {_show(self.value)}: {self.message}"
        return f"{line}; {self.fix}" if self.fix else line


def _show(value: Any) -> str:
    if value is None:
        return "(not set)"
    if isinstance(value, str):
        return value if value else '""'
    if isinstance(value, (dict, list)):
        text = repr(value)
        return text if len(text) <= 80 else text[:77] + "..."
    return str(value)


@dataclass
class ConfigError(Exception):
    """Raised before any resource is declared; carries every problem found, not just the first."""

    stack_file: str
    problems: list[Problem] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [p.render(self.stack_file) for p in self.problems]

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in the slmkit config:"
        return "\n".join([head, *("  " + line for line in self.lines())])


def problems_from_validation(err: ValidationError, raw: dict[str, Any], model: type[BaseModel]) -> list[Problem]:
    problems = []
    for e in err.errors():
        loc = tuple(e["loc"])
        # A discriminated union adds the tag value to the path ('cluster', 'aks', 'x'): drop it.
        loc = tuple(p for i, p in enumerate(loc) if not (i > 0 and isinstance(p, str) and _is_tag(raw, loc[:i], p)))
        value = e.get("input")
        fix = ""
        if e["type"] == "extra_forbidden":
            fix = _suggest_key(loc, model, raw)
            message = "unknown key"
        elif e["type"] == "missing":
            value = None
            message = "required key is missing"
            fix = "add it to the stack file"
        else:
            message = e["msg"][0].lower() + e["msg"][1:]
            if "must not be passed as an argument" in message:
                value = "<redacted>"  # the rejected value is a secret: never echo it
            if e["type"].startswith("literal_error") or e["type"] == "enum":
                fix = "use one of the values listed"
        problems.append(Problem(key_path(loc), value, message, fix))
    return problems


def _is_tag(raw: Any, parent_loc: tuple[Any, ...], part: str) -> bool:
    node = raw
    for p in parent_loc:
        try:
            node = node[p]
        except (KeyError, IndexError, TypeError):
            return False
    return isinstance(node, dict) and node.get("kind") == part and part not in node


def _suggest_key(loc: tuple[Any, ...], model: type[BaseModel], raw: dict[str, Any]) -> str:
    fields = _fields_at(model, loc[:-1], raw)
    if not fields:
        return "remove it"
    close = difflib.get_close_matches(str(loc[-1]), fields, n=1)
    if close:
        return f"did you mean {close[0]}?"
    return "valid keys here: " + ", ".join(sorted(fields))


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...], raw: Any) -> list[str]:
    """Walk the model along loc to list the camelCase keys allowed at that place."""

    current: Any = model
    node = raw
    for part in loc:
        node = node[part] if isinstance(node, (dict, list)) else None
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        info = next((f for n, f in current.model_fields.items() if (f.alias or n) == part or n == part), None)
        if info is None:
            return []
        current = _unwrap(info.annotation, node)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or n for n, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any, node: Any) -> Any:
    import typing

    args = typing.get_args(annotation)
    if not args:
        return annotation
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(models) > 1 and isinstance(node, dict) and "kind" in node:
        for m in models:
            kind = m.model_fields.get("kind")
            if kind is not None and node["kind"] in typing.get_args(kind.annotation):
                return m
    if models:
        return models[0]
    for a in args:
        inner = _unwrap(a, node)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return annotation
