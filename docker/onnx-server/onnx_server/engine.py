"""The model and its generation loop; runs inside the engine process (see worker.py).

Why Generators on threads (not og.Engine): onnxruntime-genai 0.18 ships an `Engine` with continuous
batching, but on CPU it builds a *static* engine: a request arriving while a batch runs waits for the whole
batch to finish, and per-request seeds and stop strings raise "requires an Engine configured for dynamic
batching" (dynamic batching needs a PagedAttention model: CUDA fp16/bf16 only). Separate `Generator`
objects over one shared `Model` run concurrently instead, one per admitted request.

Why a separate process: `Generator.generate_next_token` keeps the GIL for most of a step, so a web
server in the same process stalls for a whole token step whenever it needs the GIL. The HTTP process
never runs inference; it exchanges small messages with this process.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .stops import StopMatcher


class ModelLoadError(RuntimeError):
    pass


@dataclass(frozen=True)
class Sampling:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    seed: int | None = None
    stops: tuple[str, ...] = ()
    ignore_eos: bool = False


@dataclass(frozen=True)
class ModelInfo:
    context_length: int
    vocab_size: int


class LoadedModel:
    def __init__(self, model_dir: Path) -> None:
        import onnxruntime_genai as og

        self._og = og
        config_path = model_dir / "genai_config.json"
        if not config_path.is_file():
            raise ModelLoadError(f"{model_dir}: no genai_config.json (is this an onnxruntime-genai model folder?)")
        try:
            config = json.loads(config_path.read_text())
            self.info = ModelInfo(int(config["model"]["context_length"]), int(config["model"]["vocab_size"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"{config_path}: cannot read model.context_length/vocab_size ({exc})") from exc
        try:
            self.model = og.Model(str(model_dir))
            self.tokenizer = og.Tokenizer(self.model)
        except Exception as exc:  # og raises RuntimeError with a readable message
            raise ModelLoadError(f"{model_dir}: onnxruntime-genai could not load the model: {exc}") from exc
        self.eos_ids = set(int(t) for t in self.tokenizer.eos_token_ids)
        self.chat_template = _find_chat_template(model_dir)

    def chat_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        kwargs = {"template_str": self.chat_template} if self.chat_template else {}
        text = self.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True, **kwargs)
        return self.encode(text)

    def encode(self, text: str) -> list[int]:
        return [int(t) for t in self.tokenizer.encode(text)]

    def generate(self, prompt: list[int], s: Sampling, cancelled: threading.Event,
                 on_text: Callable[[str, float], None]) -> tuple[str, int]:
        """Generate until EOS, a stop sequence, max_tokens or cancel; on_text(delta, monotonic time) per token.

        Returns (finish_reason, generated tokens); finish_reason "cancelled" when the client left.
        """
        og = self._og
        max_length = min(self.info.context_length, len(prompt) + s.max_tokens)
        options: dict = {"max_length": max_length, "min_length": max_length if s.ignore_eos else 0}
        if s.temperature > 0:
            options.update(do_sample=True, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k)
        else:
            options.update(do_sample=False)
        if s.seed is not None:
            options["random_seed"] = s.seed
        params = og.GeneratorParams(self.model)
        params.set_search_options(**options)
        generator = og.Generator(self.model, params)
        generator.append_tokens(prompt)
        stream = self.tokenizer.create_stream()
        matcher = StopMatcher(list(s.stops))
        generated = 0
        while not generator.is_done():
            if cancelled.is_set():
                return "cancelled", generated
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            generated += 1
            if token in self.eos_ids and not s.ignore_eos:
                on_text("", time.monotonic())
                return "stop", generated
            text, hit_stop = matcher.feed(stream.decode(token))
            on_text(text, time.monotonic())
            if hit_stop:
                return "stop", generated
        tail = matcher.flush()
        if tail:
            on_text(tail, -1.0)  # held-back text, not a new token
        return "length", generated


def _find_chat_template(model_dir: Path) -> str | None:
    jinja = model_dir / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text()
    config = model_dir / "tokenizer_config.json"
    if config.is_file():
        template = json.loads(config.read_text()).get("chat_template")
        if isinstance(template, str):
            return template
    return None
