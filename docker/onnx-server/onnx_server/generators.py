"""Models the batcher cannot drive (a CUDA model folder, or a decoder without GroupQueryAttention's shared
buffer): one onnxruntime-genai `Generator` per request on threads, over one `og.Model`. Same interface as
batcher.Batcher (start/submit/cancel/stop) and the same messages; no batching across requests.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from .engine import LoadedModel, Sampling
from .stops import StopMatcher

log = logging.getLogger("onnx_server.generators")


class GeneratorPool:
    def __init__(self, model: LoadedModel, max_concurrency: int, send: Callable[[tuple], None]) -> None:
        import onnxruntime_genai as og

        self.og = og
        self.model = model
        self.og_model = og.Model(str(model.model_dir))
        self.send = send
        self._cancels: dict[int, threading.Event] = {}
        self._pool = ThreadPoolExecutor(max_concurrency, thread_name_prefix="generate")

    def start(self) -> None:
        pass

    def submit(self, job_id: int, prompt: list[int], sampling: Sampling) -> None:
        self._cancels[job_id] = threading.Event()
        self._pool.submit(self._run, job_id, prompt, sampling)

    def cancel(self, job_id: int) -> None:
        event = self._cancels.get(job_id)
        if event:
            event.set()

    def stop(self, timeout: float = 10.0) -> None:
        for event in list(self._cancels.values()):
            event.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job_id: int, prompt: list[int], sampling: Sampling) -> None:
        generated = 0
        try:
            finish, generated = self._generate(job_id, prompt, sampling)
            self.send(("end", job_id, finish, generated))
        except Exception as exc:  # reported to the client; the process keeps serving
            log.exception("generation failed")
            self.send(("failed", job_id, f"{type(exc).__name__}: {exc}", generated))
        finally:
            self._cancels.pop(job_id, None)

    def _generate(self, job_id: int, prompt: list[int], s: Sampling) -> tuple[str, int]:
        og, cancelled = self.og, self._cancels[job_id]
        max_length = min(self.model.info.context_length, len(prompt) + s.max_tokens)
        options: dict = {"max_length": max_length, "min_length": max_length if s.ignore_eos else 0}
        if s.temperature > 0:
            options.update(do_sample=True, temperature=s.temperature, top_p=s.top_p, top_k=s.top_k)
        else:
            options.update(do_sample=False)
        if s.seed is not None:
            options["random_seed"] = s.seed
        params = og.GeneratorParams(self.og_model)
        params.set_search_options(**options)
        generator = og.Generator(self.og_model, params)
        generator.append_tokens(prompt)
        stream = self.model.tokenizer.create_stream()
        matcher = StopMatcher(list(s.stops))
        generated = 0
        while not generator.is_done():
            if cancelled.is_set():
                return "cancelled", generated
            generator.generate_next_token()
            token = int(generator.get_next_tokens()[0])
            generated += 1
            if token in self.model.eos_ids and not s.ignore_eos:
                self.send(("texts", [(job_id, "", time.monotonic())]))
                return "stop", generated
            text, hit_stop = matcher.feed(stream.decode(token))
            self.send(("texts", [(job_id, text, time.monotonic())]))
            if hit_stop:
                return "stop", generated
        tail = matcher.flush()
        if tail:
            self.send(("texts", [(job_id, tail, -1.0)]))  # held-back text, not a new token
        return "length", generated
