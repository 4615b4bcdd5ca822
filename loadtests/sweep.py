"""`python -m loadtests sweep`: step the load up until an SLO breaks; report the highest load meeting every SLO.

Each step is a full gate run (same profile, same rules) in OUT/step-NN-<level>/. The sweep writes
sweep.json, sweep.csv and sweep.png (output throughput against TTFT/TPOT p95, one point per step).
Exit 0 when at least one step passed, 10 when none did, 20 when the first step was invalid, 30 preflight.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from loadtests import EXIT_INVALID, EXIT_PASS, EXIT_PREFLIGHT_FAILED, EXIT_SLO_FAILED
from loadtests.gate import EXIT_USAGE, Target, add_target_arguments, checked_preflight, effective_profile, execute_load, resolve_api_key
from loadtests.profile import Profile, ProfileError, gate_rules
from loadtests.tls import use_ca_file

DEFAULT_LEVELS = {"concurrency": "1,2,4,8,16,32,64", "rate": "0.5,1,2,4,8,16,32"}
CSV_FIELDS = ("step", "level", "verdict", "requests_per_s", "output_tokens_per_s", "goodput_requests_per_s", "error_rate",
              "ttft_ms_p50", "ttft_ms_p95", "tpot_ms_p50", "tpot_ms_p95", "e2el_ms_p95", "loop_lag_ms_p99", "failed_rules")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests sweep", description=__doc__.split("\n\n")[0])
    add_target_arguments(p)
    p.add_argument("--levels", help="comma-separated load levels: users (concurrency) or req/s (rate); "
                                    f"default {DEFAULT_LEVELS['concurrency']} or {DEFAULT_LEVELS['rate']}")
    p.add_argument("--keep-going", action="store_true", help="run every level even after an SLO breaks")
    return p


def parse_levels(text: str, mode: str) -> list[float]:
    try:
        levels = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ProfileError(f"--levels {text!r}: expected numbers separated by commas, e.g. 1,2,4,8") from None
    if not levels or any(x <= 0 for x in levels) or levels != sorted(levels):
        raise ProfileError(f"--levels {text!r}: expected increasing positive numbers")
    if mode == "concurrency" and any(x != int(x) for x in levels):
        raise ProfileError(f"--levels {text!r}: concurrency levels are whole numbers of users")
    return levels


def at_level(profile: Profile, level: float) -> Profile:
    key = "users" if profile.load.mode == "concurrency" else "rate"
    value = int(level) if key == "users" else level
    return profile.model_copy(update={"load": profile.load.model_copy(update={key: value})})


def row(step: int, level: float, summary: dict) -> dict:
    m = summary.get("metrics") or {}

    def stat(key, s):
        return (m.get(key) or {}).get(s)

    return {"step": step, "level": level, "verdict": summary["verdict"], "requests_per_s": m.get("requests_per_s"),
            "output_tokens_per_s": m.get("output_tokens_per_s"), "goodput_requests_per_s": m.get("goodput_requests_per_s"),
            "error_rate": m.get("error_rate"), "ttft_ms_p50": stat("ttft_ms", "p50"), "ttft_ms_p95": stat("ttft_ms", "p95"),
            "tpot_ms_p50": stat("tpot_ms", "p50"), "tpot_ms_p95": stat("tpot_ms", "p95"), "e2el_ms_p95": stat("e2el_ms", "p95"),
            "loop_lag_ms_p99": stat("loop_lag_ms", "p99"),
            "failed_rules": ";".join(r["rule"] for r in summary.get("rules", []) if not r["pass"])
                            or ";".join(c["check"] for c in summary.get("validity", []) if not c["pass"])}


def plot(rows: list[dict], mode: str, best: float | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [r["output_tokens_per_s"] or 0 for r in rows]
    fig, ax = plt.subplots(figsize=(8, 5))
    for key, label, marker in (("ttft_ms_p95", "TTFT p95 (ms)", "o"), ("tpot_ms_p95", "TPOT p95 (ms)", "s")):
        ax.plot(xs, [r[key] for r in rows], marker=marker, label=label)
    unit = "users" if mode == "concurrency" else "req/s"
    for r, x in zip(rows, xs, strict=True):
        colour = {"pass": "green", "fail": "red"}.get(r["verdict"], "grey")
        ax.annotate(f"{r['level']:g} {unit}\n{r['verdict']}", (x, r["ttft_ms_p95"] or 0), textcoords="offset points",
                    xytext=(4, 6), fontsize=8, color=colour)
    ax.set_xlabel("output throughput (tokens/s)")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    title = f"saturation sweep: highest passing load {best:g} {unit}" if best is not None else "saturation sweep: no load level passed"
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        profile = effective_profile(args)
        api_key = resolve_api_key(args)
        mode = profile.load.mode
        levels = parse_levels(args.levels or DEFAULT_LEVELS[mode], mode)
        use_ca_file(args.ca_file)
    except (ProfileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out_dir = args.out.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = Target(args.host.rstrip("/"), api_key, profile.workload.model)
    problem = checked_preflight(target, args.preflight_timeout)
    if problem:
        print(f"sweep: preflight failed: {problem}")
        return EXIT_PREFLIGHT_FAILED
    profile = profile.model_copy(update={"workload": profile.workload.model_copy(update={"model": target.model})})
    rows: list[dict] = []
    for step, level in enumerate(levels, 1):
        print(f"\n== sweep step {step}/{len(levels)}: {level:g} {'users' if mode == 'concurrency' else 'req/s'}", flush=True)
        summary = execute_load(at_level(profile, level), target, out_dir / f"step-{step:02d}-{level:g}")
        rows.append(row(step, level, summary))
        r = rows[-1]
        print(f"   -> {r['verdict']}: {r['output_tokens_per_s']:.1f} tok/s, TTFT p95 {r['ttft_ms_p95'] or float('nan'):.0f} ms, "
              f"TPOT p95 {r['tpot_ms_p95'] or float('nan'):.1f} ms {('(' + r['failed_rules'] + ')') if r['failed_rules'] else ''}", flush=True)
        if summary["verdict"] != "pass" and not args.keep_going:
            break
    passing = [r for r in rows if r["verdict"] == "pass"]
    best = max((r["level"] for r in passing), default=None)
    best_row = next((r for r in passing if r["level"] == best), None)
    result = {"mode": mode, "levels": levels, "highest_passing_level": best,
              "highest_passing": best_row, "steps": rows,
              "rules": [{"rule": rule.name, "source": rule.source} for rule in gate_rules(profile.slo)]}
    (out_dir / "sweep.json").write_text(json.dumps(result, indent=2) + "\n")
    with open(out_dir / "sweep.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    plot(rows, mode, best, out_dir / "sweep.png")
    unit = "users" if mode == "concurrency" else "req/s"
    if best_row:
        print(f"\nsweep: highest load meeting every SLO: {best:g} {unit} "
              f"({best_row['output_tokens_per_s']:.1f} tok/s, {best_row['requests_per_s']:.2f} req/s); files in {out_dir}")
        return EXIT_PASS
    print(f"\nsweep: no load level met every SLO; files in {out_dir}")
    return EXIT_INVALID if rows and rows[0]["verdict"] == "invalid" else EXIT_SLO_FAILED
