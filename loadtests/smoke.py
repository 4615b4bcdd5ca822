"""Functional smoke checks of an OpenAI-compatible endpoint, run before any load is sent.

``python -m loadtests smoke --host URL [--api-key-file PATH] [--model NAME] --out DIR``

Per served model: chat (non-streaming and streaming), a math and a coding prompt, the
circle-area tool call for tool-capable models, max_tokens, stop, and a rejected invalid
request. Exit 0 when every check passes, 30 when any fails or the endpoint is unusable.
See docs/smoke.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from loadtests import EXIT_PASS, EXIT_PREFLIGHT_FAILED
from loadtests.deadline import positive_seconds
from loadtests.smoke_checks import CHECKS, Check
from loadtests.smoke_client import EndpointError, OpenAIEndpoint, normalise_host
from loadtests.smoke_report import CheckResult, SmokeReport
from loadtests.tls import add_ca_argument, use_ca_file

EXIT_USAGE = 2  # bad command-line input, as argparse itself uses
ALL_MODELS = "*"


@dataclass
class SmokeOptions:
    host: str
    api_key: str | None = field(repr=False)  # never printed
    models: list[str] | None  # None: every model from /v1/models
    out_dir: Path
    expect_tools: set[str] = field(default_factory=set)
    skip_content: set[str] = field(default_factory=set)  # "*" skips content checks for every model
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        normalise_host(self.host)  # ValueError on a malformed URL
        if urlsplit(self.host).username is not None:
            raise ValueError("--host must not carry credentials: pass the key with --api-key-file or OPENAI_API_KEY")
        # A stray newline from a key file or env var would make an invalid header, and the HTTP
        # library's error would quote the key: strip it, refuse keys with inner whitespace.
        if self.api_key is not None:
            self.api_key = self.api_key.strip() or None
        if self.api_key and any(ch.isspace() or not ch.isprintable() for ch in self.api_key):
            raise ValueError("the API key contains whitespace or control characters")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout must be more than 0 seconds, got {self.timeout_s}")


def add_smoke_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("smoke checks")
    group.add_argument("--host", required=True, metavar="URL", help="server root URL, e.g. http://127.0.0.1:8000 (a trailing /v1 is accepted)")
    group.add_argument("--api-key", metavar="KEY", help="API key (visible in the process list: prefer --api-key-file or OPENAI_API_KEY)")
    group.add_argument("--api-key-file", type=Path, metavar="PATH", help="file holding the API key")
    add_ca_argument(group)
    group.add_argument("--model", action="append", metavar="NAME", help="model to check (repeatable; default: every model from /v1/models)")
    group.add_argument("--out", type=Path, default=Path("smoke-results"), metavar="DIR", help="where smoke.json is written (default: smoke-results)")
    group.add_argument("--expect-tools", action="append", default=[], metavar="MODEL", help="model that must answer the circle-area tool with tool_calls (repeatable)")
    group.add_argument("--skip-content-checks", action="append", default=[], metavar="MODEL", help="skip the math and code checks for MODEL (repeatable; '*' for all), e.g. tiny test models")
    group.add_argument("--timeout", type=positive_seconds, default=120.0, metavar="S", help="timeout of each request in seconds (default: 120)")


def _resolve_api_key(ns: argparse.Namespace) -> str | None:
    if ns.api_key and ns.api_key_file:
        raise ValueError("give --api-key or --api-key-file, not both")
    if ns.api_key_file:
        try:
            key = ns.api_key_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"--api-key-file {ns.api_key_file}: {exc.strerror or exc}") from None
        if not key:
            raise ValueError(f"--api-key-file {ns.api_key_file}: the file is empty")
        return key
    return ns.api_key or os.environ.get("OPENAI_API_KEY") or None  # SmokeOptions strips and checks it


def options_from_args(ns: argparse.Namespace) -> SmokeOptions:
    """SmokeOptions from parsed arguments; ValueError with a clear message on bad input."""
    # The host URL, the key and the timeout are checked by SmokeOptions itself (the gate builds one too).
    models = list(dict.fromkeys(ns.model)) if ns.model else None
    if models is not None and any(not m.strip() for m in models):
        raise ValueError("--model needs a non-empty model name")
    return SmokeOptions(
        host=ns.host,
        api_key=_resolve_api_key(ns),
        models=models,
        out_dir=ns.out,
        expect_tools=set(ns.expect_tools),
        skip_content=set(ns.skip_content_checks),
        timeout_s=ns.timeout,
    )


def _skip_reason(check: Check, model: str, opts: SmokeOptions) -> str | None:
    if check.kind == "content" and (model in opts.skip_content or ALL_MODELS in opts.skip_content):
        return "content checks skipped for this model (--skip-content-checks)"
    if check.kind == "tools" and model not in opts.expect_tools:
        return "model not marked tool-capable (--expect-tools)"
    return None


def _run_check(endpoint: OpenAIEndpoint, check: Check, model: str) -> tuple[str | None, float]:
    started = time.perf_counter()
    try:
        reason = check.run(endpoint, model)
    except httpx.HTTPError as exc:
        reason = f"request failed: {type(exc).__name__}: {exc}"
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # A server answer of an unexpected shape (e.g. usage as a list): a failed check, not a crash.
        reason = f"unexpected answer: {type(exc).__name__}: {exc}"
    return reason, (time.perf_counter() - started) * 1000


def _redact(text: str | None, secret: str | None) -> str | None:
    """Keep the key out of results even if a server echoes it back in an error body."""
    if text is None or not secret:
        return text
    return text.replace(secret, "***")


def _check_model(endpoint: OpenAIEndpoint, model: str, served: list[str], opts: SmokeOptions) -> list[CheckResult]:
    results = []
    if opts.models is not None:
        listed = model in served
        results.append(CheckResult(
            model=model, check="served", prompt="GET /v1/models", latency_ms=0.0,
            status="pass" if listed else "fail",
            reason=None if listed else f"not in /v1/models (served: {', '.join(served) or 'none'})",
        ))
        if not listed:
            return results + [
                CheckResult(model=model, check=c.name, prompt=c.prompt, status="skipped", reason="model not served")
                for c in CHECKS
            ]
    for check in CHECKS:
        if skip := _skip_reason(check, model, opts):
            results.append(CheckResult(model=model, check=check.name, prompt=check.prompt, status="skipped", reason=skip))
            continue
        reason, latency_ms = _run_check(endpoint, check, model)
        results.append(CheckResult(
            model=model, check=check.name, prompt=check.prompt, latency_ms=round(latency_ms, 1),
            status="fail" if reason else "pass", reason=_redact(reason, opts.api_key),
        ))
        _progress(f"{model} {check.name}: {results[-1].status} ({latency_ms / 1000:.1f} s)")
    return results


def _progress(line: str) -> None:
    """One line per check as it finishes (stderr: the summary on stdout stays the result), so a slow
    model is not a silent minute."""
    print(f"smoke: {line}", file=sys.stderr, flush=True)


def run_smoke(opts: SmokeOptions) -> SmokeReport:
    """Run every check on every selected model and write ``opts.out_dir/smoke.json``."""
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    started = time.perf_counter()
    host = normalise_host(opts.host)
    error, models, results = None, list(opts.models or []), []
    with OpenAIEndpoint(host, opts.api_key, opts.timeout_s) as endpoint:
        try:
            served = endpoint.list_models()
            if not served:
                raise EndpointError("GET /v1/models lists no model")
        except EndpointError as exc:
            error = _redact(str(exc), opts.api_key)
        else:
            models = opts.models if opts.models is not None else served
            _progress(f"{len(CHECKS)} checks on {', '.join(models)} at {host}")
            for model in models:
                results += _check_model(endpoint, model, served, opts)
    report = SmokeReport(
        host=host, started_at=started_at, duration_s=round(time.perf_counter() - started, 2),
        models=models, error=error, checks=results,
    )
    report.write_json(opts.out_dir)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtests smoke",
        description="Functional smoke checks of an OpenAI-compatible endpoint (exit 0 pass, 30 fail).",
    )
    add_smoke_arguments(parser)
    ns = parser.parse_args(argv)
    try:
        use_ca_file(ns.ca_file)
        opts = options_from_args(ns)
        opts.out_dir.mkdir(parents=True, exist_ok=True)  # before any request: a bad --out fails fast
    except ValueError as exc:
        print(f"smoke: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"smoke: error: --out {ns.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    report = run_smoke(opts)
    print("\n".join(report.summary_lines()))
    print(f"results: {opts.out_dir / 'smoke.json'}")
    return EXIT_PASS if report.passed else EXIT_PREFLIGHT_FAILED


if __name__ == "__main__":
    sys.exit(main())
