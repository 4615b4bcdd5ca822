"""Load-test profiles: workload, load, SLO rules and validity limits, parsed and checked with pydantic.

A profile is a YAML file; `--profile dev` means `loadtests/profiles/dev.yaml`. SLO rules are short strings
such as `ttft_ms.p95<=500`, `error_rate<=0.01` or `output_tokens_per_s>=200`.
"""

from __future__ import annotations

import operator
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PROFILES_DIR = Path(__file__).resolve().parent / "profiles"

# Metrics with a distribution (rules need a stat) and scalar metrics (rules take none).
DISTRIBUTION_METRICS = ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms", "queue_delay_ms")
SCALAR_METRICS = ("output_tokens_per_s", "requests_per_s", "error_rate", "goodput_requests_per_s")
STATS = ("mean", "p50", "p90", "p95", "p99", "max")
OPERATORS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt}
_RULE = re.compile(r"^\s*(?P<metric>[a-z][a-z0-9_]*)(?:\.(?P<stat>[a-z0-9]+))?\s*(?P<op><=|>=|<|>)\s*(?P<value>[-+0-9.eE]+)\s*$")


class ProfileError(ValueError):
    """A profile or an override the user must fix; the message says where and how."""


RuleSource = Literal["builtin", "profile", "cli"]


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True)

    metric: str
    stat: str | None = None
    op: Literal["<=", "<", ">=", ">"]
    threshold: float
    source: RuleSource = "profile"  # where the rule came from (summary.json shows it)

    @classmethod
    def parse(cls, text: str, source: RuleSource = "profile") -> Rule:
        m = _RULE.match(text)
        if not m:
            raise ProfileError(f"SLO rule {text!r}: expected METRIC[.STAT] OP NUMBER, e.g. 'ttft_ms.p95<=500' or 'error_rate<=0.01'")
        metric, stat = m["metric"], m["stat"]
        if metric in DISTRIBUTION_METRICS:
            if stat not in STATS:
                raise ProfileError(f"SLO rule {text!r}: {metric} needs a stat, one of {', '.join(STATS)} (e.g. '{metric}.p95')")
        elif metric in SCALAR_METRICS:
            if stat is not None:
                raise ProfileError(f"SLO rule {text!r}: {metric} is a single number; drop '.{stat}'")
        else:
            raise ProfileError(f"SLO rule {text!r}: unknown metric {metric!r}; known: {', '.join(DISTRIBUTION_METRICS + SCALAR_METRICS)}")
        try:
            threshold = float(m["value"])
        except ValueError:
            raise ProfileError(f"SLO rule {text!r}: {m['value']!r} is not a number") from None
        return cls(metric=metric, stat=stat, op=m["op"], threshold=threshold, source=source)

    @property
    def name(self) -> str:
        return f"{self.metric}{'.' + self.stat if self.stat else ''}{self.op}{self.threshold:g}"

    def holds(self, observed: float | None) -> bool:
        return observed is not None and OPERATORS[self.op](observed, self.threshold)

    def per_request(self) -> bool:
        """Rules on per-request latencies also define goodput (requests meeting every such rule)."""
        return self.metric in ("ttft_ms", "tpot_ms", "e2el_ms") and self.op in ("<=", "<")


# The error budget every run is held to, whatever the profile or --slo say: rules only add to it, so
# a profile with no `slo` list or a looser error_rate rule cannot pass a run where most requests failed.
BUILTIN_MAX_ERROR_RATE = 0.05
BUILTIN_RULES = (Rule.parse(f"error_rate<={BUILTIN_MAX_ERROR_RATE:g}", source="builtin"),)


def gate_rules(profile_rules: list[Rule]) -> list[Rule]:
    """Every rule a run must meet: the built-in floor, then the profile's and the command line's (all
    of them must hold, so a rule can add or tighten, never loosen). Exact repeats are kept once."""
    rules: list[Rule] = []
    for rule in (*BUILTIN_RULES, *profile_rules):
        if rule.name not in {r.name for r in rules}:
            rules.append(rule)
    return rules


class Workload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: Literal["chat", "completions"] = "chat"
    model: str | None = Field(default=None, description="served model id; discovered from /v1/models when empty")
    prompt_tokens: int = Field(default=128, ge=1, le=131072)
    max_tokens: int = Field(default=128, ge=1, le=131072)
    ignore_eos: bool = Field(default=True, description="send ignore_eos so every answer is max_tokens long (vLLM honours it)")
    dataset: Path | None = Field(default=None, description="JSONL prompts ({'prompt': ...} or {'messages': [...]}) instead of synthetic ones")
    seed: int = 42


class Load(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["concurrency", "rate"] = "concurrency"
    users: int = Field(default=4, ge=1, le=10000, description="closed-loop concurrent streams (mode concurrency)")
    rate: float | None = Field(default=None, gt=0, description="offered requests/s over all processes (mode rate)")
    arrival: Literal["poisson", "constant"] = "poisson"
    max_in_flight: int = Field(default=256, ge=1, description="open-loop cap on requests in flight per process")
    duration_s: float = Field(default=60, gt=0, description="measured time, after warm-up")
    warmup_s: float = Field(default=5, ge=0, description="excluded from results")
    processes: int = Field(default=1, ge=1, le=256, description="load-generator processes (Locust --processes)")
    request_timeout_s: float = Field(default=120, gt=0)

    @model_validator(mode="after")
    def rate_mode_needs_rate(self) -> Load:
        if self.mode == "rate" and self.rate is None:
            raise ValueError("mode 'rate' needs load.rate (requests/s)")
        return self


class Validity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The bounds are the gate's floor: a profile may tighten a limit, not switch the check off.
    min_requests: int = Field(default=10, ge=1, description="fewest completed requests in the measured window")
    max_loop_lag_ms: float = Field(default=20, gt=0, le=500, description="p99 event-loop lag of the load generator")
    require_usage: bool = Field(default=True, description="every answer must report usage (exact token counts)")
    min_rate_ratio: float = Field(default=0.95, ge=0.5, le=1, description="achieved/offered request rate (mode rate)")
    max_incomplete_ratio: float = Field(default=0.2, ge=0, le=0.5, description="requests cut by the end of the run")


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    workload: Workload = Workload()
    load: Load = Load()
    slo: list[Rule] = Field(default_factory=list)
    validity: Validity = Validity()

    @field_validator("slo", mode="before")
    @classmethod
    def parse_rules(cls, value):
        if not isinstance(value, list):
            raise ValueError("slo must be a list of rules such as 'ttft_ms.p95<=500'")
        return [Rule.parse(v) if isinstance(v, str) else v for v in value]


def resolve_profile_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ProfileError(f"profile {name_or_path}: file not found")
        return path
    candidate = PROFILES_DIR / f"{name_or_path}.yaml"
    if not candidate.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
        raise ProfileError(f"profile {name_or_path!r}: no such file and no built-in profile of that name (built-in: {known})")
    return candidate


def load_profile(name_or_path: str) -> Profile:
    path = resolve_profile_path(name_or_path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    try:
        return Profile.model_validate(raw)
    except ProfileError as exc:
        raise ProfileError(f"{path}: {exc}") from None
    except ValidationError as exc:
        raise ProfileError(f"{path}: " + "; ".join(_describe(e) for e in exc.errors())) from None


def _describe(error: dict) -> str:
    where = ".".join(str(p) for p in error["loc"]) or "(top level)"
    given = error.get("input")
    shown = "" if isinstance(given, (dict, list)) else f" = {given!r}"
    return f"{where}{shown}: {error['msg']}"
