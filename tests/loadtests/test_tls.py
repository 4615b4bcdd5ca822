"""The gate verifies TLS, and trusts a private CA named by SSL_CERT_FILE (the kit's gateway CA in
the in-cluster gate) in every client it uses: preflight, smoke and the Locust users."""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import subprocess
import sys

import pytest

from .refserver import REPO, free_port

PROFILE = str(REPO / "tests" / "loadtests" / "ci-profile.yaml")


def openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory):
    """A CA and a server certificate for 127.0.0.1, made with the openssl CLI."""
    d = tmp_path_factory.mktemp("ca")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=slmkit test CA", "-keyout", "ca.key", "-out", "ca.pem",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "ext.cnf", "-out", "server.pem", cwd=d)
    return d


@contextlib.contextmanager
def tls_reference_server(ca_dir):
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "loadtests", "reference-server", "--port", str(port),
                             "--ttft-ms", "20", "--itl-ms", "5", "--tokens", "16",
                             "--tls-cert", str(ca_dir / "server.pem"), "--tls-key", str(ca_dir / "server.key")],
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"https://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(url + "/health", timeout=1, verify=ssl.create_default_context(cafile=ca_dir / "ca.pem"))
                break
            except httpx.HTTPError:
                if proc.poll() is not None:
                    raise RuntimeError(proc.stderr.read().decode()) from None
                import time

                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def gate(url: str, out, env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"} | env_extra
    return subprocess.run([sys.executable, "-m", "loadtests", "run", "--host", url, "--profile", PROFILE,
                           "--out", str(out), "--no-smoke"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False)


def test_the_gate_trusts_a_private_ca_through_ssl_cert_file(private_ca, tmp_path):
    with tls_reference_server(private_ca) as url:
        untrusted = gate(url, tmp_path / "untrusted", {})
        assert untrusted.returncode == 30, untrusted.stdout + untrusted.stderr  # preflight refuses the unknown CA
        trusted = gate(url, tmp_path / "trusted", {"SSL_CERT_FILE": str(private_ca / "ca.pem")})
        assert trusted.returncode == 0, trusted.stdout[-3000:] + trusted.stderr[-3000:]
        assert '"verdict": "pass"' in (tmp_path / "trusted" / "summary.json").read_text()


def ca_file_run(command: str, url: str, out, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"}
    args = {"run": ["--profile", PROFILE, "--no-smoke"], "smoke": ["--skip-content-checks", "*"],
            "sweep": ["--profile", PROFILE, "--levels", "1"]}[command]
    return subprocess.run([sys.executable, "-m", "loadtests", command, "--host", url, "--out", str(out), *args, *extra],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=240, check=False)


def test_run_with_ca_file_passes_and_without_it_names_the_option(private_ca, tmp_path):
    with tls_reference_server(private_ca) as url:
        without = ca_file_run("run", url, tmp_path / "without")
        assert without.returncode == 30
        problem = [line for line in without.stdout.splitlines() if "not trusted" in line]
        assert len(problem) == 1 and "--ca-file" in problem[0], without.stdout
        with_ca = ca_file_run("run", url, tmp_path / "with", "--ca-file", str(private_ca / "ca.pem"))
        assert with_ca.returncode == 0, with_ca.stdout[-3000:] + with_ca.stderr[-3000:]
        assert json.loads((tmp_path / "with" / "summary.json").read_text())["verdict"] == "pass"


def test_smoke_takes_the_ca_file_and_names_it_when_missing(private_ca, tmp_path):
    with tls_reference_server(private_ca) as url:
        without = ca_file_run("smoke", url, tmp_path / "without")
        assert without.returncode == 30 and "--ca-file" in without.stdout + without.stderr
        with_ca = ca_file_run("smoke", url, tmp_path / "with", "--ca-file", str(private_ca / "ca.pem"))
        assert "not trusted" not in with_ca.stdout + with_ca.stderr, with_ca.stdout[-2000:]
        assert (tmp_path / "with" / "smoke.json").is_file()


def test_sweep_takes_the_ca_file(private_ca, tmp_path):
    with tls_reference_server(private_ca) as url:
        without = ca_file_run("sweep", url, tmp_path / "without")
        assert without.returncode == 30 and "--ca-file" in without.stdout
        with_ca = ca_file_run("sweep", url, tmp_path / "with", "--ca-file", str(private_ca / "ca.pem"))
        assert with_ca.returncode == 0, with_ca.stdout[-3000:] + with_ca.stderr[-3000:]


def test_a_bad_ca_file_is_a_usage_error(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    for path in (bad, tmp_path / "missing.pem"):
        result = ca_file_run("run", "https://127.0.0.1:1", tmp_path / "out", "--ca-file", str(path))
        assert result.returncode == 2 and f"--ca-file {path}" in result.stderr
