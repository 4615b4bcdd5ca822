"""Results of a smoke run: smoke.json, JUnit test cases and short summary lines."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, computed_field

Status = Literal["pass", "fail", "skipped"]


class CheckResult(BaseModel):
    model: str
    check: str
    prompt: str
    status: Status
    latency_ms: float | None = None  # None when the check was skipped
    reason: str | None = None  # why it failed or was skipped


class SmokeReport(BaseModel):
    host: str
    started_at: str  # ISO 8601, UTC
    duration_s: float
    models: list[str]
    # Set when the endpoint as a whole was unusable (unreachable, key rejected): no check ran.
    error: str | None = None
    checks: list[CheckResult] = []

    @computed_field
    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.status != "fail" for c in self.checks)

    @computed_field
    @property
    def counts(self) -> dict[str, int]:
        return {status: sum(c.status == status for c in self.checks) for status in ("pass", "fail", "skipped")}

    def write_json(self, out_dir: Path) -> Path:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / "smoke.json"
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path

    def junit_testcases(self) -> list[ET.Element]:
        """One <testcase> per check (classname ``smoke.<model>``), for the gate's JUnit file."""
        if self.error is not None:
            case = ET.Element("testcase", classname="smoke.endpoint", name="models", time="0")
            ET.SubElement(case, "failure", message=self.error, type="SmokeEndpointError")
            return [case]
        cases = []
        for result in self.checks:
            seconds = (result.latency_ms or 0.0) / 1000
            case = ET.Element("testcase", classname=f"smoke.{result.model}", name=result.check, time=f"{seconds:.3f}")
            if result.status == "fail":
                ET.SubElement(case, "failure", message=result.reason or "", type="SmokeCheckFailed")
            elif result.status == "skipped":
                ET.SubElement(case, "skipped", message=result.reason or "")
            cases.append(case)
        return cases

    def summary_lines(self) -> list[str]:
        """A verdict line, then one line per check (failures carry their reason)."""
        if self.error is not None:
            return [f"smoke FAILED at {self.host}: {self.error}"]
        counts = self.counts
        verdict = "passed" if self.passed else "FAILED"
        lines = [
            f"smoke {verdict} at {self.host}: {counts['pass']} passed, {counts['fail']} failed, "
            f"{counts['skipped']} skipped ({len(self.models)} model(s), {self.duration_s:.1f} s)"
        ]
        for result in self.checks:
            latency = f"{result.latency_ms:7.0f} ms" if result.latency_ms is not None else " " * 10
            line = f"  {result.status.upper():<7} {result.model} {result.check:<16} {latency}"
            if result.reason:
                line += f"  {result.reason}"
            lines.append(line)
        return lines
