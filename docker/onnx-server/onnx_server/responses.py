"""OpenAI response and stream-chunk shapes for chat and text completions."""

from __future__ import annotations

import json
import time
import uuid


class ResponseShape:
    def __init__(self, kind: str, model: str, include_usage: bool) -> None:
        self.kind = kind  # "chat" | "text"
        self.model = model
        self.include_usage = include_usage
        self.id = ("chatcmpl-" if kind == "chat" else "cmpl-") + uuid.uuid4().hex
        self.created = int(time.time())

    @staticmethod
    def usage(prompt: int, completion: int) -> dict:
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def full(self, text: str, finish_reason: str, prompt: int, completion: int) -> dict:
        if self.kind == "chat":
            choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                      "finish_reason": finish_reason}
            obj = "chat.completion"
        else:
            choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
            obj = "text_completion"
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model, "choices": [choice],
                "usage": self.usage(prompt, completion)}

    def _chunk(self, choices: list, usage: dict | None = None) -> str:
        body = {"id": self.id, "object": "chat.completion.chunk" if self.kind == "chat" else "text_completion",
                "created": self.created, "model": self.model, "choices": choices}
        if self.include_usage:
            body["usage"] = usage
        return sse(body)

    def _choice(self, text: str | None, finish_reason: str | None, role: bool = False) -> dict:
        if self.kind == "chat":
            delta: dict = {"role": "assistant", "content": ""} if role else ({} if text is None else {"content": text})
            return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish_reason}

    def first_chunk(self) -> str | None:
        return self._chunk([self._choice(None, None, role=True)]) if self.kind == "chat" else None

    def delta_chunk(self, text: str) -> str:
        return self._chunk([self._choice(text, None)])

    def finish_chunk(self, finish_reason: str) -> str:
        return self._chunk([self._choice(None, finish_reason)])

    def usage_chunk(self, prompt: int, completion: int) -> str:
        return self._chunk([], self.usage(prompt, completion))


def sse(payload: dict | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    return f"data: {data}\n\n"


DONE = "data: [DONE]\n\n"
