"""The smoke suite against the scripted server: every check passes on good answers and fails on
the bad answer meant for it (and only the checks that answer touches fail)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from loadtests.smoke import main
from loadtests.smoke_checks import check_stop, tool_call_problem
from loadtests.smoke_client import OpenAIEndpoint
from loadtests.testing.scripted_server import Fault, ScriptedServer

MODEL = "scripted-model"
API_KEY = "sk-smoke-test-4c1d"
ALL_CHECKS = ["chat", "chat_stream", "math", "code", "tool_call", "max_tokens", "stop", "invalid_request"]
GOOD_REPLIES = {
    "muffins": "7 trays of 12 make 84 muffins; 84 - 59 = 25. There are 25 muffins left.",
    "is_even": "Here it is:\n\n```python\ndef is_even(n):\n    return n % 2 == 0\n```\n",
}
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server():
    with ScriptedServer(models=[MODEL], api_key=API_KEY) as srv:
        yield srv


@pytest.fixture(autouse=True)
def good_server(server):
    """Every test starts from a well-behaved server."""
    server.models[:] = [MODEL]
    server.replies.clear()
    server.replies.update(GOOD_REPLIES)
    server.faults.clear()
    server.model_faults.clear()
    server.requests.clear()
    server.delay_s = 0.0
    server.reasoning_field = None
    server.diverging_requests = set()
    yield server


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "api-key"
    path.write_text(API_KEY + "\n")
    return path


def run(server, out: Path, key_file: Path, *extra: str) -> tuple[int, dict]:
    rc = main(["--host", server.base_url, "--api-key-file", str(key_file), "--out", str(out), *extra])
    return rc, json.loads((out / "smoke.json").read_text())


def statuses(report: dict, model: str = MODEL) -> dict[str, tuple[str, str | None]]:
    return {c["check"]: (c["status"], c["reason"]) for c in report["checks"] if c["model"] == model}


def test_every_check_passes_on_good_answers(server, tmp_path, key_file, capsys):
    rc, report = run(server, tmp_path, key_file, "--expect-tools", MODEL)

    assert rc == 0
    assert report["passed"] is True
    assert report["models"] == [MODEL]
    assert list(statuses(report)) == ALL_CHECKS
    assert {c["status"] for c in report["checks"]} == {"pass"}
    assert all(c["latency_ms"] > 0 and c["prompt"] for c in report["checks"])
    captured = capsys.readouterr()
    assert captured.out.startswith("smoke passed")
    # progress while it runs: one stderr line up front, then one per check as it finishes
    progress = captured.err.splitlines()
    assert progress[0] == f"smoke: {len(ALL_CHECKS)} checks on {MODEL} at {server.base_url}"
    assert [line.split(":")[1].split()[-1] for line in progress[1:]] == ALL_CHECKS
    assert all(line.startswith(f"smoke: {MODEL} ") and ": pass (" in line for line in progress[1:])


def test_requests_are_the_chapters_requests(server, tmp_path, key_file):
    run(server, tmp_path, key_file, "--expect-tools", MODEL)

    tool_requests = [r for r in server.requests if r.get("tools")]
    assert len(tool_requests) == 1
    assert tool_requests[0]["tool_choice"] == "auto"
    assert tool_requests[0]["tools"][0]["function"]["name"] == "calculate_circle_area"
    streams = [r for r in server.requests if r["stream"]]
    assert streams and streams[0]["stream_options"] == {"include_usage": True}
    assert any(r.get("max_tokens") == -1 for r in server.requests)
    assert any(r.get("stop") for r in server.requests)


# (fault, check expected to fail with that reason fragment, every check expected to fail)
FAULT_CASES = [
    (Fault.EMPTY_CONTENT, "chat", "empty content", {"chat", "math", "code", "stop"}),
    (Fault.EMPTY_STREAM_CONTENT, "chat_stream", "empty content", {"chat_stream"}),
    (Fault.NO_FINISH_REASON, "chat", "no finish_reason", {"chat", "max_tokens", "stop"}),
    (Fault.NO_STREAM_FINISH_REASON, "chat_stream", "no finish_reason", {"chat_stream"}),
    (Fault.BAD_USAGE, "chat", "total_tokens", {"chat"}),
    (Fault.UNDERCOUNT_USAGE, "chat", "usage.completion_tokens 1 is too small", {"chat"}),
    (Fault.BAD_STREAM_USAGE, "chat_stream", "completion_tokens is 0", {"chat_stream"}),
    (Fault.NO_STREAM_USAGE, "chat_stream", "no usage", {"chat_stream"}),
    (Fault.STREAM_NO_DONE, "chat_stream", "[DONE]", {"chat_stream"}),
    (Fault.IGNORE_MAX_TOKENS, "max_tokens", "max_tokens 8 ignored", {"chat", "chat_stream", "max_tokens"}),
    (Fault.IGNORE_STOP, "stop", "ignored", {"stop"}),
    (Fault.ACCEPT_NEGATIVE_MAX_TOKENS, "invalid_request", "accepted with HTTP 200", {"invalid_request"}),
    (Fault.SERVER_ERROR_ON_INVALID, "invalid_request", "HTTP 500", {"invalid_request"}),
    (Fault.TOOL_PLAIN_TEXT, "tool_call", "plain text instead of tool_calls", {"tool_call"}),
    (Fault.TOOL_ARGS_NOT_JSON, "tool_call", "is not JSON", {"tool_call"}),
    (Fault.TOOL_ARGS_OBJECT, "tool_call", "must be a JSON string", {"tool_call"}),
    (Fault.TOOL_RADIUS_STRING, "tool_call", "no numeric radius", {"tool_call"}),
    (Fault.TOOL_WRONG_NAME, "tool_call", "'circle_area', not 'calculate_circle_area'", {"tool_call"}),
    (Fault.TOOL_NO_ID, "tool_call", "no id", {"tool_call"}),
]


@pytest.mark.parametrize(("fault", "check", "fragment", "failing"), FAULT_CASES, ids=[c[0].value for c in FAULT_CASES])
def test_each_fault_fails_its_check(server, tmp_path, key_file, fault, check, fragment, failing):
    server.faults.add(fault)

    rc, report = run(server, tmp_path, key_file, "--expect-tools", MODEL)

    assert rc == 30
    assert report["passed"] is False
    results = statuses(report)
    assert results[check][0] == "fail"
    assert fragment in results[check][1]
    assert {name for name, (status, _) in results.items() if status == "fail"} == failing


def test_every_fault_of_the_scripted_server_is_exercised():
    covered = {case[0] for case in FAULT_CASES} | {Fault.ECHO_AUTH_IN_ERRORS}
    assert covered == set(Fault)


@pytest.mark.parametrize(
    ("reply", "passes"),
    [
        ("The answer is **25**.", True),
        ("twenty-five muffins are left", True),
        ("84 - 59 = 25", True),
        ("25 muffins.", True),
        ("There are 24 muffins left.", False),
        ("There are 125 muffins left.", False),
        ("About 2.5 trays.", False),
        # near misses: 25 only inside a word, a decimal, a longer or signed number, or a count through it
        (" ".join(f"w{i}" for i in range(64)), False),
        ("It is the 25th tray.", False),
        ("25.5 muffins", False),
        ("0.25 of them", False),
        ("250 muffins", False),
        ("-25 muffins", False),
        ("twenty-fives", False),
        (" ".join(str(i) for i in range(1, 31)), False),
    ],
)
def test_math_check_is_tolerant_but_wants_the_number(server, tmp_path, key_file, reply, passes):
    server.replies["muffins"] = reply

    rc, report = run(server, tmp_path, key_file, "--model", MODEL)

    status, reason = statuses(report)["math"]
    assert (status == "pass") is passes
    assert rc == (0 if passes else 30)
    if not passes:
        assert "does not contain 25" in reason or "lists numbers around 25" in reason


@pytest.mark.parametrize(
    ("reply", "passes"),
    [
        ("```\ndef is_even(n): return n % 2 == 0\n```", True),
        ("def is_even(n):\n    return n % 2 == 0", False),  # code, but no fenced block
        ("```python\n```", False),  # an empty block
        ("```python\ndef is_even(n):\n    return n % 2 == 0\n", False),  # never closed
        # near misses: a block, but not the function asked for
        ("```python\nprint('hello')\n```", False),
        ("```python\ndef is_even_number(n):\n    return n % 2 == 0\n```", False),
        ("```python\nassert is_even(2)\n```", False),
    ],
)
def test_code_check_wants_a_fenced_block(server, tmp_path, key_file, reply, passes):
    server.replies["is_even"] = reply

    rc, report = run(server, tmp_path, key_file)

    status, reason = statuses(report)["code"]
    assert (status == "pass") is passes
    if not passes:
        assert "no fenced code block" in reason or "does not define is_even(n)" in reason


def _call(name: str = "calculate_circle_area", arguments: str = '{"radius": 5}') -> dict:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (_call(), None),
        (_call(arguments='{"radius": 5.0}'), None),
        (_call(arguments='{"radius": 3}'), "radius 3; the prompt says 5"),  # near miss: the wrong radius
        (_call(arguments='{"radius": "5"}'), "no numeric radius"),
        (_call(arguments='{"radius": true}'), "no numeric radius"),
        (_call(name="calculate_circle_area_v2"), "not 'calculate_circle_area'"),
        (_call(name="Calculate_Circle_Area"), "not 'calculate_circle_area'"),
    ],
)
def test_tool_check_rejects_near_miss_calls(call, fragment):
    reason = tool_call_problem([call], "")
    assert reason is None if fragment is None else fragment in reason


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_text_counts_as_the_answer(server, tmp_path, key_file, field):
    server.reasoning_field = field  # the whole answer arrives as reasoning, content is empty

    rc, report = run(server, tmp_path, key_file)

    results = statuses(report)
    for check in ("chat", "chat_stream", "math", "code", "stop"):
        assert results[check] == ("pass", None), check
    server.replies["muffins"] = "There are 24 muffins left."
    assert statuses(run(server, tmp_path, key_file)[1])["math"][0] == "fail"


@pytest.mark.parametrize(("diverging", "passes"), [({1}, True), ({2}, False)])
def test_stop_check_retries_once_when_greedy_output_diverges(server, diverging, passes):
    server.diverging_requests = diverging  # request 1 is the baseline, 2 and 3 the requests with stop

    with OpenAIEndpoint(server.base_url, API_KEY, timeout_s=10) as endpoint:
        reason = check_stop(endpoint, MODEL)

    assert len(server.requests) == 3
    # A diverged answer spells 33 as "dd": each retry stops on a word of the latest answer.
    expected_stops = [None, ["dd"], ["33"]] if passes else [None, ["33"], ["dd"]]
    assert [r.get("stop") for r in server.requests] == expected_stops
    if passes:
        assert reason is None
    else:
        assert reason == "finish_reason is 'length' after stop 'dd'; expected 'stop'"


def test_tool_check_only_for_tool_capable_models(server, tmp_path, key_file):
    server.faults.add(Fault.TOOL_PLAIN_TEXT)  # harmless for a model nobody expects tools from

    rc, report = run(server, tmp_path, key_file)

    assert rc == 0
    assert statuses(report)["tool_call"] == ("skipped", "model not marked tool-capable (--expect-tools)")


def test_skip_content_checks_reports_skipped_with_reason(server, tmp_path, key_file):
    server.replies.clear()  # wrong math, no code block: would fail if checked

    rc, report = run(server, tmp_path, key_file, "--skip-content-checks", "*")

    assert rc == 0
    results = statuses(report)
    for check in ("math", "code"):
        assert results[check] == ("skipped", "content checks skipped for this model (--skip-content-checks)")


def test_one_broken_model_fails_only_its_checks(server, tmp_path, key_file):
    server.models[:] = [MODEL, "broken-model"]
    server.model_faults["broken-model"] = {Fault.TOOL_PLAIN_TEXT}

    rc, report = run(server, tmp_path, key_file, "--expect-tools", MODEL, "--expect-tools", "broken-model")

    assert rc == 30
    assert report["models"] == [MODEL, "broken-model"]  # default: every served model
    assert all(status == "pass" for status, _ in statuses(report, MODEL).values())
    broken = statuses(report, "broken-model")
    assert [name for name, (status, _) in broken.items() if status == "fail"] == ["tool_call"]


def test_model_not_served_fails(server, tmp_path, key_file):
    rc, report = run(server, tmp_path, key_file, "--model", "phi-4-mini")

    assert rc == 30
    results = statuses(report, "phi-4-mini")
    assert results["served"] == ("fail", f"not in /v1/models (served: {MODEL})")
    assert {status for name, (status, _) in results.items() if name != "served"} == {"skipped"}


def test_unreachable_endpoint_exits_30_with_one_line(tmp_path, key_file, capsys):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    rc = main(["--host", f"http://127.0.0.1:{port}", "--api-key-file", str(key_file), "--out", str(tmp_path), "--timeout", "2"])

    assert rc == 30
    report = json.loads((tmp_path / "smoke.json").read_text())
    assert report["passed"] is False and report["checks"] == []
    assert report["error"].startswith("endpoint unreachable")
    first_line = capsys.readouterr().out.splitlines()[0]
    assert first_line.startswith("smoke FAILED") and "endpoint unreachable" in first_line


def test_rejected_key_exits_30(server, tmp_path):
    rc = main(["--host", server.base_url, "--api-key", "wrong-key", "--out", str(tmp_path)])

    assert rc == 30
    assert json.loads((tmp_path / "smoke.json").read_text())["error"] == "API key rejected: GET /v1/models answered 401"


def test_no_served_model_exits_30(server, tmp_path, key_file):
    server.models.clear()

    rc, report = run(server, tmp_path, key_file)

    assert rc == 30
    assert report["error"] == "GET /v1/models lists no model"
    assert report["passed"] is False


def test_key_from_environment(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)

    assert main(["--host", server.base_url + "/v1", "--out", str(tmp_path)]) == 0


def test_key_never_reaches_results_or_logs(server, tmp_path, key_file, capsys):
    server.faults.add(Fault.ECHO_AUTH_IN_ERRORS)  # every error body carries the Authorization header

    rc, report = run(server, tmp_path, key_file, "--expect-tools", MODEL)

    assert rc == 30
    assert "Bearer ***" in statuses(report)["chat"][1]
    assert API_KEY not in (tmp_path / "smoke.json").read_text()
    captured = capsys.readouterr()
    assert API_KEY not in captured.out + captured.err


def test_request_timeout_fails_the_checks(server, tmp_path, key_file):
    server.delay_s = 0.5

    rc, report = run(server, tmp_path, key_file, "--timeout", "0.1", "--skip-content-checks", "*")

    assert rc == 30
    status, reason = statuses(report)["chat"]
    assert status == "fail" and reason.startswith("request failed: ReadTimeout")


def test_junit_cases_and_summary(server, tmp_path, key_file):
    from loadtests.smoke import SmokeOptions, run_smoke

    server.faults.add(Fault.IGNORE_STOP)
    opts = SmokeOptions(host=server.base_url, api_key=API_KEY, models=None, out_dir=tmp_path,
                        expect_tools=set(), skip_content=set(), timeout_s=10)

    report = run_smoke(opts)

    assert report.passed is False
    cases = {case.get("name"): case for case in report.junit_testcases()}
    assert list(cases) == ALL_CHECKS
    assert {case.get("classname") for case in cases.values()} == {f"smoke.{MODEL}"}
    assert cases["stop"].find("failure").get("message").startswith("stop '33' ignored")
    assert cases["tool_call"].find("skipped") is not None
    assert cases["chat"].find("failure") is None and cases["chat"].find("skipped") is None
    lines = report.summary_lines()
    assert lines[0].startswith("smoke FAILED") and "1 failed" in lines[0]
    assert any(line.split()[:3] == ["FAIL", MODEL, "stop"] for line in lines)
    assert API_KEY not in repr(opts)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "ftp://127.0.0.1:1"], "expected an http(s) URL"),
        (["--host", "http://user:pw@127.0.0.1:1"], "must not carry credentials"),
        (["--host", "http://127.0.0.1:1", "--api-key", "a", "--api-key-file", "/nonexistent"], "not both"),
        (["--host", "http://127.0.0.1:1", "--api-key-file", "/nonexistent/key"], "--api-key-file /nonexistent/key"),
    ],
)
def test_bad_input_is_a_clear_usage_error(tmp_path, capsys, args, message):
    assert main([*args, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "smoke.json").exists()


def test_key_with_inner_whitespace_is_rejected_without_echoing_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-abc def\n")
    assert main(["--host", "http://127.0.0.1:1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "contains whitespace or control characters" in err and "sk-abc" not in err


def test_key_surrounding_whitespace_is_stripped(server, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", f"  {API_KEY}\n")
    assert main(["--host", server.base_url, "--out", str(tmp_path), "--skip-content-checks", "*"]) == 0


def test_unwritable_out_dir_is_a_usage_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["--host", "http://127.0.0.1:1", "--out", str(blocker / "out")]) == 2
    assert f"--out {blocker / 'out'}" in capsys.readouterr().err


def test_options_built_directly_are_checked_too(tmp_path):
    from loadtests.smoke import SmokeOptions

    with pytest.raises(ValueError, match="must not carry credentials"):
        SmokeOptions(host="http://u:p@127.0.0.1:1", api_key=None, models=None, out_dir=tmp_path)
    with pytest.raises(ValueError, match="more than 0 seconds"):
        SmokeOptions(host="http://127.0.0.1:1", api_key=None, models=None, out_dir=tmp_path, timeout_s=0)


def test_empty_key_file_is_rejected(tmp_path, capsys):
    empty = tmp_path / "key"
    empty.write_text("\n")
    assert main(["--host", "http://127.0.0.1:1", "--api-key-file", str(empty), "--out", str(tmp_path)]) == 2
    assert "the file is empty" in capsys.readouterr().err


def test_non_positive_timeout_is_rejected(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["--host", "http://127.0.0.1:1", "--timeout", "0", "--out", str(tmp_path)])
    assert exit_info.value.code == 2


def test_python_dash_m_loadtests_smoke(server, tmp_path, key_file):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "loadtests", "smoke", "--host", server.base_url, "--api-key-file", str(key_file),
         "--out", str(tmp_path), "--expect-tools", MODEL],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("smoke passed")
    assert json.loads((tmp_path / "smoke.json").read_text())["passed"] is True


def test_scripted_server_command_line(tmp_path, key_file):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loadtests.testing.scripted_server", "--port", str(port), "--model", "cli-model",
         "--api-key-file", str(key_file), "--fault", "tool_plain_text"],
        cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(base_url + "/v1/models", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        rc = main(["--host", base_url, "--api-key-file", str(key_file), "--out", str(tmp_path),
                   "--expect-tools", "cli-model", "--skip-content-checks", "*"])
        results = statuses(json.loads((tmp_path / "smoke.json").read_text()), "cli-model")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert rc == 30
    assert [name for name, (status, _) in results.items() if status == "fail"] == ["tool_call"]
