"""The saturation sweep against a reference server that saturates (2 streams at once, the rest queue)."""

import csv
import json

from .refserver import CI_PROFILE, reference_server, run_cli


def test_sweep_finds_the_highest_passing_level_and_writes_its_files(tmp_path):
    with reference_server("--ttft-ms", "50", "--itl-ms", "5", "--tokens", "16", "--max-concurrent", "2") as url:
        proc = run_cli("sweep", "--host", url, "--profile", CI_PROFILE, "--out", str(tmp_path), "--levels", "1,2,6,12",
                       "--warmup", "1", "--duration", "3", "--slo", "ttft_ms.p95<=150", "--slo", "error_rate<=0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads((tmp_path / "sweep.json").read_text())
    verdicts = [s["verdict"] for s in result["steps"]]
    # 6 streams on 2 slots wait about two answers (2 x 125 ms) before their first token: TTFT p95 > 150 ms.
    assert verdicts == ["pass", "pass", "fail"], verdicts
    assert result["highest_passing_level"] == 2
    assert result["steps"][2]["failed_rules"] == "ttft_ms.p95<=150"
    rows = list(csv.DictReader((tmp_path / "sweep.csv").open()))
    assert [r["level"] for r in rows] == ["1.0", "2.0", "6.0"]
    assert float(rows[1]["output_tokens_per_s"]) > float(rows[0]["output_tokens_per_s"])
    assert (tmp_path / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "step-03-6" / "summary.json").is_file()
    assert "highest load meeting every SLO: 2 users" in proc.stdout


def test_sweep_rejects_bad_levels(tmp_path):
    proc = run_cli("sweep", "--host", "http://127.0.0.1:1", "--levels", "4,2", "--out", str(tmp_path))
    assert proc.returncode == 2 and "increasing positive numbers" in proc.stderr
