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
from pathlib import Path

import httpx
import pytest
import redis

from sessionplane.demo.servers import free_port
from tests.processes import ServeProcess, sign_in


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


def _start_demo(tmp_path: Path, *, nodes: int = 2) -> tuple[subprocess.Popen[str], Path]:
    """``sessionplane demo`` as a user starts it; its state file, once written, says the rest."""
    state_file = tmp_path / "state.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "sessionplane", "demo", "--port", str(free_port()), "--nodes", str(nodes)]
        + ["--state-file", str(state_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    return process, state_file


def _stop_demo(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)
    process.stdout.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_demo_serves_and_its_curl_commands_work(tmp_path):
    process, state_file = _start_demo(tmp_path)
    try:
        state = _wait_for(state_file, process)
        port = int(state["endpoint"].rsplit(":", 1)[1])
        assert oct(state_file.stat().st_mode & 0o777) == "0o600"
        assert {"endpoint", "region", "project_id", "instance_id", "nodes", "user", "readonly_user", "ak", "sk"} <= set(
            state
        )
        output = ""
        while "Ctrl-C stops the demo" not in output:
            output += process.stdout.readline()
        data_dir = Path(state["data_dir"])
        assert f"data dir     {data_dir}" in output and oct(data_dir.stat().st_mode & 0o777) == "0o700"
        for node in state["nodes"]:
            assert f"{node['host']}:{node['port']}  password={node['password']}" in output
            with redis.Redis(host=node["host"], port=node["port"], password=node["password"]) as direct:
                assert direct.ping()  # what redis-cli -a <password> does with the printed password
        operator = subprocess.run(
            [sys.executable, "-m", "sessionplane", "instance", "list", "--json"],
            env={**os.environ, "SESSIONPLANE_DATA_DIR": str(data_dir)},
            capture_output=True,
            text=True,
        )
        assert json.loads(operator.stdout)[0]["id"] == state["instance_id"], operator.stderr
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
        _stop_demo(process)
    assert process.returncode == 0
    assert not any(_port_open(n["host"], n["port"]) for n in state["nodes"])
    assert not _port_open("127.0.0.1", port)
    assert not Path(state["data_dir"]).exists()


def test_another_sessionplane_process_keeps_its_connections_through_the_demos_close_all(tmp_path):
    """A process knows only its own connections by ID; the demo's own ACL user, protected, covers the others."""
    process, state_file = _start_demo(tmp_path, nodes=1)
    try:
        state = _wait_for(state_file, process)
        node, user = state["nodes"][0], state["user"]
        with (
            redis.Redis(host=node["host"], port=node["port"], password=node["password"]) as direct,
            ServeProcess(Path(state["data_dir"]), tmp_path / "second.log") as second,
        ):
            token = sign_in(
                second.url, **{k: user[k] for k in ("domain", "name", "password")}, project_id=state["project_id"]
            )
            listed = httpx.get(
                f"{second.url}/v3/{state['project_id']}/redis/nodes/{node['id']}/sessions",
                headers={"X-Auth-Token": token},
            )
            assert listed.status_code == 200 and "sessionplane" not in {s["name"] for s in listed.json()["sessions"]}
            seconds = {c["id"] for c in direct.client_list() if c["user"] == "sessionplane"}
            clients = {c["id"] for c in direct.client_list() if c["user"] == "default" and c["name"]}
            assert seconds and clients  # both processes' pools, and the demo's sample clients

            closed = httpx.request(
                "DELETE",
                f"{state['endpoint']}/v3/{state['project_id']}/redis/nodes/{node['id']}/sessions",
                headers={
                    "X-Auth-Token": sign_in(
                        state["endpoint"],
                        **{k: user[k] for k in ("domain", "name", "password")},
                        project_id=state["project_id"],
                    )
                },
                json={"is_all": True},
            )

            assert closed.status_code == 200, closed.text
            after = {c["id"]: c for c in direct.client_list()}
            assert seconds <= set(after)  # the second process' connections, and the demo's own, survived
            assert not clients & set(after)  # the clients did not
    finally:
        _stop_demo(process)


def test_demo_on_a_busy_port_says_so_in_one_line_and_leaves_nothing_behind(tmp_path):
    scratch = tmp_path / "tmp"  # the demo's temporary directories go here (TMPDIR), so leftovers show
    scratch.mkdir()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "sessionplane", "demo", "--port", str(port), "--nodes", "2"],
            capture_output=True,
            text=True,
            env={**os.environ, "TMPDIR": str(scratch)},
            timeout=120,
        )
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port} (Address already in use)")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr + result.stdout
    assert list(scratch.iterdir()) == []
    assert _processes_mentioning(str(scratch)) == []  # no redis-server left running


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # the process ended meanwhile
            continue
        if text in command:
            found.append(command)
    return found
