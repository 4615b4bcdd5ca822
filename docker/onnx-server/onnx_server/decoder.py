"""The exported decoder (the model builder's model.onnx) driven with onnxruntime directly, over a KVCache.

What the graph takes (builder output with GroupQueryAttention, checked on onnxruntime 1.32 / genai 0.18):
inputs input_ids (batch, seq), attention_mask (batch, total), optionally position_ids (batch, seq), and
past_key_values.N.key/value (batch, kv_heads, past, head); outputs logits (batch, seq, vocab) and
present.N.key/value. The graph turns the mask into GroupQueryAttention's seqlens_k = sum(mask) - 1 per row
and total_sequence_length = mask width. The CPU kernel (contrib_ops/cpu/bert/gqa_attention_base.h) reads,
for row b, total = seqlens_k[b] + 1 and past = total - seq, attends over exactly those positions, and writes
the new keys/values at [past, total); when past and present are the same buffer it writes in place. So a
right-padded mask gives every row its own length in one batch, and binding one buffer as both past and
present (as onnxruntime-genai does with past_present_share_buffer) avoids a copy per token. Prompts of
different lengths prefill together right-padded (past 0, mask width = the longest): each row attends only to
its own real positions; what padded positions write into the cache lies beyond the row's length and is
overwritten by its next tokens.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .kv_cache import KVCache

_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64,
           "tensor(int32)": np.int32}


class DecoderError(RuntimeError):
    pass


class Decoder:
    def __init__(self, model_dir: Path, config: dict) -> None:
        import onnxruntime as ort

        decoder = config["model"]["decoder"]
        if not config.get("search", {}).get("past_present_share_buffer", False):
            raise DecoderError("batching needs a GroupQueryAttention model (genai_config.json search."
                               "past_present_share_buffer true, as the model builder writes for CPU)")
        names = decoder.get("inputs", {})
        outputs = decoder.get("outputs", {})
        self.layers = int(decoder["num_hidden_layers"])
        self.kv_heads = int(decoder["num_key_value_heads"])
        self.head_size = int(decoder["head_size"])
        self.vocab_size = int(config["model"]["vocab_size"])
        self.input_ids = names.get("input_ids", "input_ids")
        self.attention_mask = names.get("attention_mask", "attention_mask")
        self.position_ids = names.get("position_ids", "position_ids")
        self.logits = outputs.get("logits", "logits")
        past_key = names.get("past_key_names", "past_key_values.%d.key")
        past_value = names.get("past_value_names", "past_key_values.%d.value")
        present_key = outputs.get("present_key_names", "present.%d.key")
        present_value = outputs.get("present_value_names", "present.%d.value")
        self.past = [name % i for i in range(self.layers) for name in (past_key, past_value)]
        self.present = [name % i for i in range(self.layers) for name in (present_key, present_value)]

        options = ort.SessionOptions()
        session_options = decoder.get("session_options", {})
        options.intra_op_num_threads = int(session_options.get("intra_op_num_threads", 0))
        options.inter_op_num_threads = int(session_options.get("inter_op_num_threads", 0))
        # Idle ORT threads sleep instead of spinning: the engine also detokenizes, samples and talks to the
        # HTTP process between steps, and on a small CPU node spinning threads starve exactly that work.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_dir / decoder["filename"]), options,
                                            providers=["CPUExecutionProvider"])
        inputs = {i.name: i.type for i in self.session.get_inputs()}
        missing = [n for n in (self.input_ids, self.attention_mask, *self.past) if n not in inputs]
        if missing:
            raise DecoderError(f"{decoder['filename']} has no input {missing[0]}")
        self.has_position_ids = self.position_ids in inputs
        self.ids_dtype = _DTYPES[inputs[self.input_ids]]
        self.mask_dtype = _DTYPES[inputs[self.attention_mask]]
        self.kv_dtype = _DTYPES[inputs[self.past[0]]]
        self.logits_dtype = _DTYPES[{o.name: o.type for o in self.session.get_outputs()}[self.logits]]

    def new_cache(self, max_rows: int, budget_tokens: int, max_length: int) -> KVCache:
        return KVCache(self.layers, self.kv_heads, self.head_size, self.kv_dtype, max_rows, budget_tokens,
                       max_length)

    def run(self, cache: KVCache, rows: slice, tokens: np.ndarray, past_lengths: list[int],
            new_lengths: list[int] | None = None) -> np.ndarray:
        """Feed tokens (n, seq) to cache rows `rows` holding past_lengths tokens; logits (n, vocab) of each row's
        last real token.

        new_lengths: real tokens per row when rows are right-padded to seq (a batched prefill: past 0 for all).
        The caller made the cache wide enough (max(past_lengths) + seq <= cache.width).
        """
        n, seq = tokens.shape
        past = np.asarray(past_lengths, dtype=np.int64)
        new = np.full(n, seq, dtype=np.int64) if new_lengths is None else np.asarray(new_lengths, dtype=np.int64)
        total = int((past + new).max())
        mask = (np.arange(total)[None, :] < (past + new)[:, None]).astype(self.mask_dtype)
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.input_ids, np.ascontiguousarray(tokens, dtype=self.ids_dtype))
        binding.bind_cpu_input(self.attention_mask, mask)
        if self.has_position_ids:
            positions = (past[:, None] + np.arange(seq)[None, :]).astype(self.ids_dtype)
            binding.bind_cpu_input(self.position_ids, positions)
        logits = np.empty((n, seq, self.vocab_size), self.logits_dtype)
        # Bound to our own arrays: copy_outputs_to_cpu() would copy every present buffer back each step.
        binding.bind_output(self.logits, "cpu", 0, logits.dtype, list(logits.shape), logits.ctypes.data)
        for past_name, present_name, view in zip(self.past, self.present, cache.batch(rows)):
            shape = list(view.shape)
            binding.bind_input(past_name, "cpu", 0, view.dtype, shape, view.ctypes.data)
            binding.bind_output(present_name, "cpu", 0, view.dtype, shape, view.ctypes.data)
        self.session.run_with_iobinding(binding)
        return logits[np.arange(n), new - 1].astype(np.float32, copy=False)


def batchable(config: dict) -> bool:
    """A CPU model with GroupQueryAttention's shared past/present buffer (what Decoder drives)."""
    decoder = config["model"]["decoder"]
    providers = decoder.get("session_options", {}).get("provider_options", [])
    on_cpu = all(not p or set(p) <= {"cpu"} for p in providers)  # e.g. [{"cuda": {...}}] is not
    return bool(config.get("search", {}).get("past_present_share_buffer", False)) and on_cpu


def read_config(model_dir: Path) -> dict:
    return json.loads((model_dir / "genai_config.json").read_text())
