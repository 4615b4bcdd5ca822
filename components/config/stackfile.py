"""Reading a stack file: YAML errors and duplicate keys as one `file:line:column: what` line, keys
outside the `slmkit:` namespace that were probably meant for it, and secrets written in plain text.

Both loaders use these: the offline plan reads the file, `pulumi up` gets the same keys from the CLI.
"""

from __future__ import annotations

import difflib
from typing import Any, Iterable

import yaml

from .base import NAMESPACE, ConfigError, Problem

# Every key the kit reads with get_secret: set with `pulumi config set --secret`, never plain text.
# (The value each takes, for the fix: the command is printed, the written value never is.)
SECRET_KEYS: dict[str, str] = {
    "hfToken": "hf_...",
    "apiKeys": "'{\"primary\": \"<32+ random characters>\"}'",
    "grafanaAdminPassword": "<password>",
    "chatUiOidcClientSecret": "<client secret>",
}


class StackFileError(ConfigError):
    """The file cannot be read as YAML (or repeats a key): one line, as compilers print it."""

    def __init__(self, stack_file: str, line: int, column: int, message: str):
        super().__init__(stack_file, [Problem("(yaml)", None, message)])
        self.line, self.column, self.message = line, column, message

    def lines(self) -> list[str]:
        return [f"{self.stack_file}:{self.line}:{self.column}: {self.message}"]

    def __str__(self) -> str:
        return self.lines()[0]


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                first = seen[key].start_mark
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key!r} (first written at line {first.line + 1}); keep one of them",
                    problem_mark=key_node.start_mark)
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def read_stack_yaml(text: str, shown: str) -> dict[str, Any]:
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        raise _one_line(err, shown) from None
    except yaml.YAMLError as err:
        raise StackFileError(shown, 1, 1, str(err).replace("\n", " ")) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict) or not isinstance(doc.get("config", {}) or {}, dict):
        raise StackFileError(shown, 1, 1, "a stack file is a mapping with a `config:` mapping inside; "
                                          "start from stacks/Pulumi.local.yaml")
    return doc


def _one_line(err: yaml.MarkedYAMLError, shown: str) -> StackFileError:
    mark = err.problem_mark or err.context_mark
    problem = err.problem or err.context or "not valid YAML"
    if "'\\t'" in problem:
        problem = "a tab character: YAML indents with spaces only; replace the tab with spaces"
    elif err.context and err.context_mark is not None and err.context_mark is not mark:
        where = err.context.removeprefix("while ")
        problem += f" ({where} that starts at line {err.context_mark.line + 1}, column {err.context_mark.column + 1})"
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return StackFileError(shown, line, column, problem.replace("<stream end>", "the end of the file"))


def stray_key_problems(keys: Iterable[str], fields: list[str]) -> list[Problem]:
    """Keys meant for slmkit that it would never read: a namespace typo or no namespace at all.
    Other namespaces (azure-native:, kubernetes:, pulumi:) belong to providers and are left alone."""
    problems = []
    for full_key in keys:
        ns, colon, name = str(full_key).partition(":")
        if not colon:
            guess = _close(ns, fields)
            fix = f"did you mean {NAMESPACE}:{guess}?" if guess else f"prefix it with {NAMESPACE}: or remove it"
            problems.append(Problem(str(full_key), ..., "a key without a namespace; slmkit reads only slmkit: keys", fix))
        elif ns != NAMESPACE and _looks_like_namespace(ns):
            guess = name if name in fields else _close(name, fields)
            fix = f"did you mean {NAMESPACE}:{guess or name}?"
            problems.append(Problem(str(full_key), ..., f"namespace '{ns}' is not '{NAMESPACE}', so this key would be ignored", fix))
    return problems


def meant_keys(problems: list[Problem]) -> set[str]:
    """The slmkit: keys the stray keys probably meant (their 'missing' errors would only mislead)."""
    return {p.fix.removeprefix("did you mean ").removesuffix("?") for p in problems if p.fix.startswith("did you mean ")}


def plain_secret_problems(plain_names: Iterable[str], stack: str | None) -> list[Problem]:
    """Secret keys written as plain values: they would be committed, and read as non-secrets."""
    where = f" --stack {stack}" if stack else ""
    return [Problem(f"{NAMESPACE}:{name}", "<redacted>", "a secret written in plain text (it would be committed and stored unencrypted)",
                    f"delete it from the stack file and run `pulumi config set --secret {NAMESPACE}:{name} {SECRET_KEYS[name]}{where}`")
            for name in plain_names if name in SECRET_KEYS]


def _looks_like_namespace(ns: str) -> bool:
    return ns.lower() == NAMESPACE or difflib.SequenceMatcher(None, ns.lower(), NAMESPACE).ratio() >= 0.7


def _close(name: str, fields: list[str]) -> str | None:
    found = difflib.get_close_matches(name, fields, n=1, cutoff=0.7)
    if found:
        return found[0]
    lowered = {f.lower(): f for f in fields}
    return lowered.get(name.lower())
