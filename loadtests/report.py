"""Result files and the readable summary: summary.json, requests.jsonl, junit.xml, stdout text."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from loadtests import EXIT_INVALID, EXIT_PASS, EXIT_PREFLIGHT_FAILED, EXIT_SLO_FAILED

EXIT_CODES = {"pass": EXIT_PASS, "fail": EXIT_SLO_FAILED, "invalid": EXIT_INVALID, "preflight_failed": EXIT_PREFLIGHT_FAILED}


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def write_records(path: Path, records: list[dict]) -> None:
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")


def junit(summary: dict, extra_cases: list[ET.Element] | None = None) -> ET.ElementTree:
    """One test case per SLO rule and per validity check (plus the smoke suite's cases, if any)."""
    root = ET.Element("testsuites", name="slmkit load test")
    if summary.get("preflight"):
        suite = _suite(root, "preflight")
        case = ET.SubElement(suite, "testcase", classname="loadtest.preflight", name="endpoint, auth and model")
        if not summary["preflight"]["passed"]:
            ET.SubElement(case, "failure", message=summary["preflight"]["problem"])
    if summary.get("validity"):
        suite = _suite(root, "validity")
        for c in summary["validity"]:
            case = ET.SubElement(suite, "testcase", classname="loadtest.validity", name=f"{c['check']} {c['op']} {c['limit']:g}")
            if not c["pass"]:
                ET.SubElement(case, "failure", message=f"observed {_num(c['observed'])}: {c['why']}")
    if summary.get("rules"):
        suite = _suite(root, "slo")
        for r in summary["rules"]:
            case = ET.SubElement(suite, "testcase", classname="loadtest.slo", name=r["rule"])
            if not r["pass"]:
                ET.SubElement(case, "failure", message=f"observed {_num(r['observed'])}, required {r['op']} {r['threshold']:g}")
    if extra_cases:
        suite = _suite(root, "smoke")
        suite.extend(extra_cases)
    for suite in root:
        suite.set("tests", str(len(suite)))
        suite.set("failures", str(sum(1 for c in suite if c.find("failure") is not None)))
        suite.set("errors", str(sum(1 for c in suite if c.find("error") is not None)))
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return tree


def _suite(root: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(root, "testsuite", name=f"loadtest.{name}")


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def summary_text(summary: dict, smoke_lines: list[str] | None = None) -> str:
    lines = [f"slmkit load test: {summary['verdict'].upper()}  (exit {EXIT_CODES[summary['verdict']]})",
             f"  target {summary.get('host')}  model {summary.get('model')}  profile {summary.get('profile')}"]
    if smoke_lines:
        lines += ["  smoke:"] + [f"    {line}" for line in smoke_lines]
    pre = summary.get("preflight")
    if pre and not pre["passed"]:
        lines.append(f"  preflight failed: {pre['problem']}")
        return "\n".join([*lines, verdict_line(summary)])
    m = summary.get("metrics")
    if m:
        req = m["requests"]
        lines.append(f"  load {summary['load']}  measured {m['window_s']:.0f} s  requests ok {req['ok']}  failed {req['failed']}  "
                     f"incomplete {req['incomplete']}  error rate {m['error_rate']:.2%}")
        lines.append(f"  {'':10}{'p50':>10}{'p95':>10}{'p99':>10}")
        for key in ("ttft_ms", "tpot_ms", "itl_ms", "e2el_ms"):
            d = m[key]
            lines.append(f"  {key:<10}" + "".join(f"{_num(d[s]):>10}" for s in ("p50", "p95", "p99")))
        tok = m["output_tokens"]
        lines.append(f"  output {m['output_tokens_per_s']:.1f} tok/s ({tok['total']} tokens from {tok['source']})  "
                     f"{m['requests_per_s']:.2f} req/s  goodput {m['goodput_requests_per_s']:.2f} req/s  "
                     f"generator lag p99 {_num(m['loop_lag_ms']['p99'])} ms")
        for err, count in m.get("errors", {}).items():
            lines.append(f"  error x{count}: {err}")
    for r in summary.get("rules", []):
        lines.append(f"  [{'PASS' if r['pass'] else 'FAIL'}] {r['rule']:<28} observed {_num(r['observed'])}  ({r.get('source', 'profile')})")
    for c in summary.get("validity", []):
        if not c["pass"]:
            lines.append(f"  [INVALID] {c['check']} = {_num(c['observed'])} (limit {c['op']} {c['limit']:g}): {c['why']}")
    if summary.get("out_dir"):
        lines.append(f"  results in {summary['out_dir']}: summary.json requests.jsonl junit.xml locust-report.html")
    return "\n".join([*lines, verdict_line(summary)])


# The kubelet keeps a failed container's last 2048 bytes / 80 lines as its termination message
# (components/catalog/upstream.py TERMINATION_MESSAGE_LOG_TAIL): the last line stays well inside.
LAST_LINE_MAX_BYTES = 600


def verdict_line(summary: dict) -> str:
    """The verdict and the key figures on one short line, printed last: a failed Job's termination
    message (FallbackToLogsOnError, the log's tail) always carries it, and so does `pulumi up`'s error."""
    parts = [f"gate verdict: {summary['verdict'].upper()} (exit {EXIT_CODES[summary['verdict']]})"]
    pre = summary.get("preflight")
    if pre and not pre["passed"]:
        return parts[0]  # the line above names the problem (once: tools match that line)
    m = summary.get("metrics")
    if m:
        req = m["requests"]
        parts += [f"ttft p50/p95 {_num(m['ttft_ms']['p50'])}/{_num(m['ttft_ms']['p95'])} ms",
                  f"tpot p50/p95 {_num(m['tpot_ms']['p50'])}/{_num(m['tpot_ms']['p95'])} ms",
                  f"output {m['output_tokens_per_s']:.1f} tok/s", f"error rate {m['error_rate']:.2%}",
                  f"requests ok {req['ok']} failed {req['failed']} incomplete {req['incomplete']}"]
    failed = failed_checks(summary)
    if failed:
        parts.append("failed: " + ", ".join(failed))
    return _bounded(" | ".join(parts))


def failed_checks(summary: dict) -> list[str]:
    """The SLO rules, then the validity checks, that did not pass (names as in summary.json)."""
    failed = [r["rule"] for r in summary.get("rules", []) if not r["pass"]]
    return failed + [c["check"] for c in summary.get("validity", []) if not c["pass"]]


def _bounded(line: str) -> str:
    raw = " ".join(line.split()).encode()
    if len(raw) <= LAST_LINE_MAX_BYTES:
        return raw.decode()
    return raw[: LAST_LINE_MAX_BYTES - 3].decode(errors="ignore") + "..."

