"""The KV cache's budget rule and growth, per-request sampling, and the engine runners at engine level."""

from __future__ import annotations

import numpy as np

from onnx_server.engine import Sampling
from onnx_server.kv_cache import KVCache, fits
from onnx_server.sampler import Sampler


def test_budget_counts_rows_times_the_widest_reservation():
    assert fits([100, 100], max_rows=4, budget_tokens=200, max_length=256)
    assert not fits([100, 101], max_rows=4, budget_tokens=200, max_length=256)  # padded to the widest row
    assert not fits([10] * 5, max_rows=4, budget_tokens=10_000, max_length=256)  # more rows than sequences
    assert not fits([300], max_rows=4, budget_tokens=10_000, max_length=256)  # longer than the context


def test_growth_and_moves_keep_each_row_and_stay_within_budget():
    cache = KVCache(layers=2, kv_heads=1, head_size=2, dtype=np.float32, max_rows=8, budget_tokens=1000,
                    max_length=500)
    cache.ensure(1, 10, [0], widest_reservation=300)
    cache.keys[1][0, 0, :10] = 7.0
    cache.ensure(3, 200, [10, 0, 0], widest_reservation=300)  # wider and more rows: row 0 kept
    assert cache.rows * cache.width <= 1000 and cache.width >= 200 and cache.rows >= 3
    assert (cache.keys[1][0, 0, :10] == 7.0).all()
    cache.values[0][2, 0, :5] = 3.0
    cache.move(2, 0, 5)
    assert (cache.values[0][0, 0, :5] == 3.0).all()
    cache.shrink([], widest_reservation=0)
    assert cache.allocated_tokens == 0 and cache.keys == []


def test_sampling_is_seeded_per_request_and_honours_top_k_and_top_p():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05], dtype=np.float32))
    seeded = Sampler(Sampling(max_tokens=1, seed=3), [])
    again = Sampler(Sampling(max_tokens=1, seed=3), [])
    assert [seeded.choose(logits) for _ in range(50)] == [again.choose(logits) for _ in range(50)]
    top2 = Sampler(Sampling(max_tokens=1, top_k=2, seed=1), [])
    assert {top2.choose(logits) for _ in range(200)} == {0, 1}
    nucleus = Sampler(Sampling(max_tokens=1, top_p=0.7, seed=1), [])  # 0.5 + 0.3 reach 0.7
    assert {nucleus.choose(logits) for _ in range(200)} == {0, 1}
    assert Sampler(Sampling(max_tokens=1, temperature=0), []).choose(logits) == 0
    assert Sampler(Sampling(max_tokens=1, temperature=0), [0]).choose(logits) == 1  # EOS suppressed


def run_engine(runner_factory, model, jobs: list[tuple[list[int], Sampling]]) -> dict[int, tuple[str, str]]:
    """Submit jobs to a Batcher or GeneratorPool; {job: (text, finish_reason)} once every job ended."""
    import threading

    texts: dict[int, list[str]] = {i: [] for i in range(len(jobs))}
    ends: dict[int, str] = {}
    done = threading.Semaphore(0)

    def send(message: tuple) -> None:
        if message[0] == "texts":
            for job_id, text, _ in message[1]:
                texts[job_id].append(text)
        elif message[0] in ("end", "failed"):
            ends[message[1]] = message[2]
            done.release()

    runner = runner_factory(model, send)
    runner.start()
    for job_id, (prompt, sampling) in enumerate(jobs):
        runner.submit(job_id, prompt, sampling)
    for _ in jobs:
        assert done.acquire(timeout=60)
    runner.stop()
    return {i: ("".join(texts[i]), ends[i]) for i in range(len(jobs))}


def test_generator_fallback_and_batcher_agree_with_the_raw_loop(tiny_onnx_model_dir):
    """Models the batcher cannot drive (CUDA folders) use one Generator per request: same messages, same text."""
    from onnx_server.batcher import Batcher
    from onnx_server.engine import LoadedModel
    from onnx_server.generators import GeneratorPool
    from tests.onnx_server.reference import Reference

    reference = Reference(tiny_onnx_model_dir)
    prompts = [reference.text_prompt(t) for t in ("hello world", "seven wizards quietly judge", "red")]
    jobs = [(p, Sampling(max_tokens=30, temperature=0)) for p in prompts]
    alone = [reference.greedy(p, 30)[0] for p in prompts]
    batched = LoadedModel(tiny_onnx_model_dir, 4)
    assert batched.batched
    fallback = LoadedModel(tiny_onnx_model_dir, 4, generators=True)
    assert not fallback.batched and fallback.cache is None
    for runner_factory, model in ((Batcher, batched), (lambda m, send: GeneratorPool(m, 4, send), fallback)):
        results = run_engine(runner_factory, model, jobs)
        assert [results[i][0] for i in range(len(jobs))] == alone
        assert all(reason in ("stop", "length") for _, reason in results.values())


def test_a_prompt_longer_than_a_prefill_chunk_prefills_in_chunks_with_the_same_output():
    from onnx_server.batcher import PREFILL_TOKENS, Batcher
    from onnx_server.engine import LoadedModel
    from tests.fixtures.tiny_model import build_tiny_model
    from tests.onnx_server.reference import Reference

    model_dir = build_tiny_model(size="medium")
    reference = Reference(model_dir)
    prompt = reference.text_prompt(" ".join(["seven wizards quietly judge boxing models"] * 200))[:PREFILL_TOKENS + 300]
    assert len(prompt) > PREFILL_TOKENS  # two chunks
    short = reference.text_prompt("hello world")
    jobs = [(prompt, Sampling(max_tokens=20, temperature=0, ignore_eos=True)),
            (short, Sampling(max_tokens=20, temperature=0, ignore_eos=True))]
    results = run_engine(Batcher, LoadedModel(model_dir, 2), jobs)
    assert results[0][0] == reference.greedy(prompt, 20, ignore_eos=True)[0]
    assert results[1][0] == reference.greedy(short, 20, ignore_eos=True)[0]
