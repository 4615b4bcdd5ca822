"""Model shapes: what capacity planning, dtype checks and engine flags need to know.

Source: each model's config.json and model card on the Hugging Face Hub, and the Ollama library
pages for tags and q4_K_M download sizes. Checked 2026-11-28. Tool-call parsers are the names vLLM
accepts for `--tool-call-parser` (vLLM docs, "Tool Calling", v0.18).
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = "Hugging Face config.json / model cards; ollama.com/library; vLLM tool-calling docs"
CHECKED = "2026-11-28"
# The phi4_mini_json parser expects `functools[...]`, which vLLM's tool template asks the model for
# (vLLM PR 14886); Microsoft's own chat template does not. KAITO passes the same pair.
TOOL_CHAT_TEMPLATE_SOURCE = ("github.com/vllm-project/vllm examples/tool_chat_template_phi4_mini.jinja "
                             "(PR 14886); the phi4_mini_json parser (Phi4MiniJsonToolParser)")
TOOL_CHAT_TEMPLATE_CHECKED = "2026-12-03"


@dataclass(frozen=True)
class ModelCard:
    hf_id: str
    params_b: float  # billions of parameters, embeddings included (they sit in GPU memory too)
    layers: int
    kv_heads: int
    head_dim: int
    max_context: int
    native_dtype: str  # dtype of the published weights: "bfloat16" or "float16"
    gated: bool = False
    ollama_tag: str | None = None
    ollama_size_gb: float | None = None  # q4_K_M download size, what Ollama holds in memory
    tool_parser: str | None = None  # vLLM --tool-call-parser; None: no tool calling
    # vLLM --chat-template for tool calls, as a path in vLLM's repository (examples/...: the image holds
    # it, catalog/images.py VLLM_EXAMPLES_DIR); None: the model's own template fits the parser.
    tool_chat_template: str | None = None
    trust_remote_code: bool = False
    quantization: str | None = None  # set for pre-quantized checkpoints (awq, gptq)
    quantized_variants: tuple[tuple[str, str], ...] = ()  # (method, hf_id) of pre-quantized repos

    def kv_bytes_per_token(self, kv_dtype_bytes: float = 2.0) -> float:
        """K and V for every layer: 2 x layers x kv_heads x head_dim x bytes."""
        return 2 * self.layers * self.kv_heads * self.head_dim * kv_dtype_bytes

    def weight_bytes(self, bytes_per_param: float) -> float:
        return self.params_b * 1e9 * bytes_per_param

    @property
    def tool_capable(self) -> bool:
        return self.tool_parser is not None


def _m(**kw) -> ModelCard:
    return ModelCard(**kw)


MODELS: dict[str, ModelCard] = {
    card.hf_id: card
    for card in [
        _m(hf_id="microsoft/Phi-4-mini-instruct", params_b=3.84, layers=32, kv_heads=8, head_dim=128,
           max_context=131072, native_dtype="bfloat16", ollama_tag="phi4-mini:3.8b", ollama_size_gb=2.5,
           tool_parser="phi4_mini_json", tool_chat_template="examples/tool_chat_template_phi4_mini.jinja"),
        _m(hf_id="Qwen/Qwen2.5-0.5B-Instruct", params_b=0.49, layers=24, kv_heads=2, head_dim=64,
           max_context=32768, native_dtype="bfloat16", ollama_tag="qwen2.5:0.5b", ollama_size_gb=0.40,
           tool_parser="hermes"),
        _m(hf_id="Qwen/Qwen2.5-1.5B-Instruct", params_b=1.54, layers=28, kv_heads=2, head_dim=128,
           max_context=32768, native_dtype="bfloat16", ollama_tag="qwen2.5:1.5b", ollama_size_gb=0.99,
           tool_parser="hermes"),
        _m(hf_id="Qwen/Qwen2.5-3B-Instruct", params_b=3.09, layers=36, kv_heads=2, head_dim=128,
           max_context=32768, native_dtype="bfloat16", ollama_tag="qwen2.5:3b", ollama_size_gb=1.9,
           tool_parser="hermes", quantized_variants=(("awq", "Qwen/Qwen2.5-3B-Instruct-AWQ"),)),
        _m(hf_id="Qwen/Qwen2.5-3B-Instruct-AWQ", params_b=3.09, layers=36, kv_heads=2, head_dim=128,
           max_context=32768, native_dtype="float16", tool_parser="hermes", quantization="awq"),
        _m(hf_id="Qwen/Qwen2.5-7B-Instruct", params_b=7.62, layers=28, kv_heads=4, head_dim=128,
           max_context=32768, native_dtype="bfloat16", ollama_tag="qwen2.5:7b", ollama_size_gb=4.7,
           tool_parser="hermes", quantized_variants=(("awq", "Qwen/Qwen2.5-7B-Instruct-AWQ"),)),
        _m(hf_id="Qwen/Qwen2.5-7B-Instruct-AWQ", params_b=7.62, layers=28, kv_heads=4, head_dim=128,
           max_context=32768, native_dtype="float16", tool_parser="hermes", quantization="awq"),
        _m(hf_id="Qwen/Qwen3-0.6B", params_b=0.60, layers=28, kv_heads=8, head_dim=128,
           max_context=32768, native_dtype="bfloat16", ollama_tag="qwen3:0.6b", ollama_size_gb=0.52,
           tool_parser="hermes"),
        _m(hf_id="Qwen/Qwen3-1.7B", params_b=1.72, layers=28, kv_heads=8, head_dim=128,
           max_context=32768, native_dtype="bfloat16", ollama_tag="qwen3:1.7b", ollama_size_gb=1.4,
           tool_parser="hermes"),
        _m(hf_id="Qwen/Qwen3-4B", params_b=4.02, layers=36, kv_heads=8, head_dim=128,
           max_context=32768, native_dtype="bfloat16", ollama_tag="qwen3:4b", ollama_size_gb=2.5,
           tool_parser="hermes"),
        _m(hf_id="Qwen/Qwen3-8B", params_b=8.19, layers=36, kv_heads=8, head_dim=128,
           max_context=32768, native_dtype="bfloat16", ollama_tag="qwen3:8b", ollama_size_gb=5.2,
           tool_parser="hermes"),
        _m(hf_id="google/gemma-3-1b-it", params_b=1.0, layers=26, kv_heads=1, head_dim=256,
           max_context=32768, native_dtype="bfloat16", gated=True, ollama_tag="gemma3:1b",
           ollama_size_gb=0.82),
        _m(hf_id="google/gemma-3-4b-it", params_b=4.3, layers=34, kv_heads=4, head_dim=256,
           max_context=131072, native_dtype="bfloat16", gated=True, ollama_tag="gemma3:4b",
           ollama_size_gb=3.3),
        _m(hf_id="meta-llama/Llama-3.2-1B-Instruct", params_b=1.24, layers=16, kv_heads=8, head_dim=64,
           max_context=131072, native_dtype="bfloat16", gated=True, ollama_tag="llama3.2:1b",
           ollama_size_gb=1.3, tool_parser="llama3_json"),
        _m(hf_id="meta-llama/Llama-3.2-3B-Instruct", params_b=3.21, layers=28, kv_heads=8, head_dim=128,
           max_context=131072, native_dtype="bfloat16", gated=True, ollama_tag="llama3.2:3b",
           ollama_size_gb=2.0, tool_parser="llama3_json"),
    ]
}

BY_OLLAMA_TAG: dict[str, ModelCard] = {c.ollama_tag: c for c in MODELS.values() if c.ollama_tag}


def lookup(model: str, engine: str) -> ModelCard | None:
    """Ollama servers name models by tag (qwen2.5:0.5b); vLLM and ONNX by Hugging Face repo id."""
    if engine == "ollama":
        return BY_OLLAMA_TAG.get(model)
    return MODELS.get(model)


def known_names(engine: str) -> list[str]:
    return sorted(BY_OLLAMA_TAG) if engine == "ollama" else sorted(MODELS)
