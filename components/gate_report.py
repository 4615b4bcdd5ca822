"""After `pulumi up` (the last step of `make deploy`): the gate's verdict and figures (the stack
output `gate`) and how to call the endpoint.

    python -m components.gate_report --stack local [--failed]

Reads the stack outputs with the Pulumi CLI; nothing here needs kubectl.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def stack_outputs(stack: str) -> dict:
    out = subprocess.run(["pulumi", "stack", "output", "--json", "--stack", stack],
                         capture_output=True, text=True, check=False)
    return json.loads(out.stdout or "{}") if out.returncode == 0 else {}


def how_to_call(outputs: dict) -> list[str]:
    if outputs.get("gatewayUrl"):
        url = outputs["gatewayUrl"]
        ca = " --cacert gateway-ca.pem" if outputs.get("gatewayCa") else ""
        lines = [f"gateway: {url} (a key: pulumi stack output gatewayApiKeys --show-secrets)"]
        if ca:
            lines.append("  pulumi stack output gatewayCa > gateway-ca.pem   # the stack's private CA")
        lines.append(f"  curl{ca} -s {url}/chat/completions -H \"authorization: Bearer $KEY\" "
                     "-H 'content-type: application/json' -d '{\"model\":\"MODEL\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hi\"}]}'")
        return lines
    lines = []
    for name, server in (outputs.get("servers") or {}).items():
        host, _, port = server["url"].removeprefix("http://").partition(":")
        service, namespace = host.split(".")[:2]
        port = port.split("/")[0]
        model = server["models"][0]
        lines += [f"server {name}: kubectl -n {namespace} port-forward svc/{service} {port}:{port} &",
                  f"  curl -s 127.0.0.1:{port}/v1/chat/completions -H 'content-type: application/json' "
                  f"-d '{{\"model\":\"{model}\",\"messages\":[{{\"role\":\"user\",\"content\":\"Say hi\"}}]}}'"]
    return lines


def report(outputs: dict, failed: bool) -> list[str]:
    jobs = (outputs.get("loadtest") or {}).get("gateJobs") or []
    if failed:
        return ["gate: `pulumi up` failed; when a gate Job failed, the error above carries its verdict and the "
                "last lines of its log (exit 10 SLO failed, 20 invalid run, 30 preflight/smoke failed)"]
    lines = [f"gate: passed ({', '.join(jobs)})" if jobs else "gate: off in this stack (slmkit:loadtest.gate)"]
    lines += [f"  {server}: {figures_line(entry.get('result'))}" for server, entry in (outputs.get("gate") or {}).items()]
    return lines + how_to_call(outputs)


def _ms(value) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def figures_line(result) -> str:
    """One server's entry of the stack output `gate` (components/loadtest/gate_result.stack_result)."""
    if not isinstance(result, dict):
        return str(result or "no result recorded")
    line = f"{str(result.get('verdict')).upper()} (exit {result.get('exitCode')}), profile {result.get('profile')}"
    ttft, tpot, req = result.get("ttftMs"), result.get("tpotMs"), result.get("requests")
    if ttft and tpot and req:
        line += (f": TTFT p50/p95 {_ms(ttft['p50'])}/{_ms(ttft['p95'])} ms, TPOT p50/p95 {_ms(tpot['p50'])}/{_ms(tpot['p95'])} ms, "
                 f"{result['outputTokensPerS']:.1f} tok/s, error rate {result['errorRate']:.2%}, "
                 f"requests ok {req['ok']} failed {req['failed']}")
    elif result.get("problem"):
        line += f": {result['problem']}"
    return line


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m components.gate_report")
    p.add_argument("--stack", required=True)
    p.add_argument("--failed", action="store_true", help="pulumi up failed")
    args = p.parse_args(argv)
    print("\n".join(report(stack_outputs(args.stack), args.failed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
