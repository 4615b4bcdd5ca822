"""Locust web UI additions: a login (with --web-login) and a live LLM tab fed by the exact records.

Login credentials come from files or env (a mounted Kubernetes Secret), never from arguments:
  SLMKIT_WEB_USERNAME (default "admin"), SLMKIT_WEB_PASSWORD_FILE or SLMKIT_WEB_PASSWORD,
  SLMKIT_WEB_SECRET_KEY_FILE or SLMKIT_WEB_SECRET_KEY (Flask session key; random per start if unset).
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import time
from pathlib import Path

from flask import Blueprint, jsonify, redirect, request, session, url_for
from flask_login import UserMixin, login_user

LLM_TAB = {"title": "LLM", "key": "llm"}
LLM_TABLE = {"key": "llm", "structure": [{"key": "metric", "title": "Metric (exact, measured window)"}] + [
    {"key": k, "title": k} for k in ("count", "mean", "p50", "p90", "p95", "p99")]}


class LoginUser(UserMixin):
    def __init__(self, username: str) -> None:
        self.id = username


def _secret(name: str) -> str | None:
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name)


def install(environment, collector) -> None:
    web_ui = environment.web_ui
    if web_ui.web_login:
        install_login(environment)
    original_update = web_ui.update_template_args

    def update_template_args():
        original_update()
        web_ui.template_args["extended_tabs"] = [LLM_TAB]
        web_ui.template_args["extended_tables"] = [LLM_TABLE]

    web_ui.update_template_args = update_template_args
    update_template_args()

    @web_ui.app.after_request
    def add_llm_stats(response):
        # The UI polls /stats/requests; extended_stats rows fill the LLM tab.
        if request.path.endswith("/stats/requests") and response.is_json:
            body = response.get_json()
            body["extended_stats"] = [{"key": "llm", "data": live_rows(collector)}]
            response.set_data(json.dumps(body))
        return response

    @web_ui.app.route("/slmkit/stats")
    @web_ui.auth_required_if_enabled
    def slmkit_stats():
        return jsonify(live_rows(collector))


def live_rows(collector) -> list[dict]:
    from loadtests.metrics import distribution

    measured = [r for r in collector.records if r["status"] == "ok" and (r["sent_at"] or 0) >= collector.started_at + collector.warmup_s]
    rows = []
    for key in ("ttft_ms", "tpot_ms", "e2el_ms"):
        d = distribution([r[key] for r in measured if r[key] is not None])
        rows.append({"metric": key, "count": d["count"], **{k: _fmt(d[k]) for k in ("mean", "p50", "p90", "p95", "p99")}})
    window = max(1e-9, time.time() - collector.started_at - collector.warmup_s)
    tokens = sum(r["output_tokens"] or 0 for r in measured)
    rows.append({"metric": "output tokens/s", "count": tokens, "mean": _fmt(tokens / window)})
    return rows


def _fmt(value) -> str:
    return "" if value is None else f"{value:.1f}"


def install_login(environment) -> None:
    web_ui = environment.web_ui
    username = os.environ.get("SLMKIT_WEB_USERNAME", "admin")
    password = _secret("SLMKIT_WEB_PASSWORD")
    if not password:
        raise SystemExit("--web-login needs a password: set SLMKIT_WEB_PASSWORD_FILE (a mounted Secret) or SLMKIT_WEB_PASSWORD")
    web_ui.app.config["SECRET_KEY"] = _secret("SLMKIT_WEB_SECRET_KEY") or secrets.token_hex(32)
    web_ui.app.config["SESSION_COOKIE_HTTPONLY"] = True
    web_ui.app.config["SESSION_COOKIE_SAMESITE"] = "Strict"
    web_ui.login_manager.user_loader(lambda user_id: LoginUser(user_id) if user_id == username else None)
    base = environment.parsed_options.web_base_path if environment.parsed_options else ""
    web_ui.auth_args = {"username_password_callback": f"{base}/slmkit/login"}
    blueprint = Blueprint("slmkit_auth", __name__, url_prefix=base)

    @blueprint.route("/slmkit/login", methods=["POST"])
    def login_submit():
        given_user = request.form.get("username", "")
        given_password = request.form.get("password", "")
        if hmac.compare_digest(given_user.encode(), username.encode()) and hmac.compare_digest(given_password.encode(), password.encode()):
            login_user(LoginUser(username))
            return redirect(url_for("locust.index"))
        session["auth_error"] = "Invalid username or password"
        return redirect(url_for("locust.login"))

    web_ui.app.register_blueprint(blueprint)
