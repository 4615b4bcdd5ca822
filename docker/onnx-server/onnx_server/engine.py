"""The model and its generation loop.

Why Generators on worker threads (not og.Engine): onnxruntime-genai 0.18 ships an `Engine` with
continuous batching, but on CPU it builds a *static* engine: a request arriving while a batch runs
waits for the whole batch to finish, and per-request seeds and stop strings raise "requires an Engine
configured for dynamic batching" (dynamic batching needs a PagedAttention model, CUDA fp16/bf16 only).
Separate `Generator` objects over one shared `Model` run concurrently: ONNX Runtime sessions are
thread-safe for Run and release the GIL, so each admitted request gets its own Generator on its own
worker thread and the asyncio loop only moves text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .metrics import ServerMetrics
from .stops import StopMatcher

log = logging.getLogger("onnx_server.engine")


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


@dataclass
class Event:
    kind: str  # "delta" | "done" | "error"
    text: str = ""
    finish_reason: str | None = None
    completion_tokens: int = 0


@dataclass
class Job:
    """One request's generation: filled by a worker thread, read by the event loop."""

    prompt_tokens: list[int]
    sampling: Sampling
    arrival: float
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue = field(default_factory=asyncio.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    first_token_at: float | None = None
    generated: int = 0

    def emit(self, event: Event) -> None:
        self.loop.call_soon_threadsafe(self.events.put_nowait, event)


class LoadedModel:
    def __init__(self, model_dir: Path) -> None:
        import onnxruntime_genai as og

        self._og = og
        config_path = model_dir / "genai_config.json"
        if not config_path.is_file():
            raise ModelLoadError(f"{model_dir}: no genai_config.json (is this an onnxruntime-genai model folder?)")
        try:
            config = json.loads(config_path.read_text())
            self.context_length = int(config["model"]["context_length"])
            self.vocab_size = int(config["model"]["vocab_size"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"{config_path}: cannot read model.context_length ({exc})") from exc
        try:
            self.model = og.Model(str(model_dir))
            self.tokenizer = og.Tokenizer(self.model)
        except Exception as exc:  # og raises RuntimeError with a readable message
            raise ModelLoadError(f"{model_dir}: onnxruntime-genai could not load the model: {exc}") from exc
        self.eos_ids = set(int(t) for t in self.tokenizer.eos_token_ids)
        self.chat_template = _find_chat_template(model_dir)

    # -- prompt side (called from worker threads: tokenization of long prompts takes milliseconds)
    def render_chat(self, messages: list[dict[str, str]]) -> str:
        kwargs = {"template_str": self.chat_template} if self.chat_template else {}
        return self.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True, **kwargs)

    def encode(self, text: str) -> list[int]:
        return [int(t) for t in self.tokenizer.encode(text)]

    # -- generation (worker thread)
    def generate(self, job: Job, metrics: ServerMetrics) -> None:
        metrics.prompt_tokens.labels(metrics.model_name).inc(len(job.prompt_tokens))
        try:
            self._generate(job, metrics)
        except Exception as exc:  # surfaced to the client as an error event / 500, never a silent stop
            log.exception("generation failed")
            job.emit(Event("error", text=f"generation failed: {type(exc).__name__}: {exc}"))
        finally:
            metrics.generation_tokens.labels(metrics.model_name).inc(job.generated)

    def _generate(self, job: Job, metrics: ServerMetrics) -> None:
        og = self._og
        s = job.sampling
        prompt_len = len(job.prompt_tokens)
        max_length = min(self.context_length, prompt_len + s.max_tokens)
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
        generator.append_tokens(job.prompt_tokens)
        stream = self.tokenizer.create_stream()
        matcher = StopMatcher(list(s.stops))
        generated = 0
        finish = "length"
        hit_stop = False
        last = None
        while not generator.is_done():
            if job.cancelled.is_set():
                return
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            now = time.perf_counter()
            generated += 1
            job.generated = generated
            if last is None:
                job.first_token_at = now
                metrics.observe_ttft(now - job.arrival)
            else:
                metrics.observe_itl(now - last)
            last = now
            if token in self.eos_ids and not s.ignore_eos:
                finish = "stop"
                break
            text, hit_stop = matcher.feed(stream.decode(token))
            if text:
                job.emit(Event("delta", text=text))
            if hit_stop:
                finish = "stop"
                break
        tail = "" if hit_stop else matcher.flush()
        if tail:
            job.emit(Event("delta", text=tail))
        metrics.observe_e2e(time.perf_counter() - job.arrival)
        job.emit(Event("done", finish_reason=finish, completion_tokens=generated))


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
