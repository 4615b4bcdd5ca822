"""Readiness gating, API-key sources and start-up failures."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest

from onnx_server.app import create_app
from onnx_server.settings import SettingsError, settings_from_args
from tests.fixtures.onnx_fixtures import SERVER_SRC, engine_pid, start_onnx_server


def test_ready_is_503_until_the_model_is_loaded(tiny_onnx_model_dir):
    settings = settings_from_args(["--model-dir", str(tiny_onnx_model_dir)], environ={})
    app = create_app(settings)

    async def scenario():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            before = [(await client.get(p)).status_code for p in ("/health", "/ready", "/v1/models")]
            async with app.router.lifespan_context(app):  # starts the background model load
                for _ in range(200):
                    if (await client.get("/ready")).status_code == 200:
                        break
                    await asyncio.sleep(0.05)
                after = [(await client.get(p)).status_code for p in ("/health", "/ready", "/v1/models")]
                body = (await client.get("/v1/models")).json()
        return before, after, body

    before, after, body = asyncio.run(scenario())
    assert before == [200, 503, 503]
    assert after == [200, 200, 200]
    assert body["data"][0]["id"] == tiny_onnx_model_dir.name


def test_api_key_sources(tmp_path, tiny_onnx_model_dir):
    args = ["--model-dir", str(tiny_onnx_model_dir)]
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    assert settings_from_args(args, environ={}).api_key is None
    assert settings_from_args(args, environ={"ONNX_SERVER_API_KEY": "k1"}).api_key.get_secret_value() == "k1"
    env = {"ONNX_SERVER_API_KEY_FILE": str(key_file), "ONNX_SERVER_API_KEY": "k1"}
    assert settings_from_args(args, environ=env).api_key.get_secret_value() == "from-file"
    assert settings_from_args(args + ["--api-key-file", str(key_file)], environ={}).api_key \
        .get_secret_value() == "from-file"
    with pytest.raises(SettingsError, match="cannot read the API key file"):
        settings_from_args(args + ["--api-key-file", str(tmp_path / "missing")], environ={})
    assert "from-file" not in repr(settings_from_args(args, environ=env))


def test_bad_settings_are_one_line_errors(tmp_path, tiny_onnx_model_dir):
    with pytest.raises(SettingsError, match="not a folder"):
        settings_from_args(["--model-dir", str(tmp_path / "nope")], environ={})
    with pytest.raises(SettingsError, match="--max-concurrency"):
        settings_from_args(["--model-dir", str(tiny_onnx_model_dir), "--max-concurrency", "0"], environ={})


def test_unloadable_model_exits_non_zero_with_a_clear_log(tmp_path):
    (tmp_path / "genai_config.json").write_text('{"model": {"context_length": 64, "vocab_size": 8}}')
    server = start_onnx_server(tmp_path, tmp_path / "work", wait_ready=False)
    try:
        assert server.process.wait(timeout=30) == 1
    finally:
        server.stop()
    assert "model load failed" in server.log_text()


def test_cli_rejects_missing_model_dir(tmp_path):
    result = subprocess.run([sys.executable, "-m", "onnx_server", "--model-dir", str(tmp_path / "x")],
                            capture_output=True, text=True, env={"PYTHONPATH": str(SERVER_SRC)}, timeout=30)
    assert result.returncode == 2
    assert "not a folder" in result.stderr


def test_engine_crash_mid_stream_ends_with_an_error_event_and_the_server_exits(tmp_path):
    import json
    import os
    import signal

    from tests.fixtures.tiny_model import build_tiny_model

    server = start_onnx_server(build_tiny_model(size="medium"), tmp_path)
    try:
        body = {"model": server.model, "prompt": "hello", "max_tokens": 1900, "ignore_eos": True, "stream": True}
        with httpx.stream("POST", server.base_url + "/v1/completions", json=body, timeout=30) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("data: {")
            os.kill(engine_pid(server), signal.SIGKILL)
            rest = [line for line in lines if line.startswith("data: ")]
        assert rest[-1] == "data: [DONE]"
        error = json.loads(rest[-2][len("data: "):])["error"]
        assert error["code"] == "generation_failed" and "engine process exited" in error["message"]
        assert server.process.wait(timeout=20) == 1  # the orchestrator restarts it
    finally:
        server.stop()
    assert "engine process exited" in server.log_text()


def test_model_ready_is_logged_with_the_context_length(onnx_server):
    entries = onnx_server.log_entries()
    ready = [e for e in entries if e["msg"] == "model ready"]
    assert len(ready) == 1, [e["msg"] for e in entries][:20]
    assert ready[0]["context_length"] == 256 and ready[0]["model"] == onnx_server.model
    assert ready[0]["load_seconds"] >= 0 and ready[0]["max_prompt_bytes"] > 0
    assert not [e for e in entries if e["msg"] == "model load failed"]
