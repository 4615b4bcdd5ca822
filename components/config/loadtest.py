"""The load-test section: the post-deploy gate and the in-cluster Locust UI."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from .base import ConfigModel

# The gate runs in the load-test image, which carries only the built-in profiles.
PROFILES_DIR = Path(__file__).resolve().parents[2] / "loadtests" / "profiles"


class LoadTestUi(ConfigModel):
    enabled: bool = False
    workers: int = Field(default=1, ge=1, le=32)


class LoadTest(ConfigModel):
    gate: bool = True  # a Job after every change to the servers; its failure fails `pulumi up`
    profile: str = "local"  # loadtests/profiles/<name>.yaml
    smoke: bool = True
    skip_content_checks: bool = False  # tiny or test models cannot do arithmetic
    ui: LoadTestUi = Field(default_factory=LoadTestUi)

    @field_validator("profile")
    @classmethod
    def _built_in_profile(cls, value: str) -> str:
        if not (PROFILES_DIR / f"{value}.yaml").is_file():
            known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
            raise ValueError(f"not a built-in load-test profile (the in-cluster gate has only these: {known}); "
                             "add a file to loadtests/profiles/ and rebuild the load-test image")
        return value
