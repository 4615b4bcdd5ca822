"""Continuous batching: requests decoded together give exactly what each gives alone, join and leave the running
batch at any step, keep their own max_tokens and stops, free their KV rows when cancelled, and the KV budget
refuses with 503 + Retry-After. "Alone" is the raw onnxruntime-genai Generator loop (tests/onnx_server/reference.py).
No timing assertions: overlap is proven by event order (every stream started before any finished)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tests.fixtures.onnx_fixtures import start_onnx_server
from tests.fixtures.tiny_model import build_tiny_model
from tests.onnx_server.reference import Reference
from tests.onnx_server.test_concurrency import gauge, wait_for

PROMPTS = [f"{word} " * (1 + i * 3) for i, word in enumerate(
    ["hello", "the quick brown fox", "seven wizards", "tokens on kubernetes", "red green blue", "one two three",
     "lazy dog", "load tests measure latency"])]


@pytest.fixture(scope="module")
def server(tiny_onnx_model_dir, tmp_path_factory):
    s = start_onnx_server(tiny_onnx_model_dir, tmp_path_factory.mktemp("batching"),
                          extra_args=["--max-concurrency", "8", "--max-queue", "16"])
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def reference(tiny_onnx_model_dir):
    return Reference(tiny_onnx_model_dir)


async def stream_completion(client: httpx.AsyncClient, server, prompt: str, events: list, name: str,
                            **options) -> dict:
    """Stream one completion; append (name, "first"|"done") to events as they happen."""
    body = {"model": server.model, "prompt": prompt, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}, **options}
    text, finish, usage = [], None, None
    async with client.stream("POST", "/v1/completions", json=body) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            assert "error" not in chunk, chunk
            if chunk.get("usage"):
                usage = chunk["usage"]
            for choice in chunk["choices"]:
                if not text and not finish:
                    events.append((name, "first"))
                text.append(choice["text"])
                finish = choice["finish_reason"] or finish
    events.append((name, "done"))
    return {"text": "".join(text), "finish_reason": finish, "tokens": usage["completion_tokens"]}


def run(coroutine_factory, server):
    async def main():
        async with httpx.AsyncClient(base_url=server.base_url, timeout=120,
                                     limits=httpx.Limits(max_connections=32)) as client:
            return await coroutine_factory(client)
    return asyncio.run(main())


def started_before_any_finished(events: list, names: list[str]) -> bool:
    first_done = next(i for i, (_, kind) in enumerate(events) if kind == "done")
    started = {name for name, kind in events[:first_done] if kind == "first"}
    return started >= set(names)


def test_batched_greedy_outputs_equal_each_alone_and_stay_distinct(server, reference):
    prompts = [reference.text_prompt(p) for p in PROMPTS]
    alone = [reference.greedy(p, 120, ignore_eos=True)[0] for p in prompts]
    assert len(set(alone)) == len(alone)  # distinct outputs, so any mixing of sequences shows
    events: list = []

    async def all_at_once(client):
        return await asyncio.gather(*(stream_completion(client, server, p, events, str(i), max_tokens=120,
                                                        ignore_eos=True) for i, p in enumerate(PROMPTS)))

    results = run(all_at_once, server)
    assert started_before_any_finished(events, [str(i) for i in range(len(PROMPTS))])  # one batch
    assert [r["text"] for r in results] == alone
    assert all(r["tokens"] == 120 and r["finish_reason"] == "length" for r in results)


def test_joining_mid_batch_changes_nobody_s_output(server, reference):
    long_prompt, short_prompts = PROMPTS[1], PROMPTS[2:5]
    long_alone = reference.greedy(reference.text_prompt(long_prompt), 200, ignore_eos=True)[0]
    short_alone = [reference.greedy(reference.text_prompt(p), 20)[0] for p in short_prompts]
    events: list = []

    async def join_later(client):
        long_task = asyncio.create_task(stream_completion(client, server, long_prompt, events, "long",
                                                          max_tokens=200, ignore_eos=True))
        while ("long", "first") not in events:
            await asyncio.sleep(0.001)
        shorts = await asyncio.gather(*(stream_completion(client, server, p, events, f"short{i}", max_tokens=20)
                                        for i, p in enumerate(short_prompts)))
        return await long_task, shorts

    long_result, shorts = run(join_later, server)
    assert long_result["text"] == long_alone and long_result["tokens"] == 200
    assert [s["text"] for s in shorts] == short_alone


def test_each_request_keeps_its_own_max_tokens_and_stop(server, reference):
    p_short, p_long, p_stop = (reference.text_prompt(p) for p in PROMPTS[:3])
    short_alone = reference.greedy(p_short, 3, ignore_eos=True)[0]
    long_alone = reference.greedy(p_long, 90, ignore_eos=True)[0]
    stop_source = reference.greedy(p_stop, 90, ignore_eos=True)[0]
    stop = stop_source[10:14]
    assert stop and stop_source.find(stop) > 0
    events: list = []

    async def mixed(client):
        return await asyncio.gather(
            stream_completion(client, server, PROMPTS[0], events, "short", max_tokens=3, ignore_eos=True),
            stream_completion(client, server, PROMPTS[1], events, "long", max_tokens=90, ignore_eos=True),
            stream_completion(client, server, PROMPTS[2], events, "stop", max_tokens=90, ignore_eos=True,
                              stop=[stop]))

    short, long_, stopped = run(mixed, server)
    assert (short["text"], short["tokens"], short["finish_reason"]) == (short_alone, 3, "length")
    assert (long_["text"], long_["tokens"], long_["finish_reason"]) == (long_alone, 90, "length")
    assert stopped["text"] == stop_source[:stop_source.find(stop)] and stopped["finish_reason"] == "stop"
    assert stopped["tokens"] < 90


def engine_usage(server) -> tuple[int, int]:
    """(RSS kB, threads) of the server's child processes: the engine (and multiprocessing's resource tracker)."""
    pid = server.process.pid
    rss = threads = 0
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        status = dict(line.split(":", 1) for line in Path(f"/proc/{child}/status").read_text().splitlines())
        rss, threads = rss + int(status["VmRSS"].split()[0]), threads + int(status["Threads"])
    return rss, threads


@pytest.fixture(scope="module")
def medium_model():
    return build_tiny_model(size="medium")


def test_cancel_mid_batch_frees_the_row_without_growth(medium_model, tmp_path):
    server = start_onnx_server(medium_model, tmp_path, extra_args=["--max-concurrency", "3", "--max-queue", "0"])
    reference = Reference(medium_model)
    try:
        client = httpx.Client(base_url=server.base_url, timeout=60)
        body = {"model": server.model, "prompt": "hello", "max_tokens": 1900, "ignore_eos": True, "stream": True}

        def disconnect(times: int) -> None:
            for _ in range(times):
                with client.stream("POST", "/v1/completions", json=body) as response:
                    data = (line for line in response.iter_lines() if line.startswith("data: "))
                    next(data), next(data)  # the first token is out: the request is in the batch

        with client.stream("POST", "/v1/completions", json=body) as neighbour:  # keeps the batch running
            neighbour_lines = neighbour.iter_lines()
            assert next(neighbour_lines).startswith("data: ")
            disconnect(20)  # warm-up: arrays and thread pools reach their working size
            rss_before, threads_before = engine_usage(server)
            disconnect(200)
            assert wait_for(lambda: gauge(server, "num_requests_running") == 1)
            rss_after, threads_after = engine_usage(server)
        assert threads_after <= threads_before
        assert rss_after - rss_before < 32 * 1024, (rss_before, rss_after)  # kB
        # The rows were freed: the server still takes max-concurrency requests at once, with correct output.
        prompt = reference.text_prompt("the quick brown fox")
        alone = reference.greedy(prompt, 40)[0]
        events: list = []

        async def three(aclient):
            return await asyncio.gather(*(stream_completion(aclient, server, "the quick brown fox", events, str(i),
                                                            max_tokens=40) for i in range(3)))
        assert [r["text"] for r in run(three, server)] == [alone] * 3
    finally:
        server.stop()


def test_kv_budget_exhausted_answers_503_with_retry_after(medium_model, tmp_path):
    server = start_onnx_server(medium_model, tmp_path, extra_args=["--max-concurrency", "4",
                                                                   "--kv-cache-tokens", "3000"])
    try:
        client = httpx.Client(base_url=server.base_url, timeout=60)
        body = {"model": server.model, "prompt": "hello", "max_tokens": 1900, "ignore_eos": True, "stream": True}
        with client.stream("POST", "/v1/completions", json=body) as first:
            first_lines = first.iter_lines()  # kept: a dropped line iterator closes the stream
            assert next(first_lines).startswith("data: ")
            refused = client.post("/v1/completions", json={**body, "stream": False})
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            error = refused.json()["error"]
            assert error["code"] == "overloaded" and "KV cache budget" in error["message"]
        # Once the first leaves, its reservation is free again.
        assert wait_for(lambda: gauge(server, "num_requests_running") == 0)
        again = client.post("/v1/completions", json={**body, "stream": False, "max_tokens": 1900})
        assert again.status_code == 200 and again.json()["usage"]["completion_tokens"] == 1900
        # One request can never exceed the budget: the advertised context is capped by it.
        model = client.get("/v1/models").json()["data"][0]
        assert model["max_model_len"] == 2048
        too_long = client.post("/v1/completions", json={**body, "stream": False, "max_tokens": 2100})
        assert too_long.status_code == 400 and too_long.json()["error"]["code"] == "context_length_exceeded"
    finally:
        server.stop()
