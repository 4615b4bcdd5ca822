"""The Locust web UI with --web-login: a password from the environment (a mounted Secret), the LLM tab fed live."""

import os
import subprocess
import sys
import time

import httpx

from .refserver import REPO, free_port, reference_server


def test_web_ui_requires_login_and_shows_exact_llm_stats(tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text("s3cret-pw\n")
    with reference_server("--ttft-ms", "50", "--itl-ms", "5", "--tokens", "16") as target:
        port = free_port()
        env = {**os.environ, "SLMKIT_WEB_PASSWORD_FILE": str(password_file), "SLMKIT_WEB_USERNAME": "ops"}
        ui = subprocess.Popen([sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--host", target,
                               "--web-host", "127.0.0.1", "--web-port", str(port), "--web-login", "--progress-s", "0"],
                              cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}")
            for _ in range(100):
                try:
                    first = client.get("/")
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            assert first.status_code == 302 and "/login" in first.headers["location"]
            client.post("/slmkit/login", data={"username": "ops", "password": "wrong"})
            assert client.get("/stats/requests").status_code == 302, "a wrong password must not log in"
            client.post("/slmkit/login", data={"username": "ops", "password": "s3cret-pw"})
            assert client.get("/").status_code == 200
            started = client.post("/swarm", data={"user_count": 2, "spawn_rate": 2, "host": target,
                                                  "user_classes": "ClosedLoopUser", "max_tokens": "16"})
            assert started.json()["success"]
            time.sleep(3)
            stats = client.get("/stats/requests").json()
            rows = {row["metric"]: row for row in stats["extended_stats"][0]["data"]}
            assert rows["ttft_ms"]["count"] > 5
            assert abs(float(rows["tpot_ms"]["p50"]) - 5.0) < 0.5
            # one row per real request: TTFT/TPOT are in the LLM tab, not counted as requests in the RPS
            # (plus the one model discovery, a real request: this UI was started without --model)
            assert {s["name"] for s in stats["stats"]} == {"chat stream (E2EL)", "/v1/models (discovery)", "Aggregated"}
            client.get("/stop")
        finally:
            ui.terminate()
            ui.wait(timeout=10)


def test_the_local_ui_listens_on_loopback_and_runs_one_user_class(tmp_path):
    port = free_port()
    ui = subprocess.Popen([sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--host", "http://127.0.0.1:1",
                           "--web-port", str(port), "--progress-s", "0"],
                          cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError("the UI did not come up")
    finally:
        ui.terminate()
        err = ui.communicate(timeout=10)[1]
    assert f"Starting web interface at http://127.0.0.1:{port}" in err  # not 0.0.0.0: loopback unless asked
    assert "running ClosedLoopUser (name OpenLoopUser, or pass --class-picker, to choose)" in err


def test_web_login_without_a_password_refuses_to_start():
    result = subprocess.run([sys.executable, "-m", "locust", "-f", "loadtests/locustfile.py", "--host", "http://127.0.0.1:1",
                             "--web-host", "127.0.0.1", "--web-port", str(free_port()), "--web-login"],
                            cwd=REPO, capture_output=True, text=True, timeout=60,
                            env={k: v for k, v in os.environ.items() if not k.startswith("SLMKIT_WEB")})
    assert result.returncode != 0
    assert "SLMKIT_WEB_PASSWORD_FILE" in result.stderr + result.stdout
