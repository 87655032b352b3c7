"""sessionplane as an operator runs it: one process per CLI command, and ``sessionplane serve`` as a process.

Tests that need a real crash (SIGKILL), another process's view of the store, or the CLI's exit code
and output use these instead of the in-process ``LiveService``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import Result
from typer.testing import CliRunner

from sessionplane.cli.main import app
from sessionplane.demo.servers import free_port


def cli(
    data_dir: Path,
    *args: str,
    stdin: str | None = None,
    code: int | None = 0,
    env: dict[str, str] | None = None,
    columns: int = 250,
) -> subprocess.CompletedProcess[str]:
    """Run ``sessionplane <args>`` against ``data_dir``; its exit code must be ``code`` (None: any)."""
    environment = {**os.environ, "SESSIONPLANE_DATA_DIR": str(data_dir), "COLUMNS": str(columns), **(env or {})}
    result = subprocess.run(
        [sys.executable, "-m", "sessionplane", *args], input=stdin, capture_output=True, text=True, env=environment
    )
    assert code is None or result.returncode == code, f"exit {result.returncode}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result


def invoke(
    data_dir: Path, *args: str, stdin: str | None = None, code: int | None = 0, env: dict[str, str] | None = None
) -> Result:
    """The same command in this process (typer's CliRunner): quicker where another process proves nothing."""
    environment = {"SESSIONPLANE_DATA_DIR": str(data_dir), **(env or {})}
    result = CliRunner().invoke(app, list(args), input=stdin, env=environment)
    assert code is None or result.exit_code == code, f"exit {result.exit_code}\n{result.output}{result.exception!r}"
    return result


class ServeProcess:
    """``sessionplane serve`` in its own process, ready when it answers HTTP."""

    def __init__(self, data_dir: Path, log: Path, *, umask: int = -1, args: tuple[str, ...] = (), **env: str) -> None:
        self.data_dir = data_dir
        self._args = args  # more ``serve`` options (``--workers 2``)
        self._umask = umask
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log
        self._env = {**os.environ, "SESSIONPLANE_DATA_DIR": str(data_dir), **env}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServeProcess:
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "sessionplane", "serve", "--port", str(self.port), *self._args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                umask=self._umask,
            )
        for _ in range(1200):
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}: {self._log.read_text()}")
            try:
                httpx.get(f"{self.url}/openapi.json", timeout=5)
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"serve did not start: {self._log.read_text()}")

    def crash(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut or the OOM killer."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        self.stop()
        if exc_type is not None and self._log.exists():
            # pytest shows a failed test's captured output: the server's side of what went wrong.
            print(f"--- the last lines of {self._log.name} ---", *self._log.read_text().splitlines()[-60:], sep="\n")


def sign_in(url: str, *, domain: str, name: str, password: str, project_id: str) -> str:
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": name, "password": password, "domain": {"name": domain}}},
            },
            "scope": {"project": {"id": project_id}},
        }
    }
    response = httpx.post(f"{url}/v3/auth/tokens", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def gauge(url: str, name: str) -> float:
    """The value of the unlabelled metric ``name`` on the /metrics page at ``url``."""
    text = httpx.get(f"{url}/metrics", timeout=30).text
    found = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    assert found, f"{name} is not in /metrics"
    return float(found.group(1))
