"""Wall-clock deadlines for the gate: per HTTP request (preflight, smoke) and per phase.

A per-read timeout never fires on a server that trickles one byte every few seconds or sends SSE
heartbeats without tokens. Here a request's body is read in pieces and abandoned once its deadline
passes (each read is also bounded by the time left), and each phase runs under a watchdog, so the
gate always gets to write summary.json and exit.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx

T = TypeVar("T")

# Phase deadlines of the gate (loadtests/gate.py uses them; the in-cluster Job outlasts their sum).
PREFLIGHT_TIMEOUT_S = 10.0  # --preflight-timeout default
PREFLIGHT_SLACK_S = 5.0  # the preflight phase: its request's deadline plus this
SMOKE_DEADLINE_MAX_S = 300.0  # the smoke suite, at most (default: 15 x --smoke-timeout)
LOAD_MARGIN_S = 60.0  # Locust's start-up and record writing, past warm-up + duration + the last request's deadline
KILL_GRACE_S = 10.0  # after SIGTERM, before SIGKILL (twice at most)
REPORT_DEADLINE_S = 120.0  # metrics and result files from the records


def load_deadline_s(warmup_s: float, duration_s: float, request_timeout_s: float) -> float:
    """The load phase: warm-up, measured time, the stop's wait for the last request (its deadline + 1 s), a margin."""
    return warmup_s + duration_s + request_timeout_s + 1 + LOAD_MARGIN_S


def gate_deadline_s(warmup_s: float, duration_s: float, request_timeout_s: float, smoke: bool) -> float:
    """The longest a whole gate run can take with default flags, every phase at its deadline."""
    return (PREFLIGHT_TIMEOUT_S + PREFLIGHT_SLACK_S + (SMOKE_DEADLINE_MAX_S if smoke else 0)
            + load_deadline_s(warmup_s, duration_s, request_timeout_s) + 2 * KILL_GRACE_S + REPORT_DEADLINE_S)


def positive_seconds(text: str) -> float:
    """argparse type of a duration option."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r}: the timeout must be more than 0 seconds")
    return value


class RequestDeadline(httpx.TimeoutException):
    """A request did not finish within its wall-clock deadline (an httpx error, so callers that
    handle transport errors report it the same way)."""


class PhaseDeadline(Exception):
    """A gate phase (preflight, smoke, load, report) did not finish within its deadline."""


class Deadline:
    def __init__(self, seconds: float, what: str) -> None:
        self.seconds, self.what = seconds, what
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def timeout(self) -> httpx.Timeout:
        """An httpx timeout no read can outlast: the time left (at least 10 ms)."""
        return httpx.Timeout(max(0.01, self.left()))

    def check(self, request: httpx.Request | None = None) -> None:
        if self.left() <= 0:
            raise RequestDeadline(f"deadline exceeded: {self.what} did not finish within {self.seconds:g} s", request=request)


def iter_bytes(resp: httpx.Response, deadline: Deadline) -> Iterator[bytes]:
    for chunk in resp.iter_bytes():
        deadline.check(resp.request)
        yield chunk
    deadline.check(resp.request)


def iter_lines(resp: httpx.Response, deadline: Deadline) -> Iterator[str]:
    """The body's lines as they arrive (without line endings), abandoned at the deadline."""
    buffer = b""
    for chunk in iter_bytes(resp, deadline):
        buffer += chunk
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8", errors="replace")
    if buffer:
        yield buffer.rstrip(b"\r").decode("utf-8", errors="replace")


def fetch(client: httpx.Client, method: str, url: str, seconds: float, **kwargs) -> httpx.Response:
    """One request read to the end within `seconds` of wall clock; a complete httpx.Response."""
    deadline = Deadline(seconds, f"{method} {url}")
    with client.stream(method, url, timeout=deadline.timeout(), **kwargs) as resp:
        body = b"".join(iter_bytes(resp, deadline))
    # iter_bytes already decoded any content-encoding: build the response from the plain body.
    headers = [(k, v) for k, v in resp.headers.multi_items() if k.lower() not in ("content-encoding", "content-length")]
    return httpx.Response(resp.status_code, headers=headers, content=body, request=resp.request)


def run_with_deadline(fn: Callable[[], T], seconds: float, phase: str) -> T:
    """Run `fn` in a daemon thread and wait at most `seconds`; PhaseDeadline if it is still running
    (the thread is abandoned: it cannot hold the process, which exits with the gate)."""
    result: dict = {}

    def target() -> None:
        try:
            result["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name=f"gate-{phase}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise PhaseDeadline(f"{phase} deadline exceeded: not finished within {seconds:g} s")
    if "error" in result:
        raise result["error"]
    return result["value"]
