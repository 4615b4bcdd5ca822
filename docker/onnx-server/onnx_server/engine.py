"""The model as the engine process holds it: tokenizer, chat template, the decoder session and its KV cache.

Why not onnxruntime-genai's Generator or Engine: one `og.Generator` per request on threads does not batch
(each step reads all the weights for one sequence, and the step holds the GIL), and 0.18's `og.Engine` only
batches statically on CPU (a request waits for the running batch to finish; per-request seeds and stop strings
need its dynamic mode, which needs a PagedAttention model: CUDA fp16/bf16 only). So the engine drives the
builder's model.onnx with onnxruntime itself (decoder.py) and batches at every step (batcher.py); the
onnxruntime-genai tokenizer is still used, loaded from the model folder without a second copy of the weights.

Why a separate process: the HTTP process must never wait for the GIL behind Python work of the decode loop
(sampling, detokenizing). It exchanges small messages with this process (worker.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


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
    context_length: int  # the longest request accepted: the model's context, capped by the KV budget
    vocab_size: int
    kv_cache_tokens: int = 0  # KV budget over all running requests (kv_cache.fits)
    max_sequences: int = 1  # requests decoded in one batch at most


class LoadedModel:
    def __init__(self, model_dir: Path, max_sequences: int = 4, kv_cache_tokens: int | None = None,
                 generators: bool = False) -> None:
        import onnxruntime_genai as og

        from .decoder import Decoder, DecoderError, batchable, read_config

        config_path = model_dir / "genai_config.json"
        if not config_path.is_file():
            raise ModelLoadError(f"{model_dir}: no genai_config.json (is this an onnxruntime-genai model folder?)")
        try:
            config = read_config(model_dir)
            context_length = int(config["model"]["context_length"])
            vocab_size = int(config["model"]["vocab_size"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelLoadError(f"{config_path}: cannot read model.context_length/vocab_size ({exc})") from exc
        self.model_dir = model_dir
        # Batched when the decoder allows it (decoder.batchable: a CPU GroupQueryAttention model), else one
        # onnxruntime-genai Generator per request (generators.py), e.g. for a CUDA model folder.
        self.batched = batchable(config) and not generators
        try:
            self.tokenizer = og.Tokenizer(str(model_dir))
            self.decoder = Decoder(model_dir, config) if self.batched else None
        except (DecoderError, KeyError) as exc:
            raise ModelLoadError(f"{model_dir}: cannot serve this model: {exc}") from exc
        except Exception as exc:  # og and onnxruntime raise RuntimeError-like errors with a readable message
            raise ModelLoadError(f"{model_dir}: could not load the model: {exc}") from exc
        # Default budget: every sequence slot may use the whole context (memory still grows only as used).
        budget = kv_cache_tokens or max_sequences * context_length
        self.cache = self.decoder.new_cache(max_sequences, budget, context_length) if self.decoder else None
        # A request longer than the budget could never be admitted: the HTTP process refuses it up front.
        self.info = ModelInfo(self.cache.max_length if self.cache else context_length, vocab_size,
                              budget if self.cache else max_sequences * context_length, max_sequences)
        self.eos_ids = set(int(t) for t in self.tokenizer.eos_token_ids)
        self.chat_template = _find_chat_template(model_dir)

    def chat_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        kwargs = {"template_str": self.chat_template} if self.chat_template else {}
        text = self.tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True, **kwargs)
        return self.encode(text)

    def encode(self, text: str) -> list[int]:
        return [int(t) for t in self.tokenizer.encode(text)]


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
