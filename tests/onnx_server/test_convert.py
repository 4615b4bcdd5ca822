"""The conversion CLI: a real local conversion, and clear one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import onnxruntime_genai as og
import pytest

from onnx_server import convert
from tests.fixtures import tiny_model
from tests.fixtures.onnx_fixtures import SERVER_SRC


def test_converts_a_local_hugging_face_folder(tmp_path, capsys):
    hf = tmp_path / "hf"
    tiny_model._save_tokenizer(hf, 128)
    tiny_model._save_model(hf, tiny_model.VOCAB_SIZE, {**tiny_model.SIZES["tiny"], "context_length": 128})
    out = tmp_path / "out"
    rc = convert.main(["--model", str(hf), "--precision", "fp32", "--execution-provider", "cpu", "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert "[3/3]" in printed and "done:" in printed and "context 128" in printed
    summary = json.loads((out / "slmkit-conversion.json").read_text())
    assert summary["precision"] == "fp32" and "model.onnx" in summary["files"]
    model = og.Model(str(out))  # loads with onnxruntime-genai
    assert og.Tokenizer(model).encode("hello world").size > 0


@pytest.mark.parametrize("argv, message", [
    (["--model", "microsoft/Phi-4-mini-instruct"], "--revision is required"),
    (["--model", "microsoft/Phi-4-mini-instruct", "--revision", "main"], "40-character commit SHA"),
    (["--model", "./no/such/folder"], "folder not found"),
])
def test_bad_input_is_a_one_line_error(tmp_path, capsys, argv, message):
    rc = convert.main(argv + ["--precision", "int4", "--execution-provider", "cpu", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_missing_dependency_is_a_one_line_error(tmp_path):
    # Hide torch from the import system, as on a machine without the builder's dependencies.
    code = ("import sys; sys.modules['torch'] = None; import importlib.util as u; real = u.find_spec; "
            "u.find_spec = lambda n, *a: None if n == 'torch' else real(n, *a); "
            "from onnx_server.convert import main; sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", code, "--model", "x/y", "--revision", "a" * 40, "--precision",
                             "int4", "--execution-provider", "cpu", "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, env={"PYTHONPATH": str(SERVER_SRC),
                                                                 "HF_TOKEN": "hf_secret_value"}, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == ("onnx_server.convert: missing dependency: torch "
                                     "(pip install -r requirements-convert.txt)")
    assert "hf_secret_value" not in result.stdout + result.stderr


def test_dockerfile_passes_hadolint():
    hadolint = SERVER_SRC.parents[1] / ".venv" / "bin" / "hadolint"
    binary = str(hadolint) if hadolint.exists() else "hadolint"
    result = subprocess.run([binary, str(SERVER_SRC / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (SERVER_SRC / "Dockerfile").read_text()
    for needle in ("AS cpu", "AS cuda", "AS convert", "USER 10001:10001", "EXPOSE 8000",
                   'ENTRYPOINT ["python", "-m", "onnx_server"]'):
        assert needle in text
    assert "curl" not in text and ":latest" not in text
