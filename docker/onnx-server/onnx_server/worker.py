"""The engine process: loads the model and runs every admitted request in one continuous batch (batcher.py).

Protocol over one multiprocessing Pipe (tuples, pickled):
  engine -> parent  ("heartbeat", monotonic_time) every HEARTBEAT_SECONDS from its own thread, from start to
                    exit: the HTTP process reports the engine stalled (health 503) when they stop coming
  parent -> engine  ("generate", job_id, prompt_tokens, Sampling) | ("cancel", job_id)
                    | ("tokenize", call_id, "chat"|"text", payload) | ("shutdown",)
  engine -> parent  ("ready", ModelInfo) | ("load_failed", message)
                    | ("texts", [(job_id, delta, monotonic_time), ...])  one message per decode step: a
                      token for each running job (time -1: held-back text released at the end, no token)
                    | ("end", job_id, finish_reason, generated)   finish_reason "stop"|"length"|"cancelled"
                      (the HTTP process submits only jobs whose KV reservation fits ModelInfo's budget,
                      engine_client.submit; should one not fit yet, it waits here until others leave)
                    | ("failed", job_id, message, generated)
                    | ("tokens", call_id, tokens | None, error | None)
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path

from .batcher import Batcher
from .engine import LoadedModel, ModelLoadError
from .generators import GeneratorPool
from .logs import configure_logging

log = logging.getLogger("onnx_server.worker")
HEARTBEAT_SECONDS = 0.5


def serve_engine(model_dir: str, max_concurrency: int, conn: Connection, log_level: str = "info",
                 kv_cache_tokens: int | None = None) -> None:
    configure_logging(log_level)
    send_lock = threading.Lock()

    def send(message: tuple) -> None:
        with send_lock:
            conn.send(message)

    def heartbeat() -> None:
        while True:
            try:
                send(("heartbeat", time.monotonic()))
            except (OSError, ValueError):  # the HTTP process is gone
                return
            time.sleep(HEARTBEAT_SECONDS)

    threading.Thread(target=heartbeat, name="heartbeat", daemon=True).start()
    try:
        model = LoadedModel(Path(model_dir), max_concurrency, kv_cache_tokens)
    except ModelLoadError as exc:
        send(("load_failed", str(exc)))
        return
    batcher = Batcher(model, send) if model.batched else GeneratorPool(model, max_concurrency, send)
    batcher.start()
    log.info("engine ready", extra={"batched": model.batched, "kv_cache_tokens": model.info.kv_cache_tokens,
                                    "max_sequences": model.info.max_sequences,
                                    "kv_bytes_per_token": model.cache.bytes_per_token if model.cache else None})
    send(("ready", model.info))

    def tokenize(call_id: int, kind: str, payload) -> None:
        try:
            tokens = model.chat_tokens(payload) if kind == "chat" else model.encode(payload)
            send(("tokens", call_id, tokens, None))
        except Exception as exc:  # e.g. a chat template that rejects the roles it was given
            send(("tokens", call_id, None, str(exc)))

    # Tokenizing has its own threads so a long prompt never waits behind the decode loop.
    with ThreadPoolExecutor(2, thread_name_prefix="tokenize") as tokenizers:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the HTTP process is gone
                batcher.stop()
                break
            kind = message[0]
            if kind == "generate":
                _, job_id, prompt, sampling = message
                batcher.submit(job_id, prompt, sampling)
            elif kind == "cancel":
                batcher.cancel(message[1])
            elif kind == "tokenize":
                tokenizers.submit(tokenize, *message[1:])
            elif kind == "shutdown":
                batcher.stop()
                break
