"""Request bodies are bounded whatever their framing, in bytes, time and the work they cause."""

from __future__ import annotations

import json
import threading

import httpx
import pytest

from tests.fixtures.onnx_fixtures import start_onnx_server
from tests.onnx_server.raw_http import connect, head, read_response, send_chunked

MIB = 2**20


@pytest.fixture(scope="module")
def server(tiny_onnx_model_dir, tmp_path_factory):
    server = start_onnx_server(tiny_onnx_model_dir, tmp_path_factory.mktemp("limits"), api_key="k-limits",
                               extra_args=["--body-timeout", "2"])
    try:
        yield server
    finally:
        server.stop()


def peak_rss_bytes(pid: int) -> int:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):  # the process's peak resident set since it started
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_chunked_100_mb_body_is_refused_while_reading_with_bounded_memory(server):
    before = peak_rss_bytes(server.process.pid)
    sock = connect(server.base_url, timeout=30)
    stop = threading.Event()
    chunk = b"a" * MIB
    chunks = [b'{"model": "tiny-llama", "prompt": "' + chunk[:-40]] + [chunk] * 99
    headers = {**server.headers, "Content-Type": "application/json", "x-request-id": "chunked-100mb"}
    result: dict = {}
    sender = threading.Thread(target=lambda: result.update(sent=send_chunked(
        sock, "/v1/completions", headers, chunks, stop)))
    sender.start()
    response = read_response(sock)
    stop.set()
    sender.join(timeout=60)
    sock.close()
    assert response is not None and response.status == 413, response
    error = response.json()["error"]
    assert error["code"] == "request_too_large" and "16777216 bytes" in error["message"]
    assert response.headers["connection"] == "close"
    assert result["sent"] < 60 * MIB  # the server stopped reading: the rest never went out
    grown = peak_rss_bytes(server.process.pid) - before
    assert grown < 64 * MIB, f"peak RSS grew by {grown / MIB:.0f} MiB"
    assert server.request_statuses("chunked-100mb") == [413]
    assert httpx.get(server.base_url + "/health").status_code == 200


def test_a_prompt_too_long_for_the_context_is_refused_before_tokenizing(server):
    text = "hello " * (15 * MIB // 6)  # under the 16 MiB limit, far beyond a 256-token context
    result: dict = {}

    def huge():
        result["huge"] = httpx.post(server.base_url + "/v1/completions", headers=server.headers, timeout=60,
                                    json={"model": server.model, "prompt": text})

    worker = threading.Thread(target=huge)
    worker.start()
    small = httpx.post(server.base_url + "/v1/completions", headers=server.headers, timeout=30,
                       json={"model": server.model, "prompt": "hi", "max_tokens": 4, "ignore_eos": True})
    worker.join(timeout=60)
    assert small.status_code == 200 and small.json()["usage"]["completion_tokens"] == 4
    response = result["huge"]
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["param"] == "prompt"
    assert f"{len(text)} bytes of text" in error["message"]  # judged by its size, not tokenized
    chat = httpx.post(server.base_url + "/v1/chat/completions", headers=server.headers, timeout=60,
                      json={"model": server.model, "messages": [{"role": "user", "content": text}]})
    assert chat.status_code == 400 and chat.json()["error"]["param"] == "messages"
    assert "bytes of text" in chat.json()["error"]["message"]


def test_a_body_that_never_completes_gets_408_after_the_body_timeout(server):
    sock = connect(server.base_url, timeout=30)
    body = b'{"model": "tiny-llama", "prompt": "hi"}'
    sock.sendall(head("POST", "/v1/completions", {**server.headers, "Content-Type": "application/json",
                                                  "Content-Length": str(len(body) + 100),
                                                  "x-request-id": "slow-body"}) + body)
    response = read_response(sock)  # the socket timeout (30 s) fails the test if the server waits for ever
    sock.close()
    assert response is not None and response.status == 408, response
    assert response.json()["error"]["code"] == "request_timeout"
    assert server.request_statuses("slow-body") == [408]


def test_the_byte_bound_never_refuses_text_that_could_fit(tiny_onnx_model_dir):
    import onnxruntime_genai as og

    from onnx_server.token_bytes import max_prompt_bytes, max_token_bytes

    tokenizer = og.Tokenizer(og.Model(str(tiny_onnx_model_dir)))
    vocab = json.loads((tiny_onnx_model_dir / "tokenizer.json").read_text())
    longest = max_token_bytes(vocab)
    for text in ("hello world " * 50, "<|user|>" * 40, "ééé ñ 😀 " * 30, "a" * 700):
        tokens = len(tokenizer.encode(text))
        assert len(text.encode()) <= tokens * longest  # no token covered more bytes than the bound allows
    assert max_prompt_bytes(tiny_onnx_model_dir, 256) == 256 * longest * 4
    stripping = {**vocab, "normalizer": {"type": "Sequence", "normalizers": [{"type": "StripAccents"}]}}
    assert max_token_bytes(stripping) is None  # can delete text: no bound
    unigram = {"model": {"type": "Unigram", "vocab": [["▁hello", -1.0], ["a", -2.0]]}}
    assert max_token_bytes(unigram) == len("▁hello".encode())
