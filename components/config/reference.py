"""Generate the config reference (docs/config-reference.md) from the model itself, so it cannot
drift from what the kit accepts.

    python -m components.config.reference > docs/config-reference.md
"""

from __future__ import annotations

import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from . import StackConfig

HEADER = """# Config reference

Every key of the `slmkit:` namespace in `stacks/Pulumi.<stack>.yaml`, generated from the config
model (`python -m components.config.reference`). Keys are camelCase; unknown keys are errors.
Secret values are set with `pulumi config set --secret`: `slmkit:hfToken` (Hugging Face token,
needed for gated models), `slmkit:apiKeys` (gateway client keys, JSON object name -> key; generated
when absent), `slmkit:grafanaAdminPassword` (generated when absent), `slmkit:chatUiOidcClientSecret`
(the chat UI's OIDC client secret). The list is `components/config/stackfile.py` SECRET_KEYS; any of
them written as a plain value is refused (exit 2) with the `pulumi config set --secret` command.

| key | type | default |
|---|---|---|
"""


def _type_name(annotation: typing.Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(repr(a) for a in args)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        return " \\| ".join(_type_name(a) for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (list, dict, tuple):
        return f"{origin.__name__}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _models_in(annotation: typing.Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _models_in(a)]


def rows(model: type[BaseModel], prefix: str) -> list[str]:
    out = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        nested = _models_in(info.annotation)
        if info.default_factory is not None:
            default = "see below" if nested else repr(info.default_factory())
        elif info.default is PydanticUndefined:
            default = "**required**"
        else:
            default = f"`{info.default!r}`"
        out.append(f"| `{key}` | {_type_name(info.annotation)} | {default} |")
        for sub in nested:
            is_list = typing.get_origin(info.annotation) is list
            tag = ""
            if len(nested) > 1 and "kind" in sub.model_fields:
                tag = f" (kind: {typing.get_args(sub.model_fields['kind'].annotation)[0]})"
            child_prefix = f"{key}[]." if is_list else f"{key}."
            if tag:
                out.append(f"| *{key}{tag}* | | |")
            out += rows(sub, child_prefix)
    return out


def reference() -> str:
    return HEADER + "\n".join(rows(StackConfig, "slmkit:")) + "\n"


if __name__ == "__main__":
    print(reference(), end="")
