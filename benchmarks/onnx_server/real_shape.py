"""Build a random model of Phi-4-mini's shape (a few of its 32 layers), int4 for CPU, with the model builder.

    .venv/bin/python benchmarks/onnx_server/real_shape.py [--layers 4] [--out DIR]

Shape (components/catalog/models.py: 32 layers, 8 KV heads, head 128; Phi-4-mini-instruct's config.json:
hidden 3072, intermediate 8192, 24 attention heads, vocab 200064, tied embeddings): every layer is full size,
so per-layer cost and the 200064-row embedding/LM head are real; only the layer count is cut to fit a shared
2-core machine. Rotary scaling (LongRoPE) is left out and the context is 4096 (Phi-4-mini's original
window): neither changes the per-token work at these lengths. Nothing is downloaded; weights are random.
The embedding rows (tied to the LM head) of ids the locally trained tokenizer does not know are zero, so
the model only emits known tokens (visible text, hence a measurable TTFT) while the LM head keeps its full
200064 x 3072 size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.fixtures.tiny_model import CACHE_ROOT, _save_tokenizer  # noqa: E402

PHI4_MINI = dict(hidden_size=3072, intermediate_size=8192, num_attention_heads=24, num_key_value_heads=8,
                 vocab_size=200064, tie_word_embeddings=True)
CONTEXT = 4096


def build(out: Path, layers: int) -> Path:
    import torch
    from transformers import Phi3Config, Phi3ForCausalLM

    if (out / "genai_config.json").is_file():
        return out
    with tempfile.TemporaryDirectory(prefix="phi4-shape-") as tmp:
        hf = Path(tmp) / "hf"
        _save_tokenizer(hf, CONTEXT)
        torch.manual_seed(0)
        config = Phi3Config(**PHI4_MINI, num_hidden_layers=layers, max_position_embeddings=CONTEXT,
                            original_max_position_embeddings=CONTEXT, partial_rotary_factor=0.75,
                            bos_token_id=0, eos_token_id=1, pad_token_id=1)
        model = Phi3ForCausalLM(config)
        known = len(json.loads((hf / "tokenizer.json").read_text())["model"]["vocab"])
        with torch.no_grad():
            model.get_input_embeddings().weight[known:] = 0.0
        model.save_pretrained(hf)
        cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf), "-o", str(out),
               "-p", "int4", "-e", "cpu", "-c", str(Path(tmp) / "cache")]
        subprocess.run(cmd, check=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    print(build(args.out or CACHE_ROOT / f"phi4-mini-shape-{args.layers}l-int4-v2", args.layers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
