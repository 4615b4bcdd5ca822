"""Kubernetes resource quantities ("500m", "8Gi", "1.5G") as numbers, for capacity arithmetic."""

from __future__ import annotations

import re

_SUFFIX = {
    "": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}
_PATTERN = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def parse_quantity(text: str | float) -> float:
    if isinstance(text, (int, float)):
        return float(text)
    match = _PATTERN.match(text.strip())
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {text!r} (examples: 500m, 2, 8Gi, 512Mi)")
    number, suffix = match.groups()
    return float(number) * _SUFFIX[suffix or ""]


GIB = 2**30
