"""The demo end to end: start it as a user would, run the curl commands it prints, stop it with Ctrl-C."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from sessionplane.demo.servers import free_port


def _wait_for(path, process) -> dict:
    for _ in range(600):
        if path.exists() and path.stat().st_size:
            return json.loads(path.read_text())
        if process.poll() is not None:
            raise AssertionError(process.stdout.read())
        time.sleep(0.05)
    raise AssertionError("the demo did not write its state file")


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex((host, port)) == 0


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_demo_serves_and_its_curl_commands_work(tmp_path):
    state_file = tmp_path / "state.json"
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sessionplane",
            "demo",
            "--port",
            str(port),
            "--nodes",
            "2",
            "--state-file",
            str(state_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        state = _wait_for(state_file, process)
        assert oct(state_file.stat().st_mode & 0o777) == "0o600"
        assert {"endpoint", "region", "project_id", "instance_id", "nodes", "user", "readonly_user", "ak", "sk"} <= set(
            state
        )
        output = ""
        while "Ctrl-C stops the demo" not in output:
            output += process.stdout.readline()
        curl_block = output.split("# sign in", 1)[1].split("\n───", 1)[0]
        script = "set -euo pipefail\n# sign in" + curl_block.replace("curl -s ", "curl -sf ")
        result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert '"node_sessions"' in result.stdout and '"top_source_ips"' in result.stdout
        assert '"name":"batch clients idle over 60 s"' in result.stdout and '"runs":[' in result.stdout
        assert '"records":[' in result.stdout
        assert '"error_code":"' not in result.stdout  # rule runs and audit records carry "error_code":null
        assert state["rule_id"] in output and "--mode enforce" in output
        assert all(_port_open(n["host"], n["port"]) for n in state["nodes"])
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
        process.stdout.close()
    assert process.returncode == 0
    assert not any(_port_open(n["host"], n["port"]) for n in state["nodes"])
    assert not _port_open("127.0.0.1", port)
