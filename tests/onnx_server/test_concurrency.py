"""Concurrency: requests overlap (no global lock), the queue is bounded (503 + Retry-After), and a client
that leaves frees its slot at once. Uses the "medium" model: 2000 tokens take about 2 s, long enough to hold
a slot while the test acts, short enough for the test budget."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest

from onnx_server.admission import Admission
from onnx_server.errors import APIError
from onnx_server.metrics import ServerMetrics
from tests.fixtures.onnx_fixtures import engine_frozen, start_onnx_server
from tests.fixtures.tiny_model import build_tiny_model
from tests.onnx_server.test_observability import scrape, value

LONG = 1900  # tokens: about 2 s on the medium model


@pytest.fixture(scope="module")
def medium_server(tmp_path_factory):
    server = start_onnx_server(build_tiny_model(size="medium"), tmp_path_factory.mktemp("medium"),
                               api_key="k-medium", extra_args=["--max-concurrency", "2", "--max-queue", "1",
                                           # tests freeze the engine to hold slots: not a stall to report
                                           "--engine-heartbeat-timeout", "120"])
    try:
        yield server
    finally:
        server.stop()


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def gauge(server, name):
    return value(scrape(server), f"onnxserver:{name}", model_name=server.model)


def long_stream(client: httpx.Client, server):
    body = {"model": server.model, "prompt": "hello", "max_tokens": LONG, "ignore_eos": True, "stream": True}
    return client.stream("POST", "/v1/completions", json=body)


def test_overlap_bounded_queue_and_disconnect_frees_slot(medium_server):
    server = medium_server
    tokens_before = value(scrape(server), "onnxserver:generation_tokens_total", model_name=server.model)
    client = httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60)
    with long_stream(client, server) as a, long_stream(client, server) as b:
        a_lines, b_lines = a.iter_lines(), b.iter_lines()
        assert next(a_lines).startswith("data: ") and next(b_lines).startswith("data: ")
        # Both generate at once: no global lock.
        assert gauge(server, "num_requests_running") == 2

        queued: dict = {}

        def third():
            body = {"model": server.model, "prompt": "hi", "max_tokens": 5, "ignore_eos": True}
            queued["response"] = client.post("/v1/completions", json=body)
            queued["done_at"] = time.monotonic()

        waiter = threading.Thread(target=third)
        waiter.start()
        assert wait_for(lambda: gauge(server, "num_requests_waiting") == 1)

        overloaded = client.post("/v1/completions", json={"model": server.model, "prompt": "x", "max_tokens": 2})
        assert overloaded.status_code == 503
        assert overloaded.headers["retry-after"] == "1"
        assert overloaded.json()["error"]["code"] == "overloaded"

        a.close()  # client A leaves: its slot goes to the waiting request at once
        waiter.join(timeout=10)
        assert queued["response"].status_code == 200
        assert queued["response"].json()["usage"]["completion_tokens"] == 5
        # ...while B, which started together with A, is still streaming.
        b_rest = [line for line in b_lines if line]
        b_done_at = time.monotonic()
        assert queued["done_at"] < b_done_at
        assert b_rest[-1] == "data: [DONE]"
    client.close()
    assert wait_for(lambda: gauge(server, "num_requests_running") == 0)
    generated = value(scrape(server), "onnxserver:generation_tokens_total", model_name=server.model) - tokens_before
    assert LONG + 5 <= generated < 2 * LONG + 5  # A stopped early


def test_non_streaming_client_that_leaves_is_cancelled(medium_server):
    server = medium_server
    before = value(scrape(server), "onnxserver:generation_tokens_total", model_name=server.model)
    body = {"model": server.model, "prompt": "hello", "max_tokens": LONG, "ignore_eos": True}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(server.base_url + "/v1/completions", json=body, headers=server.headers, timeout=0.4)
    assert wait_for(lambda: gauge(server, "num_requests_running") == 0, timeout=5)
    generated = value(scrape(server), "onnxserver:generation_tokens_total", model_name=server.model) - before
    assert 0 < generated < LONG
    statuses = scrape(server)
    assert value(statuses, "onnxserver:requests_total", model_name=server.model, status="499") >= 1


def test_admission_queue_is_fifo_bounded_and_cancellable():
    async def scenario():
        admission = Admission(max_running=1, max_waiting=2, metrics=ServerMetrics("m"))
        await admission.acquire()
        order = []

        async def wait(name):
            await admission.acquire()
            order.append(name)

        first = asyncio.create_task(wait("first"))
        second = asyncio.create_task(wait("second"))
        await asyncio.sleep(0)
        assert admission.waiting == 2
        with pytest.raises(APIError) as overloaded:
            await admission.acquire()
        assert overloaded.value.status == 503 and overloaded.value.headers == {"Retry-After": "1"}
        first.cancel()  # a waiting client leaves: its place is dropped, nobody is skipped
        await asyncio.sleep(0)
        assert admission.waiting == 1
        admission.release()
        await second
        assert order == ["second"] and admission.running == 1 and admission.waiting == 0
        admission.release()
        assert admission.running == 0

    asyncio.run(scenario())


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_leaves_the_queue_frees_its_place(medium_server, stream):
    server = medium_server
    client = httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60)
    ghost_id = f"queue-ghost-{int(stream)}"
    with long_stream(client, server) as a, long_stream(client, server) as b:
        assert next(a.iter_lines()).startswith("data: ") and next(b.iter_lines()).startswith("data: ")
        queued: dict = {}
        with engine_frozen(server):  # A and B hold both slots however fast the machine is
            # Token ids: a text prompt would wait for the frozen engine's tokenizer, not for a slot.
            body = {"model": server.model, "prompt": [5, 6, 7], "max_tokens": 5, "stream": stream}
            with pytest.raises(httpx.ReadTimeout):  # queued behind A and B; the client gives up and leaves
                httpx.post(server.base_url + "/v1/completions", json=body, timeout=0.5,
                           headers={**server.headers, "x-request-id": ghost_id})
            assert wait_for(lambda: gauge(server, "num_requests_waiting") == 0, timeout=5)
            waiter = threading.Thread(target=lambda: queued.update(response=client.post("/v1/completions", json={
                "model": server.model, "prompt": [5, 6, 7], "max_tokens": 5, "ignore_eos": True})))
            waiter.start()  # takes the freed place: no 503 "1 waiting" while nobody waits
            assert wait_for(lambda: gauge(server, "num_requests_waiting") == 1)
        a.close()
        waiter.join(timeout=30)
        assert queued["response"].status_code == 200, queued["response"].text
    client.close()
    assert wait_for(lambda: gauge(server, "num_requests_running") == 0)
    assert server.request_statuses(ghost_id) == [499]
