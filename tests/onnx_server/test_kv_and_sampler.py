"""The KV cache's budget rule and growth, and per-request sampling (no model needed)."""

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
