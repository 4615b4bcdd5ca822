"""Continuous (iteration-level) batching: one decode loop over every running sequence, in one thread.

Each iteration: drop cancelled sequences, prefill the waiting ones that fit the KV budget (one at a time, each
into the next free cache row), then run one decode step over all running rows together. A sequence that
finishes (EOS, stop string, max_tokens) or is cancelled leaves at once: the last row moves into its place, so
running rows are always [0, n) and the step binds them as one contiguous batch. Requests that do not fit the
budget wait here, in arrival order, until enough sequences have left.

Per sequence: its own Sampler (seeded generator), token stream for detokenizing and StopMatcher. Greedy rows
take the argmax of their own logits row, so a request's greedy output does not depend on its neighbours.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .engine import LoadedModel, Sampling
from .sampler import Sampler
from .stops import StopMatcher

log = logging.getLogger("onnx_server.batcher")
# Prompts that arrive together prefill as one batch (fewer, larger matrix products) while the padded batch
# stays small: the graph computes logits for every prompt position (PREFILL_TOKENS x vocab floats). A longer
# prompt prefills alone in chunks of PREFILL_TOKENS, which bounds that buffer (GroupQueryAttention takes a
# chunk after a past: past = seqlens_k + 1 - chunk length), 0.8 GB for Phi-4-mini's 200064-token vocabulary.
PREFILL_GROUP = 16
PREFILL_TOKENS = 1024


@dataclass
class Sequence:
    job_id: int
    prompt: list[int]
    sampling: Sampling
    sampler: Sampler
    stream: object  # og.TokenizerStream
    matcher: StopMatcher
    length: int = 0  # tokens in the KV cache
    generated: int = 0
    last_token: int = 0
    finish: str | None = None

    @property
    def reservation(self) -> int:
        return len(self.prompt) + self.sampling.max_tokens


@dataclass
class _Inbox:
    new: list = field(default_factory=list)
    cancels: set = field(default_factory=set)
    stop: bool = False


class Batcher:
    """Thread-safe front (submit/cancel/stop from the message loop) over the decode loop thread (run)."""

    def __init__(self, model: LoadedModel, send: Callable[[tuple], None]) -> None:
        self.model = model
        self.cache = model.cache
        self.send = send
        self._inbox = _Inbox()
        self._wake = threading.Condition()
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []  # running[i] lives in cache row i
        self._texts: list[tuple] = []  # this step's (job_id, text, time), sent as one message
        self._thread = threading.Thread(target=self._loop, name="batcher", daemon=True)

    # -- called from the message loop thread
    def start(self) -> None:
        self._thread.start()

    def submit(self, job_id: int, prompt: list[int], sampling: Sampling) -> None:
        with self._wake:
            self._inbox.new.append((job_id, prompt, sampling))
            self._wake.notify()

    def cancel(self, job_id: int) -> None:
        with self._wake:
            self._inbox.cancels.add(job_id)
            self._wake.notify()

    def stop(self, timeout: float = 10.0) -> None:
        with self._wake:
            self._inbox.stop = True
            self._wake.notify()
        self._thread.join(timeout)

    # -- the decode loop thread
    def _loop(self) -> None:
        while True:
            with self._wake:
                while not (self._inbox.new or self._inbox.cancels or self._inbox.stop or self.running
                           or self._admissible()):
                    self._wake.wait()
                inbox, self._inbox = self._inbox, _Inbox(stop=self._inbox.stop)
            for job_id, prompt, sampling in inbox.new:
                self.waiting.append(self._sequence(job_id, prompt, sampling))
            if inbox.stop:
                inbox.cancels |= {s.job_id for s in (*self.running, *self.waiting)}
            if inbox.cancels:
                self._cancel(inbox.cancels)
            if inbox.stop:
                return
            try:
                self._admit()
                if self.running:
                    self._step()
            except Exception as exc:  # the model failed: fail what it held, keep serving new requests
                log.exception("decode step failed")
                self._texts = []
                for seq in self.running:
                    self.send(("failed", seq.job_id, f"{type(exc).__name__}: {exc}", seq.generated))
                self.running.clear()
                self.cache.clear()

    def _sequence(self, job_id: int, prompt: list[int], sampling: Sampling) -> Sequence:
        eos = sorted(self.model.eos_ids) if sampling.ignore_eos else []
        return Sequence(job_id, prompt, sampling, Sampler(sampling, eos), self.model.tokenizer.create_stream(),
                        StopMatcher(list(sampling.stops)))

    def _admissible(self) -> bool:
        if not self.waiting:
            return False
        return self.cache.fits([s.reservation for s in self.running] + [self.waiting[0].reservation])

    def _cancel(self, job_ids: set[int]) -> None:
        for seq in [s for s in self.waiting if s.job_id in job_ids]:
            self.waiting.remove(seq)
            self.send(("end", seq.job_id, "cancelled", 0))
        for seq in self.running:
            if seq.job_id in job_ids:
                seq.finish = "cancelled"
        self._leave()

    def _admit(self) -> None:
        """Prefill what fits, short prompts together (right-padded), each group into the next free rows."""
        while self._admissible():
            first = len(self.running)
            group = [self.waiting.popleft()]
            self.running.append(group[0])
            while (self._admissible() and len(group) < PREFILL_GROUP
                   and self._padded(group + [self.waiting[0]]) <= PREFILL_TOKENS):
                group.append(self.waiting.popleft())
                self.running.append(group[-1])
            width = max(len(s.prompt) for s in group)
            self._ensure(width)
            if width > PREFILL_TOKENS:  # alone (see the group rule): in chunks, each a continuation of the last
                prompt = group[0].prompt
                for start in range(0, len(prompt), PREFILL_TOKENS):
                    chunk = np.asarray([prompt[start:start + PREFILL_TOKENS]])
                    logits = self.model.decoder.run(self.cache, slice(first, first + 1), chunk, [start])
            else:
                tokens = np.zeros((len(group), width), dtype=np.int64)
                for i, seq in enumerate(group):
                    tokens[i, :len(seq.prompt)] = seq.prompt
                logits = self.model.decoder.run(self.cache, slice(first, first + len(group)), tokens,
                                                [0] * len(group), [len(s.prompt) for s in group])
            now = time.monotonic()
            for i, seq in enumerate(group):
                seq.length = len(seq.prompt)
                self._emit(seq, seq.sampler.choose(logits[i]), now)
            self._leave()
        self._flush()

    @staticmethod
    def _padded(group: list[Sequence]) -> int:
        return len(group) * max(len(s.prompt) for s in group)

    def _step(self) -> None:
        self._ensure(max(s.length for s in self.running) + 1)
        tokens = np.asarray([[s.last_token] for s in self.running])
        logits = self.model.decoder.run(self.cache, slice(0, len(self.running)), tokens,
                                        [s.length for s in self.running])
        now = time.monotonic()
        greedy = np.argmax(logits, axis=-1)
        for i, seq in enumerate(self.running):
            seq.length += 1
            sampler = seq.sampler
            token = int(greedy[i]) if sampler.greedy and not sampler.suppress.size else sampler.choose(logits[i])
            self._emit(seq, token, now)
        self._leave()
        self._flush()

    def _ensure(self, length: int) -> None:
        self.cache.ensure(len(self.running), length, [s.length for s in self.running],
                          max(s.reservation for s in self.running))

    def _emit(self, seq: Sequence, token: int, at: float) -> None:
        seq.generated += 1
        seq.last_token = token
        if token in self.model.eos_ids and not seq.sampling.ignore_eos:
            self._texts.append((seq.job_id, "", at))
            seq.finish = "stop"
            return
        text, hit_stop = seq.matcher.feed(seq.stream.decode(token))
        self._texts.append((seq.job_id, text, at))
        if hit_stop:
            seq.finish = "stop"
        elif seq.generated >= seq.sampling.max_tokens:
            tail = seq.matcher.flush()
            if tail:
                self._texts.append((seq.job_id, tail, -1.0))  # held-back text, not a new token
            seq.finish = "length"

    def _flush(self) -> None:
        if self._texts:
            self.send(("texts", self._texts))
            self._texts = []

    def _leave(self) -> None:
        """Remove finished rows: the last running row moves into each freed row."""
        left = False
        for row in range(len(self.running) - 1, -1, -1):
            seq = self.running[row]
            if seq.finish is None:
                continue
            last = len(self.running) - 1
            if row != last:
                self.cache.move(last, row, self.running[last].length)
                self.running[row] = self.running[last]
            self.running.pop()
            self._flush()  # its text goes before its end
            self.send(("end", seq.job_id, seq.finish, seq.generated))
            left = True
        if left:
            self.cache.shrink([s.length for s in self.running],
                              max((s.reservation for s in self.running), default=0))
