"""`python -m loadtests run`: the pass/fail gate after a deployment.

Preflight (endpoint, auth, model) -> smoke suite -> Locust headless (loadtests/locustfile.py) ->
exact metrics, validity and SLO rules -> summary.json, requests.jsonl, junit.xml, Locust's HTML report.
Exit 0 pass, 10 SLO failed, 20 run invalid, 30 preflight or smoke failed, 2 bad usage.
Every request and every phase has a wall-clock deadline: the run always ends with summary.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from loadtests import EXIT_PREFLIGHT_FAILED
from loadtests.deadline import (KILL_GRACE_S, PREFLIGHT_SLACK_S, PREFLIGHT_TIMEOUT_S, REPORT_DEADLINE_S, SMOKE_DEADLINE_MAX_S,
                                PhaseDeadline, fetch, load_deadline_s, positive_seconds, run_with_deadline)
from loadtests.gate_result import publish_from_env
from loadtests.metrics import check_validity, compute_metrics, evaluate_rules, phase, verdict
from loadtests.profile import Profile, ProfileError, Rule, gate_rules, load_profile
from loadtests.prompts import PromptError, dataset_prompts
from loadtests.report import EXIT_CODES, junit, summary_text, write_json, write_records
from loadtests.tls import add_ca_argument, untrusted, use_ca_file

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
EXIT_USAGE = 2


@dataclass
class Target:
    host: str
    api_key: str
    model: str | None = None


def add_target_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", required=True, help="base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:8000")
    p.add_argument("--profile", default="dev", help="profile name (smoke, local, dev, staging, prod) or a YAML path")
    p.add_argument("--out", type=Path, default=Path("loadtest-results"), help="folder for the result files")
    key = p.add_mutually_exclusive_group()
    key.add_argument("--api-key", default=None, help="bearer token (prefer OPENAI_API_KEY or --api-key-file: args show in ps)")
    key.add_argument("--api-key-file", type=Path, default=None, help="file holding the key, e.g. a mounted Kubernetes Secret")
    add_ca_argument(p)
    o = p.add_argument_group("overrides of the profile")
    o.add_argument("--model", help="served model id (default: the profile's, else the first from /v1/models)")
    o.add_argument("--endpoint", choices=["chat", "completions"])
    o.add_argument("--users", type=int, help="closed-loop concurrent streams (switches to concurrency mode)")
    o.add_argument("--rate", type=float, help="open-loop requests/s over all processes (switches to rate mode)")
    o.add_argument("--arrival", choices=["poisson", "constant"])
    o.add_argument("--duration", type=float, help="measured seconds (after warm-up)")
    o.add_argument("--warmup", type=float, help="warm-up seconds, excluded from results")
    o.add_argument("--max-tokens", type=int, help="output tokens per request")
    o.add_argument("--prompt-tokens", type=int, help="synthetic prompt length")
    o.add_argument("--dataset", type=Path, help="JSONL prompts instead of synthetic ones")
    o.add_argument("--processes", type=int, help="load-generator processes (raise when the run is invalid for lag)")
    o.add_argument("--slo", action="append", default=None, metavar="RULE",
                   help="SLO rule, repeatable, added to the profile's and the built-in error budget (all must hold): "
                        "'ttft_ms.p95<=500', 'error_rate<=0.01', 'output_tokens_per_s>=200'")
    p.add_argument("--preflight-timeout", type=positive_seconds, default=PREFLIGHT_TIMEOUT_S, metavar="S",
                   help="wall-clock deadline of the preflight request (GET /v1/models), seconds")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests run", description=__doc__.split("\n\n")[0])
    add_target_arguments(p)
    s = p.add_argument_group("smoke suite (runs first; a failure exits 30 before any load)")
    s.add_argument("--no-smoke", action="store_true", help="skip the smoke suite")
    s.add_argument("--expect-tools", action="append", default=[], metavar="MODEL", help="MODEL must answer tool calls (repeatable)")
    s.add_argument("--skip-content-checks", action="append", default=[], metavar="MODEL|*", help="skip answer-content checks for MODEL (repeatable)")
    s.add_argument("--smoke-timeout", type=positive_seconds, default=60.0, help="wall-clock deadline of each smoke request, seconds")
    s.add_argument("--smoke-deadline", type=positive_seconds, default=None, metavar="S",
                   help=f"deadline of the whole smoke suite (default: 15 x --smoke-timeout, at most {SMOKE_DEADLINE_MAX_S:g} s)")
    return p



def effective_profile(args: argparse.Namespace) -> Profile:
    profile = load_profile(args.profile)
    work, load = profile.workload.model_dump(), profile.load.model_dump()
    for arg, key in (("model", "model"), ("endpoint", "endpoint"), ("max_tokens", "max_tokens"),
                     ("prompt_tokens", "prompt_tokens"), ("dataset", "dataset")):
        if getattr(args, arg) is not None:
            work[key] = getattr(args, arg)
    if args.users is not None and args.rate is not None:
        raise ProfileError("--users and --rate: give one (closed-loop concurrency or open-loop rate)")
    if args.users is not None:
        load.update(mode="concurrency", users=args.users)
    if args.rate is not None:
        load.update(mode="rate", rate=args.rate)
    for arg, key in (("arrival", "arrival"), ("duration", "duration_s"), ("warmup", "warmup_s"), ("processes", "processes")):
        if getattr(args, arg) is not None:
            load[key] = getattr(args, arg)
    data = profile.model_dump()
    changed = [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
               for part, new in (("workload", work), ("load", load)) for k, v in new.items() if data[part][k] != v]
    data.update(workload=work, load=load)
    if args.slo:  # added to the profile's: every rule must hold, so a flag can add or tighten, never loosen
        data["slo"] = [*profile.slo, *(Rule.parse(text, source="cli") for text in args.slo)]
        changed.append("slo+=" + ",".join(args.slo))
    if changed and data.get("description"):
        # The header and summary.json show what ran, not only what the profile file says.
        data["description"] = f"{data['description']} [command line: {', '.join(changed)}]"
    try:
        profile = Profile.model_validate(data)
    except ValueError as exc:
        raise ProfileError(f"overrides: {exc}") from None
    if profile.workload.dataset is not None:
        try:
            dataset_prompts(profile.workload.dataset, profile.workload.seed)  # fail now, not inside Locust
        except PromptError as exc:
            raise ProfileError(str(exc)) from None
    return profile


def resolve_api_key(args: argparse.Namespace) -> str:
    if args.api_key_file is not None:
        try:
            return args.api_key_file.read_text().strip()
        except OSError as exc:
            raise ProfileError(f"--api-key-file {args.api_key_file}: {exc.strerror}") from None
    return args.api_key or os.environ.get("OPENAI_API_KEY", "")


def preflight(target: Target, timeout_s: float = 10.0) -> str | None:
    """Check the endpoint answers, accepts the key and serves the model; fill target.model. Returns the problem."""
    headers = {"Authorization": f"Bearer {target.api_key}"} if target.api_key else {}
    url = target.host.rstrip("/") + "/v1/models"
    try:
        with httpx.Client() as client:
            resp = fetch(client, "GET", url, timeout_s, headers=headers)  # wall clock: a trickling server fails too
    except httpx.HTTPError as exc:
        return untrusted(exc) or f"endpoint unreachable: GET {url}: {type(exc).__name__}: {exc}"
    if resp.status_code in (401, 403):
        return f"auth rejected: GET {url} answered HTTP {resp.status_code} (check the API key)"
    if resp.status_code != 200:
        return f"GET {url} answered HTTP {resp.status_code}: {resp.text[:200]}"
    try:
        served = [m["id"] for m in resp.json()["data"]]
    except (ValueError, KeyError, TypeError):
        return f"GET {url}: not an OpenAI model list: {resp.text[:200]}"
    if target.model is None:
        if not served:
            return f"GET {url}: the server lists no model"
        target.model = served[0]
    elif target.model not in served:
        return f"model missing: {target.model!r} is not served (served: {', '.join(served) or 'none'})"
    return None


def checked_preflight(target: Target, timeout_s: float) -> str | None:
    """The preflight under its phase deadline (the request's own deadline plus a little)."""
    try:
        return run_with_deadline(lambda: preflight(target, timeout_s), timeout_s + PREFLIGHT_SLACK_S, "preflight")
    except PhaseDeadline as exc:
        return str(exc)


def run_smoke(args: argparse.Namespace, target: Target, out_dir: Path):
    from loadtests import smoke  # lazy: `run --no-smoke` works without the smoke suite

    opts = smoke.SmokeOptions(host=target.host, api_key=target.api_key, models=[target.model] if target.model else None,
                              out_dir=out_dir, expect_tools=set(args.expect_tools), skip_content=set(args.skip_content_checks),
                              timeout_s=args.smoke_timeout)
    return smoke.run_smoke(opts)


def locust_command(profile: Profile, target: Target, out_dir: Path) -> list[str]:
    w, load = profile.workload, profile.load
    if load.mode == "rate":
        user_class, users = "OpenLoopUser", load.processes
        extra = ["--rate-per-user", f"{load.rate / users:.6f}", "--arrival", load.arrival, "--max-in-flight", str(load.max_in_flight)]
    else:
        user_class, users, extra = "ClosedLoopUser", load.users, []
    cmd = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", target.host,
           "--users", str(users), "--spawn-rate", str(users), "--only-summary", "--html", str(out_dir / "locust-report.html"),
           # The stop waits a second past the request deadline, so a request still open at the end has
           # either finished or failed at its deadline (a hung stream is a failure, not "incomplete").
           "--stop-timeout", f"{load.request_timeout_s + 1:g}", "--request-timeout", f"{load.request_timeout_s:g}",
           "--endpoint", w.endpoint, "--model", target.model or "", "--prompt-tokens", str(w.prompt_tokens),
           "--max-tokens", str(w.max_tokens), "--ignore-eos", "true" if w.ignore_eos else "false", "--seed", str(w.seed),
           "--warmup-s", f"{load.warmup_s:g}", "--measure-s", f"{load.duration_s:g}", "--records-out", str(out_dir / "raw"),
           *extra]
    if w.dataset:
        cmd += ["--dataset", str(w.dataset)]
    if load.processes > 1:
        cmd += ["--processes", str(load.processes)]
    return cmd + [user_class]


def execute_load(profile: Profile, target: Target, out_dir: Path, smoke_cases=None) -> dict:
    """Run Locust with this profile and evaluate it; returns the summary (also written to out_dir)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    raw_dir = out_dir / "raw"
    for stale in (raw_dir / "requests.raw.jsonl", raw_dir / "run.json"):
        stale.unlink(missing_ok=True)
    env = {**os.environ, "OPENAI_API_KEY": target.api_key, "PYTHONUNBUFFERED": "1"}  # the key never goes on the command line
    load = profile.load
    shape = f"{load.users} users" if load.mode == "concurrency" else f"{load.rate:g} req/s {load.arrival}"
    print(f"load: {shape}, {load.warmup_s:g} s warm-up + {load.duration_s:g} s measured, {load.processes} process(es)", flush=True)
    with open(out_dir / "locust.log", "w") as log:
        # Own process group: Locust's forked workers (--processes) idle for the stop timeout after the
        # master exits; we end the whole group once the master is done.
        proc = subprocess.Popen(locust_command(profile, target, out_dir), env=env, stderr=log, text=True, start_new_session=True)
        deadline_s = load_deadline_s(load.warmup_s, load.duration_s, load.request_timeout_s)
        overran = False
        try:
            proc.wait(timeout=deadline_s)
        except subprocess.TimeoutExpired:
            overran = True
        finally:
            stop_group(proc)
    summary = base_summary(profile, target, out_dir)
    try:
        records = [json.loads(line) for line in (raw_dir / "requests.raw.jsonl").read_text().splitlines()]
        run = json.loads((raw_dir / "run.json").read_text())
    except FileNotFoundError:
        why = (f"the load phase overran its deadline ({deadline_s:g} s) and was stopped" if overran
               else "Locust wrote no records")
        summary.update(verdict="invalid", validity=[{"check": "load_generator_finished", "observed": proc.returncode, "op": "==",
                                                     "limit": 0, "pass": False, "why": f"{why}; see {out_dir / 'locust.log'}"}])
        return finish(summary, [], out_dir, smoke_cases)
    try:
        evaluated = run_with_deadline(lambda: evaluate(profile, records, run), REPORT_DEADLINE_S, "report")
    except PhaseDeadline as exc:
        summary.update(verdict="invalid", validity=[{"check": "report_finished", "observed": None, "op": "==", "limit": 0,
                                                     "pass": False, "why": str(exc)}])
        return finish(summary, [], out_dir, smoke_cases)
    summary.update(evaluated, run={"started_at": run["started_at"], "measure_from": run["measure_from"],
                                   "load_stopped_at": run["load_stopped_at"], "processes": load.processes,
                                   "locust_exit_code": proc.returncode})
    return finish(summary, records, out_dir, smoke_cases)


def stop_group(proc: subprocess.Popen) -> None:
    """End Locust's process group: SIGTERM, then SIGKILL if it is still there after the grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=KILL_GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def evaluate(profile: Profile, records: list[dict], run: dict) -> dict:
    """Metrics, validity, rules (built-in floor + profile + command line) and the verdict of one run."""
    load = profile.load
    rules = gate_rules(profile.slo)
    metrics = compute_metrics(records, run, rules)
    for r in records:
        r["phase"] = phase(r, run["measure_from"], run["load_stopped_at"])
    offered = load.rate if load.mode == "rate" else None
    validity = check_validity(metrics, profile, offered)
    results = evaluate_rules(metrics, rules)
    return {"verdict": verdict(results, validity), "metrics": metrics, "rules": results, "validity": validity}


def base_summary(profile: Profile, target: Target, out_dir: Path) -> dict:
    load = profile.load
    return {"verdict": None, "host": target.host, "model": target.model, "profile": profile.description or None,
            "load": f"{load.users} users" if load.mode == "concurrency" else f"{load.rate:g} req/s ({load.arrival})",
            "config": json.loads(profile.model_dump_json()), "out_dir": str(out_dir),
            "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def finish(summary: dict, records: list[dict], out_dir: Path, smoke_cases=None) -> dict:
    write_records(out_dir / "requests.jsonl", records)
    write_json(out_dir / "summary.json", summary)
    junit(summary, smoke_cases).write(out_dir / "junit.xml", encoding="utf-8", xml_declaration=True)
    return summary


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        profile = effective_profile(args)
        api_key = resolve_api_key(args)
        use_ca_file(args.ca_file)
    except (ProfileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = Target(args.host.rstrip("/"), api_key, profile.workload.model)
    problem = checked_preflight(target, args.preflight_timeout)
    if problem:
        summary = base_summary(profile, target, out_dir)
        summary.update(verdict="preflight_failed", preflight={"passed": False, "problem": problem})
        finish(summary, [], out_dir)
        return conclude(summary, EXIT_PREFLIGHT_FAILED, args)
    smoke_lines, smoke_cases = None, None
    if not args.no_smoke:
        deadline_s = args.smoke_deadline or min(SMOKE_DEADLINE_MAX_S, 15 * args.smoke_timeout)
        try:
            report = run_with_deadline(lambda: run_smoke(args, target, out_dir), deadline_s, "smoke suite")
        except PhaseDeadline as exc:
            report, problem = None, str(exc)
        else:
            smoke_lines, smoke_cases = report.summary_lines(), report.junit_testcases()
            problem = None if report.passed else "smoke suite failed (see smoke.json)"
        if problem:
            summary = base_summary(profile, target, out_dir)
            summary.update(verdict="preflight_failed", preflight={"passed": False, "problem": problem})
            finish(summary, [], out_dir, smoke_cases)
            return conclude(summary, EXIT_PREFLIGHT_FAILED, args, smoke_lines)
    profile = profile.model_copy(update={"workload": profile.workload.model_copy(update={"model": target.model})})
    summary = execute_load(profile, target, out_dir, smoke_cases)
    return conclude(summary, EXIT_CODES[summary["verdict"]], args, smoke_lines)


def conclude(summary: dict, exit_code: int, args: argparse.Namespace, smoke_lines: list[str] | None = None) -> int:
    """After summary.json: publish the result for the stack output (in the kit's Job), then print the
    summary last, so the log's last lines (the Job's termination message) carry the verdict."""
    note = publish_from_env(summary, exit_code, args.profile)
    if note:
        print(note, flush=True)
    print(summary_text(summary, smoke_lines), flush=True)
    return exit_code
