"""The raw onnxruntime-genai loop the server must agree with (greedy decoding, same prompt)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime_genai as og


class Reference:
    def __init__(self, model_dir: Path) -> None:
        self.model = og.Model(str(model_dir))
        self.tokenizer = og.Tokenizer(self.model)
        self.eos = set(int(t) for t in self.tokenizer.eos_token_ids)

    def chat_prompt(self, messages: list[dict]) -> list[int]:
        text = self.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True)
        return [int(t) for t in self.tokenizer.encode(text)]

    def text_prompt(self, text: str) -> list[int]:
        return [int(t) for t in self.tokenizer.encode(text)]

    def greedy(self, prompt: list[int], max_tokens: int, ignore_eos: bool = False) -> tuple[str, list[int]]:
        params = og.GeneratorParams(self.model)
        length = len(prompt) + max_tokens
        params.set_search_options(max_length=length, min_length=length if ignore_eos else 0, do_sample=False)
        generator = og.Generator(self.model, params)
        generator.append_tokens(np.array(prompt, dtype=np.int32))
        tokens: list[int] = []
        while not generator.is_done():
            generator.generate_next_token()
            tokens.append(int(generator.get_next_tokens()[0]))
            if tokens[-1] in self.eos and not ignore_eos:
                break
        # Decode the way a streaming client sees it: the random model emits lone UTF-8 continuation bytes,
        # which a whole-sequence decode truncates at while the token stream skips them.
        stream = self.tokenizer.create_stream()
        return "".join(stream.decode(t) for t in tokens if t not in self.eos), tokens
