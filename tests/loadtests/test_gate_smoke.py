"""The gate runs the smoke suite first: a failing smoke exits 30 before any load, a passing one lands in junit.xml."""

import json
import xml.etree.ElementTree as ET

from .refserver import CI_PROFILE, reference_server, run_cli


def test_failed_smoke_exits_30_before_load_and_passed_smoke_is_reported(tmp_path):
    with reference_server("--ttft-ms", "5", "--itl-ms", "1", "--tokens", "16") as url:
        # The reference server answers "w0 w1 ...": the smoke suite's content checks (math, code) fail.
        failed = run_cli("run", "--host", url, "--profile", CI_PROFILE, "--out", str(tmp_path / "f"), "--users", "1")
        passed = run_cli("run", "--host", url, "--profile", CI_PROFILE, "--out", str(tmp_path / "p"), "--users", "1",
                         "--warmup", "0.5", "--duration", "2", "--skip-content-checks", "*")
    assert failed.returncode == 30, failed.stdout + failed.stderr
    assert json.loads((tmp_path / "f" / "summary.json").read_text())["verdict"] == "preflight_failed"
    assert (tmp_path / "f" / "requests.jsonl").read_text() == "" and not (tmp_path / "f" / "raw").exists()
    assert "smoke" in failed.stdout
    assert passed.returncode == 0, passed.stdout + passed.stderr
    suites = {s.get("name"): s for s in ET.parse(tmp_path / "p" / "junit.xml").getroot()}
    assert {"loadtest.smoke", "loadtest.slo", "loadtest.validity"} <= set(suites)
    assert len(suites["loadtest.smoke"]) >= 3
    assert (tmp_path / "p" / "smoke.json").is_file()
