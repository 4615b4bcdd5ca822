"""The load-test section: the post-deploy gate and the in-cluster Locust UI."""

from __future__ import annotations


from pydantic import Field

from .base import ConfigModel


class LoadTestUi(ConfigModel):
    enabled: bool = False
    workers: int = Field(default=1, ge=1, le=32)


class LoadTest(ConfigModel):
    gate: bool = True  # a Job after every change to the servers; its failure fails `pulumi up`
    profile: str = "local"  # loadtests/profiles/<name>.yaml
    smoke: bool = True
    skip_content_checks: bool = False  # tiny or test models cannot do arithmetic
    ui: LoadTestUi = Field(default_factory=LoadTestUi)
