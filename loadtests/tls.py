"""`--ca-file`: trust a private CA (the kit's self-signed gateway CA on dev/staging) in every client
the load tests use. It sets SSL_CERT_FILE, which httpx (preflight, smoke) and the Locust users read,
so one option covers the gate's subprocesses too."""

from __future__ import annotations

import argparse
import os
import ssl
from pathlib import Path

HINT = ("pass --ca-file PEM with the CA that signed it (the kit's gateway CA: "
        "`pulumi stack output gatewayCa > gateway-ca.pem`)")


def add_ca_argument(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--ca-file", type=Path, metavar="PEM",
                   help="trust this CA certificate (PEM) for the endpoint's TLS, instead of the system CAs "
                        "(e.g. `pulumi stack output gatewayCa > gateway-ca.pem`)")


def use_ca_file(path: Path | None) -> None:
    """Check the file is a loadable CA bundle and make every client trust it. ValueError otherwise."""
    if path is None:
        return
    if not path.is_file():
        raise ValueError(f"--ca-file {path}: no such file")
    try:
        ssl.create_default_context(cafile=str(path))
    except ssl.SSLError as exc:
        raise ValueError(f"--ca-file {path}: not a PEM CA certificate ({exc.reason or exc})") from None
    os.environ["SSL_CERT_FILE"] = str(path.resolve())


def untrusted(exc: BaseException) -> str | None:
    """A one-line explanation when a request failed because the server's certificate is not trusted."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" not in text:
        return None
    reason = text.split("certificate verify failed:", 1)[-1].split("(_ssl", 1)[0].strip(" )") or "unknown CA"
    return f"TLS: the server's certificate is not trusted ({reason}); {HINT}"
