"""The smoke suite against the kit's real ONNX Runtime GenAI server with a tiny random model.

The tiny model cannot do arithmetic or write code, so content checks are skipped ('*'); the
protocol checks (chat, stream, usage, max_tokens, stop, invalid request) run for real.
"""

from __future__ import annotations

import json

from loadtests.smoke import main

PROTOCOL_CHECKS = ["chat", "chat_stream", "max_tokens", "stop", "invalid_request"]


def _key_file(tmp_path, key):
    path = tmp_path / "api-key"
    path.write_text(key + "\n")
    return str(path)


def test_smoke_passes_on_the_onnx_server(onnx_server, tmp_path, capsys):
    rc = main(["--host", onnx_server.base_url, "--api-key-file", _key_file(tmp_path, onnx_server.api_key),
               "--out", str(tmp_path), "--skip-content-checks", "*"])

    out = capsys.readouterr().out
    assert rc == 0, out
    report = json.loads((tmp_path / "smoke.json").read_text())
    assert report["models"] == [onnx_server.model]
    results = {c["check"]: c for c in report["checks"]}
    assert [name for name in results if results[name]["status"] == "pass"] == PROTOCOL_CHECKS
    assert {name: results[name]["status"] for name in ("math", "code", "tool_call")} == dict.fromkeys(
        ("math", "code", "tool_call"), "skipped")
    assert onnx_server.api_key not in out + (tmp_path / "smoke.json").read_text()


def test_tool_check_fails_on_a_server_without_tool_support(onnx_server, tmp_path):
    # As if the catalog marked the tiny model tool-capable: the server rejects tools, the smoke must fail.
    rc = main(["--host", onnx_server.base_url, "--api-key-file", _key_file(tmp_path, onnx_server.api_key),
               "--out", str(tmp_path), "--skip-content-checks", "*", "--expect-tools", onnx_server.model,
               "--model", onnx_server.model])

    assert rc == 30
    results = {c["check"]: c for c in json.loads((tmp_path / "smoke.json").read_text())["checks"]}
    assert results["tool_call"]["status"] == "fail"
    assert results["tool_call"]["reason"].startswith("HTTP 400")
    assert [n for n, c in results.items() if c["status"] == "fail"] == ["tool_call"]
