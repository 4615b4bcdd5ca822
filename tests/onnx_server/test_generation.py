"""Generation through the real server on loopback: output, usage, sampling parameters, streaming."""

from __future__ import annotations

import asyncio
import json

import httpx
import openai
import pytest

from tests.onnx_server.reference import Reference

MESSAGES = [{"role": "user", "content": "the quick brown fox"}]


@pytest.fixture(scope="module")
def reference(tiny_onnx_model_dir):
    return Reference(tiny_onnx_model_dir)


@pytest.fixture(scope="module")
def client(onnx_server):
    return openai.OpenAI(base_url=onnx_server.base_url + "/v1", api_key=onnx_server.api_key, max_retries=0)


def post(server, path, body, **kwargs):
    return httpx.post(server.base_url + path, json=body, headers=server.headers, timeout=30, **kwargs)


def sse_events(response: httpx.Response) -> list:
    events = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            data = line[len("data: "):]
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_models_lists_the_served_model(client, onnx_server, tiny_onnx_model_dir):
    models = client.models.list().data
    assert [m.id for m in models] == [onnx_server.model]
    assert models[0].model_extra["max_model_len"] == 256


def test_chat_greedy_matches_raw_generate_loop_and_usage_counts_tokens(client, onnx_server, reference):
    expected_text, expected_tokens = reference.greedy(reference.chat_prompt(MESSAGES), max_tokens=24)
    reply = client.chat.completions.create(model=onnx_server.model, messages=MESSAGES, max_tokens=24,
                                           temperature=0)
    assert reply.choices[0].message.content == expected_text
    assert reply.choices[0].message.role == "assistant"
    assert reply.usage.prompt_tokens == len(reference.chat_prompt(MESSAGES))
    assert reply.usage.completion_tokens == len(expected_tokens)
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert reply.choices[0].finish_reason == ("stop" if expected_tokens[-1] in reference.eos else "length")


def test_chat_stream_in_openai_chunk_format_with_usage(client, onnx_server, reference):
    expected_text, expected_tokens = reference.greedy(reference.chat_prompt(MESSAGES), max_tokens=20)
    stream = client.chat.completions.create(model=onnx_server.model, messages=MESSAGES, max_tokens=20,
                                            temperature=0, stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected_text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishes) == 1
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1 and usage_chunks[0].choices == []
    assert usage_chunks[0].usage.completion_tokens == len(expected_tokens)
    assert len({c.id for c in chunks}) == 1 and chunks[0].object == "chat.completion.chunk"


def test_raw_sse_stream_ends_with_done(onnx_server):
    body = {"model": onnx_server.model, "prompt": "hello world", "max_tokens": 8, "stream": True}
    with httpx.stream("POST", onnx_server.base_url + "/v1/completions", json=body, headers=onnx_server.headers,
                      timeout=30) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    assert events[-1] == "[DONE]"
    assert all(e["object"] == "text_completion" for e in events[:-1])
    assert "usage" not in events[0]  # only with stream_options.include_usage


def test_completion_max_tokens_honoured_exactly_with_ignore_eos(onnx_server):
    reply = post(onnx_server, "/v1/completions", {"model": onnx_server.model, "prompt": "one two three",
                                                   "max_tokens": 37, "ignore_eos": True}).json()
    assert reply["usage"]["completion_tokens"] == 37
    assert reply["choices"][0]["finish_reason"] == "length"


def test_completion_accepts_token_ids(onnx_server, reference):
    prompt = reference.text_prompt("seven wizards")
    expected_text, _ = reference.greedy(prompt, max_tokens=10)
    reply = post(onnx_server, "/v1/completions", {"model": onnx_server.model, "prompt": prompt, "max_tokens": 10,
                                                   "temperature": 0}).json()
    assert reply["choices"][0]["text"] == expected_text
    assert reply["usage"]["prompt_tokens"] == len(prompt)


def test_stop_sequence_cuts_output_before_it(client, onnx_server, reference):
    full_text, _ = reference.greedy(reference.text_prompt("hello world"), max_tokens=40)
    stop = full_text[len(full_text) // 2: len(full_text) // 2 + 3]
    assert len(stop) == 3, f"reference output too short: {full_text!r}"
    expected = full_text[: full_text.find(stop)]
    for stream in (False, True):
        result = client.completions.create(model=onnx_server.model, prompt="hello world", max_tokens=40,
                                           temperature=0, stop=[stop], stream=stream)
        if stream:
            chunks = list(result)
            text = "".join(c.choices[0].text for c in chunks)
            finish = [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason][0]
        else:
            text, finish = result.choices[0].text, result.choices[0].finish_reason
        assert text == expected
        assert finish == "stop"


def test_same_seed_same_text_and_other_seed_differs(client, onnx_server):
    def sample(seed):
        return client.completions.create(model=onnx_server.model, prompt="red green blue", max_tokens=24,
                                         temperature=1.0, top_p=0.95, seed=seed,
                                         extra_body={"ignore_eos": True, "top_k": 40}).choices[0].text

    first = sample(1234)
    assert sample(1234) == first
    assert sample(4321) != first


def test_concurrent_streams_all_complete(onnx_server):
    async def one(client: httpx.AsyncClient, i: int) -> tuple[int, str]:
        body = {"model": onnx_server.model, "messages": [{"role": "user", "content": f"number {i}"}],
                "max_tokens": 30, "ignore_eos": True, "stream": True, "stream_options": {"include_usage": True}}
        async with client.stream("POST", "/v1/chat/completions", json=body) as response:
            assert response.status_code == 200
            lines = [line async for line in response.aiter_lines() if line.startswith("data: ")]
        usage = json.loads(lines[-2][len("data: "):])["usage"]
        return usage["completion_tokens"], lines[-1]

    async def all_of_them():
        async with httpx.AsyncClient(base_url=onnx_server.base_url, headers=onnx_server.headers,
                                     timeout=60) as client:
            return await asyncio.gather(*(one(client, i) for i in range(12)))

    results = asyncio.run(all_of_them())
    assert results == [(30, "data: [DONE]")] * 12
