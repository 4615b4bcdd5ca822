"""Server settings from the command line and the environment. The API key never comes from argv."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

API_KEY_ENV = "ONNX_SERVER_API_KEY"
API_KEY_FILE_ENV = "ONNX_SERVER_API_KEY_FILE"
# Fits `docker stop`'s 10 s grace with room to exit; the kit's manifests pass their own (components/servers).
DEFAULT_DRAIN_SECONDS = 5.0


class Settings(BaseModel):
    model_dir: Path
    host: str = "0.0.0.0"
    port: int = Field(default=8000, ge=1, le=65535)
    served_model_name: str
    api_key: SecretStr | None = None
    max_concurrency: int = Field(default=4, ge=1)
    max_queue: int = Field(default=64, ge=0)
    kv_cache_tokens: int | None = Field(default=None, ge=1)
    log_level: str = "info"
    # Connection guards (see connections.py and middleware.py); seconds.
    header_timeout: float = Field(default=10.0, gt=0)
    body_timeout: float = Field(default=30.0, gt=0)
    idle_timeout: float = Field(default=5.0, gt=0)
    max_connections: int = Field(default=1024, ge=8)
    engine_heartbeat_timeout: float = Field(default=10.0, gt=0)
    # SIGTERM: streams have this long to finish before they are ended with an error event (see drain.py).
    drain_seconds: float = Field(default=DEFAULT_DRAIN_SECONDS, ge=0)


class SettingsError(ValueError):
    pass


def read_api_key(key_file: str | None, environ: dict[str, str]) -> SecretStr | None:
    """--api-key-file, then $ONNX_SERVER_API_KEY_FILE, then $ONNX_SERVER_API_KEY; None disables auth."""
    path = key_file or environ.get(API_KEY_FILE_ENV)
    if path:
        try:
            key = Path(path).read_text().strip()
        except OSError as exc:
            raise SettingsError(f"cannot read the API key file {path}: {exc.strerror}") from exc
        if not key:
            raise SettingsError(f"the API key file {path} is empty")
        return SecretStr(key)
    key = environ.get(API_KEY_ENV, "").strip()
    return SecretStr(key) if key else None


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m onnx_server",
                                description="OpenAI-compatible server for an onnxruntime-genai model folder.")
    p.add_argument("--model-dir", required=True, type=Path,
                   help="folder with genai_config.json, the ONNX files and the tokenizer files")
    p.add_argument("--host", default="0.0.0.0")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--served-model-name", help="model id clients send (default: the folder name)")
    p.add_argument("--api-key-file", help=f"file holding the API key (or ${API_KEY_FILE_ENV} / ${API_KEY_ENV})")
    p.add_argument("--max-concurrency", type=int, default=4, help="requests generating at once (default 4)")
    p.add_argument("--max-queue", type=int, default=64,
                   help="requests waiting for a slot before new ones get 503 (default 64)")
    p.add_argument("--kv-cache-tokens", type=int, default=None,
                   help="KV cache budget in tokens over all running requests (default: max-concurrency x "
                        "context length); requests beyond it wait")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument("--header-timeout", type=float, default=10.0,
                   help="seconds a connection has to send a complete request head (default 10)")
    p.add_argument("--body-timeout", type=float, default=30.0,
                   help="seconds a request has to send its whole body (default 30)")
    p.add_argument("--idle-timeout", type=float, default=5.0,
                   help="seconds an idle keep-alive connection is kept (default 5)")
    p.add_argument("--max-connections", type=int, default=1024,
                   help="open connections at most (also at most half the open-file limit); beyond it the "
                        "oldest idle connection is closed (default 1024)")
    p.add_argument("--engine-heartbeat-timeout", type=float, default=10.0,
                   help="seconds without a heartbeat from the engine process before /health answers 503 "
                        "(default 10)")
    p.add_argument("--drain-seconds", type=float, default=DEFAULT_DRAIN_SECONDS,
                   help="on SIGTERM, seconds running requests have to finish before they are ended "
                        f"(default {DEFAULT_DRAIN_SECONDS:g}; keep it below the pod's grace period)")
    return p


def settings_from_args(argv: list[str] | None = None, environ: dict[str, str] | None = None) -> Settings:
    args = parser().parse_args(argv)
    environ = dict(os.environ) if environ is None else environ
    model_dir = args.model_dir.expanduser()
    if not model_dir.is_dir():
        raise SettingsError(f"--model-dir {model_dir}: not a folder")
    try:
        return Settings(
            model_dir=model_dir, host=args.host, port=args.port,
            served_model_name=args.served_model_name or model_dir.resolve().name,
            api_key=read_api_key(args.api_key_file, environ),
            max_concurrency=args.max_concurrency, max_queue=args.max_queue, log_level=args.log_level,
            kv_cache_tokens=args.kv_cache_tokens,
            header_timeout=args.header_timeout, body_timeout=args.body_timeout, idle_timeout=args.idle_timeout,
            max_connections=args.max_connections, engine_heartbeat_timeout=args.engine_heartbeat_timeout,
            drain_seconds=args.drain_seconds,
        )
    except ValueError as exc:
        if isinstance(exc, SettingsError):
            raise
        first = exc.errors()[0]  # pydantic ValidationError
        raise SettingsError(f"--{first['loc'][0].replace('_', '-')}: {first['msg']}") from exc
