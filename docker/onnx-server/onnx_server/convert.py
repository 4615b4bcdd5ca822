"""Convert a Hugging Face model to an onnxruntime-genai folder (wraps the onnxruntime-genai model builder).

    python -m onnx_server.convert --model microsoft/Phi-4-mini-instruct --revision <commit sha> \\
        --precision int4 --execution-provider cpu --out /models/phi-4-mini-int4-cpu

--model may also be a local Hugging Face folder (then --revision is optional). HF_TOKEN is read from the
environment for gated models and never printed. Exit codes: 0 done, 2 bad input or missing dependency,
1 conversion failed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUILDER_DEPENDENCIES = {  # import name -> pip name
    "onnxruntime_genai": "onnxruntime-genai",
    "torch": "torch",
    "transformers": "transformers",
    "onnx": "onnx",
    "onnx_ir": "onnx-ir",
}
_SHA = re.compile(r"^[0-9a-f]{40}$")


class ConvertError(Exception):
    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def missing_dependencies() -> list[str]:
    return [pip for module, pip in BUILDER_DEPENDENCIES.items() if importlib.util.find_spec(module) is None]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m onnx_server.convert", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="Hugging Face model id, or a local Hugging Face folder")
    p.add_argument("--revision", help="commit SHA of the model repository (required for a hub id)")
    p.add_argument("--precision", required=True, choices=["int4", "fp16", "fp32"])
    p.add_argument("--execution-provider", required=True, choices=["cpu", "cuda"])
    p.add_argument("--out", required=True, type=Path, help="output folder (must be empty or absent)")
    p.add_argument("--cache-dir", type=Path, help="download and builder scratch space (default: a temp folder)")
    return p.parse_args(argv)


def validate(args: argparse.Namespace) -> Path | None:
    """Return the local source folder, or None for a hub id; raise ConvertError on bad input."""
    local = Path(args.model).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ConvertError(f"--model {local}: no config.json (not a Hugging Face model folder)")
        return local
    if args.model.startswith((".", "/", "~")):
        raise ConvertError(f"--model {args.model}: folder not found")
    if not args.revision:
        raise ConvertError("--revision is required for a hub model: pin the commit SHA so the conversion is repeatable")
    if not _SHA.match(args.revision):
        raise ConvertError(f"--revision {args.revision}: expected a 40-character commit SHA")
    if args.precision == "fp16" and args.execution_provider == "cpu":
        print("note: fp16 on the CPU provider is slower than int4 or fp32 on most CPUs", file=sys.stderr)
    return None


def download(model_id: str, revision: str, target: Path) -> Path:
    from huggingface_hub import snapshot_download

    token = os.environ.get("HF_TOKEN") or None
    print(f"[1/3] downloading {model_id}@{revision[:12]}", flush=True)
    try:
        return Path(snapshot_download(repo_id=model_id, revision=revision, local_dir=target, token=token,
                                      allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.py",
                                                      "*.jinja", "*.tiktoken"]))
    except Exception as exc:  # hub errors carry a readable message; the token is not part of it
        raise ConvertError(f"download of {model_id}@{revision} failed: {type(exc).__name__}: {exc}", 1) from exc


def run_builder(source: Path, out: Path, precision: str, provider: str, scratch: Path) -> None:
    print(f"[2/3] building {precision} ONNX for {provider} (onnxruntime-genai model builder)", flush=True)
    cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(source), "-o", str(out),
           "-p", precision, "-e", provider, "-c", str(scratch)]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-25:])
        raise ConvertError(f"the model builder failed (exit {result.returncode}):\n{tail}", 1)


def summarise(out: Path, args: argparse.Namespace, seconds: float) -> dict:
    config = json.loads((out / "genai_config.json").read_text())
    files = sorted(p for p in out.iterdir() if p.is_file())
    summary = {
        "model": args.model, "revision": args.revision, "precision": args.precision,
        "execution_provider": args.execution_provider, "context_length": config["model"].get("context_length"),
        "size_bytes": sum(p.stat().st_size for p in files), "seconds": round(seconds, 1),
        "files": [p.name for p in files],
    }
    (out / "slmkit-conversion.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def convert(args: argparse.Namespace) -> dict:
    missing = missing_dependencies()
    if missing:
        raise ConvertError(f"missing dependency: {', '.join(missing)} (pip install -r requirements-convert.txt)")
    source = validate(args)
    if args.out.exists() and any(args.out.iterdir()):
        raise ConvertError(f"--out {args.out}: folder is not empty")
    started = time.monotonic()
    scratch_root = args.cache_dir or Path(tempfile.mkdtemp(prefix="onnx-convert-"))
    try:
        if source is None:
            source = download(args.model, args.revision, scratch_root / "hf")
        else:
            print(f"[1/3] using local folder {source}", flush=True)
        run_builder(source, args.out, args.precision, args.execution_provider, scratch_root / "builder")
        if not (args.out / "genai_config.json").is_file():
            raise ConvertError(f"the model builder wrote no genai_config.json into {args.out}", 1)
        print("[3/3] checking the result", flush=True)
        return summarise(args.out, args, time.monotonic() - started)
    finally:
        if args.cache_dir is None:
            shutil.rmtree(scratch_root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        summary = convert(args)
    except ConvertError as exc:
        print(f"onnx_server.convert: {exc}", file=sys.stderr)
        return exc.code
    mib = summary["size_bytes"] / 2**20
    print(f"done: {args.out} ({summary['precision']}, {summary['execution_provider']}, "
          f"context {summary['context_length']}, {mib:.1f} MiB, {summary['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
