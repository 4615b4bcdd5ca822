"""Tests of the policy pack (policy/) and of the offline plan's policy check.

If tests/ is not a package, pytest imports this folder as the top-level package `policy`, which
hides the real policy/ folder; adding that folder to __path__ keeps `policy.rules` importable
either way."""

from pathlib import Path

__path__.append(str(Path(__file__).resolve().parents[2] / "policy"))
