"""Prompt sources: seeded synthetic prompts of the asked length, JSONL datasets with clear errors."""

import itertools

import pytest

from loadtests.prompts import PromptError, dataset_prompts, request_body, synthetic_prompts


def test_synthetic_prompts_are_seeded_distinct_and_sized():
    first = [p["prompt"] for p in itertools.islice(synthetic_prompts(50, seed=1), 20)]
    again = [p["prompt"] for p in itertools.islice(synthetic_prompts(50, seed=1), 20)]
    other = [p["prompt"] for p in itertools.islice(synthetic_prompts(50, seed=2), 20)]
    assert first == again and first != other
    assert len(set(first)) == 20
    assert all(len(p.split()) == 50 for p in first)


def test_dataset_cycles_and_reports_bad_lines(tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text('{"prompt": "a"}\n\n{"messages": [{"role": "user", "content": "b"}], "max_tokens": 3}\n')
    items = list(itertools.islice(dataset_prompts(good, seed=0), 4))
    assert len(items) == 4 and items[0] == items[2]
    body = request_body({"messages": [{"role": "user", "content": "b"}], "max_tokens": 3}, "chat", "m", 100, True)
    assert body["max_tokens"] == 3 and body["stream_options"] == {"include_usage": True} and body["ignore_eos"] is True
    assert request_body({"prompt": "a"}, "completions", "m", 9, False) == {
        "model": "m", "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 9, "temperature": 0, "prompt": "a"}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a"}\n{"text": "no"}\n')
    with pytest.raises(PromptError, match=r"bad.jsonl:2: each line needs a 'prompt'"):
        dataset_prompts(bad, seed=0)
    with pytest.raises(PromptError, match="file not found"):
        dataset_prompts(tmp_path / "missing.jsonl", seed=0)
