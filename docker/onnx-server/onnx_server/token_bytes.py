"""How much prompt text can possibly fit the context: the bound the server checks before tokenizing.

No token covers more input bytes than the longest entry of its vocabulary (byte-level BPE writes one byte
as one character, SentencePiece a space as the 3-byte "▁", byte fallback one byte as "<0x41>": each spelling
is at least as long as the bytes it stands for). A normalizer can shrink the input before tokenizing (NFC
merges a letter and its accent), hence the SLACK factor; tokenizers whose normalizer can delete text
(StripAccents, Strip, Replace) get no bound, and neither do folders without tokenizer.json.
"""

from __future__ import annotations

import json
from pathlib import Path

SLACK = 4
_DELETING_NORMALIZERS = ("StripAccents", "Strip", "Replace", "Precompiled")


def max_token_bytes(tokenizer_json: dict) -> int | None:
    normalizer = json.dumps(tokenizer_json.get("normalizer"))
    if any(f'"{name}"' in normalizer for name in _DELETING_NORMALIZERS):
        return None
    vocab = (tokenizer_json.get("model") or {}).get("vocab")
    if isinstance(vocab, dict):
        pieces = list(vocab)
    elif isinstance(vocab, list):  # Unigram: [[piece, score], ...]
        pieces = [entry[0] for entry in vocab if entry]
    else:
        return None
    pieces += [t.get("content", "") for t in tokenizer_json.get("added_tokens") or []]
    return max((len(p.encode("utf-8", "surrogatepass")) for p in pieces if isinstance(p, str)), default=None)


def max_prompt_bytes(model_dir: Path, context_length: int) -> int | None:
    """Bytes of text beyond which a prompt cannot fit `context_length` tokens; None when unknown."""
    path = model_dir / "tokenizer.json"
    try:
        longest = max_token_bytes(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None
    return None if not longest else context_length * longest * SLACK
