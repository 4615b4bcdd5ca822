"""The engine process: loads the model and runs one Generator thread per admitted request.

Protocol over one multiprocessing Pipe (tuples, pickled):
  parent -> engine  ("generate", job_id, prompt_tokens, Sampling) | ("cancel", job_id)
                    | ("tokenize", call_id, "chat"|"text", payload) | ("shutdown",)
  engine -> parent  ("ready", ModelInfo) | ("load_failed", message)
                    | ("text", job_id, delta, monotonic_time)     one per generated token (time -1: no token)
                    | ("end", job_id, finish_reason, generated)   finish_reason "stop"|"length"|"cancelled"
                    | ("failed", job_id, message, generated)
                    | ("tokens", call_id, tokens | None, error | None)
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path

from .engine import LoadedModel, ModelLoadError
from .logs import configure_logging

log = logging.getLogger("onnx_server.worker")


def serve_engine(model_dir: str, max_concurrency: int, conn: Connection, log_level: str = "info") -> None:
    configure_logging(log_level)
    try:
        model = LoadedModel(Path(model_dir))
    except ModelLoadError as exc:
        conn.send(("load_failed", str(exc)))
        return
    conn.send(("ready", model.info))
    send_lock = threading.Lock()
    cancels: dict[int, threading.Event] = {}

    def send(message: tuple) -> None:
        with send_lock:
            conn.send(message)

    def run(job_id: int, prompt: list[int], sampling) -> None:
        cancelled = cancels[job_id]
        generated = 0
        try:
            finish, generated = model.generate(prompt, sampling, cancelled,
                                               lambda text, at: send(("text", job_id, text, at)))
            send(("end", job_id, finish, generated))
        except Exception as exc:  # reported to the client; the process keeps serving
            log.exception("generation failed")
            send(("failed", job_id, f"{type(exc).__name__}: {exc}", generated))
        finally:
            cancels.pop(job_id, None)

    def tokenize(call_id: int, kind: str, payload) -> None:
        try:
            tokens = model.chat_tokens(payload) if kind == "chat" else model.encode(payload)
            send(("tokens", call_id, tokens, None))
        except Exception as exc:  # e.g. a chat template that rejects the roles it was given
            send(("tokens", call_id, None, str(exc)))

    # Tokenizing has its own threads so a long prompt never waits behind running generations.
    with ThreadPoolExecutor(max_concurrency, thread_name_prefix="generate") as generators, \
            ThreadPoolExecutor(2, thread_name_prefix="tokenize") as tokenizers:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the HTTP process is gone
                break
            kind = message[0]
            if kind == "generate":
                _, job_id, prompt, sampling = message
                cancels[job_id] = threading.Event()
                generators.submit(run, job_id, prompt, sampling)
            elif kind == "cancel":
                event = cancels.get(message[1])
                if event:
                    event.set()
            elif kind == "tokenize":
                tokenizers.submit(tokenize, *message[1:])
            elif kind == "shutdown":
                for event in list(cancels.values()):
                    event.set()
                break
