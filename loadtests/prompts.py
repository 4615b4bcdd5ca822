"""Prompt sources: seeded synthetic prompts of a target length, or a JSONL dataset.

Synthetic prompts are made of common English words; each is different (so prefix caches cannot
short-cut them) and the same seed gives the same sequence. One word is one token on the reference
server; real tokenizers count roughly 1 to 1.5 tokens per word, and the summary reports the server's
own prompt token counts from `usage`.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator
from pathlib import Path

_WORDS = (
    "time year people way day man thing woman life child world school state family student group country "
    "problem hand part place case week company system program question work government number night point "
    "home water room mother area money story fact month lot right study book eye job word business issue "
    "side kind head house service friend father power hour game line end member law car city community name "
    "president team minute idea kid body information back parent face others level office door health person "
    "art war history party result change morning reason research girl guy moment air teacher force education"
).split()


class PromptError(ValueError):
    pass


def synthetic_prompts(prompt_tokens: int, seed: int) -> Iterator[dict]:
    rng = random.Random(seed)
    for i in itertools.count():
        words = [f"request {i}:"] + rng.choices(_WORDS, k=max(1, prompt_tokens - 2))
        yield {"prompt": " ".join(words)}


def dataset_prompts(path: Path, seed: int) -> Iterator[dict]:
    """Cycle through a JSONL file of {"prompt": "..."} or {"messages": [...]} (optional "max_tokens"), shuffled by seed."""
    if not path.is_file():
        raise PromptError(f"dataset {path}: file not found")
    items = []
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PromptError(f"dataset {path}:{lineno}: not JSON: {exc.msg}") from None
        if not isinstance(item, dict) or not (isinstance(item.get("prompt"), str) or isinstance(item.get("messages"), list)):
            raise PromptError(f"dataset {path}:{lineno}: each line needs a 'prompt' string or a 'messages' list")
        items.append(item)
    if not items:
        raise PromptError(f"dataset {path}: no prompts")
    random.Random(seed).shuffle(items)
    return itertools.cycle(items)


def request_body(item: dict, endpoint: str, model: str, max_tokens: int, ignore_eos: bool) -> dict:
    """An OpenAI request body for one prompt item, streaming with usage."""
    body: dict = {"model": model, "stream": True, "stream_options": {"include_usage": True},
                  "max_tokens": int(item.get("max_tokens", max_tokens)), "temperature": 0}
    if ignore_eos:
        body["ignore_eos"] = True
    if endpoint == "chat":
        body["messages"] = item.get("messages") or [{"role": "user", "content": item["prompt"]}]
    else:
        body["prompt"] = item.get("prompt") or "\n".join(str(m.get("content", "")) for m in item["messages"])
    return body
