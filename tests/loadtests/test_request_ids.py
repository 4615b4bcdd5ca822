"""A line of the gate's requests.jsonl leads to the server's log lines for that request: the gate sends
its record id as x-request-id and the kit's ONNX server logs it (docs/monitoring.md#logs)."""

from __future__ import annotations

import json

from loadtests.streaming import REQUEST_ID_HEADER

from .refserver import run_cli


def test_every_gate_record_id_is_in_the_onnx_servers_log(onnx_server, tmp_path):
    proc = run_cli("run", "--host", onnx_server.base_url, "--profile", "smoke", "--out", str(tmp_path), "--no-smoke",
                   "--model", onnx_server.model, "--users", "2", "--warmup", "0", "--duration", "4", "--max-tokens", "8",
                   env={"OPENAI_API_KEY": onnx_server.api_key})
    records = [json.loads(line) for line in (tmp_path / "requests.jsonl").read_text().splitlines()]
    sent = {r["id"] for r in records if r["http_status"] == 200}
    assert len(sent) >= 3, proc.stdout + proc.stderr
    logged = {}
    for line in onnx_server.log_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("msg") == "request" and entry.get("path") == "/v1/chat/completions":
            logged[entry.get("request_id")] = entry["status"]
    missing = sent - set(logged)
    assert not missing, f"{len(missing)} of {len(sent)} gate requests are not in the server log by id, e.g. {sorted(missing)[:3]}"
    assert {logged[i] for i in sent} == {200}
    assert REQUEST_ID_HEADER == "x-request-id"  # the header the server adopts (onnx_server/middleware.py)
