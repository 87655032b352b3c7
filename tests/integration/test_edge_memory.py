"""Huge requests against a real ``sessionplane serve`` process, with the default limits: refused, memory flat.

The server runs in its own process so that its peak resident memory (VmHWM, reset through
/proc/<pid>/clear_refs before each request) is the server's alone, not the test client's.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from sessionplane.demo.servers import free_port
from tests.rawhttp import MiB, RawHttp, chunked, filler, head

PASSWORD = "Adm1n-pa55word!"
HUGE = 300 * MiB
GROWTH_BOUND = 8 * MiB  # measured: at most 1 MiB; the old code grew by 549 MB on a 300 MB body


@dataclass
class Served:
    pid: int
    port: int
    project_id: str
    token: str

    def peak_growth(self, send_request) -> int:
        """Bytes the server's resident memory peaked above where it stood before ``send_request()``."""
        before = _status_kib(self.pid, "VmRSS")
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        send_request()
        return (_status_kib(self.pid, "VmHWM") - before) * 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    command = [sys.executable, "-m", "sessionplane", *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, env=env, check=True).stdout.strip()


def _wait_listening(process: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 60  # a liveness guard for a slow start, not a speed assertion
    while time.monotonic() < deadline:
        assert process.poll() is None, "sessionplane serve exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("sessionplane serve did not listen")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    env = {**os.environ, "SESSIONPLANE_DATA_DIR": str(tmp_path_factory.mktemp("served") / "data")}
    _cli(env, "user", "add", "admin", "--domain", "acme", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    project_id = _cli(env, "project", "add", "ap-1", "--domain", "acme")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "sessionplane", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_listening(process, port)
        user = {"name": "admin", "password": PASSWORD, "domain": {"name": "acme"}}
        identity = {"methods": ["password"], "password": {"user": user}}
        body = {"auth": {"identity": identity, "scope": {"project": {"id": project_id}}}}
        signed_in = httpx.post(f"http://127.0.0.1:{port}/v3/auth/tokens", json=body, timeout=30)
        assert signed_in.status_code == 201, signed_in.text
        yield Served(process.pid, port, project_id, signed_in.headers["X-Subject-Token"])
    finally:
        process.terminate()
        process.wait(timeout=30)


def _close_path(served: Served) -> str:
    return f"/v3/{served.project_id}/redis/nodes/{'0' * 32}no12/sessions"


def _exchange(served: Served, request_head: bytes, body: object, expected: int) -> None:
    with RawHttp("127.0.0.1", served.port) as connection:
        connection.send(request_head)
        sender = connection.send_in_background(body)  # type: ignore[arg-type]
        answer = connection.answer("DELETE")
        assert answer.status == expected, answer.body
        assert answer.json()["error_code"] and answer.headers["X-Request-Id"]
        assert answer.headers["Connection"] == "close" and connection.closed_by_server()
        sender.join()


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_300_mb_unauthenticated_delete_is_refused_unread(served, framing):
    length = {"Content-Length": HUGE} if framing == "content-length" else {"Transfer-Encoding": "chunked"}
    request_head = head("DELETE", _close_path(served), {"Content-Type": "application/json", **length})
    body = filler(HUGE) if framing == "content-length" else chunked(filler(HUGE))
    growth = served.peak_growth(lambda: _exchange(served, request_head, body, 401))
    assert growth < GROWTH_BOUND, f"the server grew by {growth / MiB:.0f} MiB"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_300_mb_authenticated_delete_is_refused_at_the_cap(served, framing):
    length = {"Content-Length": HUGE} if framing == "content-length" else {"Transfer-Encoding": "chunked"}
    headers = {"Content-Type": "application/json", "X-Auth-Token": served.token, **length}
    body = filler(HUGE) if framing == "content-length" else chunked(filler(HUGE))
    growth = served.peak_growth(lambda: _exchange(served, head("DELETE", _close_path(served), headers), body, 413))
    assert growth < GROWTH_BOUND, f"the server grew by {growth / MiB:.0f} MiB"


def test_a_64_mb_header_is_refused_with_431(served):
    def send() -> None:
        with RawHttp("127.0.0.1", served.port) as connection:
            connection.send(f"GET /v3/{served.project_id}/instances HTTP/1.1\r\nHost: x\r\nX-Big: ".encode())
            sender = connection.send_in_background(filler(64 * MiB))
            answer = connection.answer()
            assert answer.status == 431 and answer.json()["error_code"] == "APIG.0201"
            assert answer.headers["X-Request-Id"] and connection.closed_by_server()
            sender.join()

    growth = served.peak_growth(send)
    assert growth < GROWTH_BOUND, f"the server grew by {growth / MiB:.0f} MiB"


def test_the_server_still_answers_afterwards(served):
    response = httpx.get(
        f"http://127.0.0.1:{served.port}/v3/{served.project_id}/instances", headers={"X-Auth-Token": served.token}
    )
    assert response.status_code == 200 and response.json()["total_count"] == 0
