"""The rules CLI and the reconnect count of a CLI close, run as an operator runs them: a process per command."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import settings_for
from tests.live import LiveService
from tests.processes import cli
from tests.support import RawSession

WINDOW = {"SESSIONPLANE_RECONNECT_WINDOW_SECONDS": "1"}


def _setup(data_dir, server) -> str:
    cli(data_dir, "user", "add", "admin", "--domain", "acme", "--admin", "--password-stdin", stdin="Adm1n-password\n")
    project = cli(data_dir, "project", "add", "ap-1", "--domain", "acme").stdout.strip()
    node = f"redis://{server.host}:{server.port}"
    return cli(data_dir, "instance", "add", "cache", "--project", project, "--node", node).stdout.strip()


def test_rules_from_the_cli(tmp_path, cluster, sessions, monkeypatch):
    data_dir = tmp_path / "data"
    server = cluster.start_server()
    instance = _setup(data_dir, server)
    monkeypatch.setenv("SESSIONPLANE_RECONNECT_WINDOW_SECONDS", "1")

    add = ["rules", "add", "--instance", instance, "--name", "idle batch", "--match", '{"name": ["batch-*"]}']
    refused = cli(data_dir, *add, "--interval", "5", code=1)
    assert "interval_seconds" in refused.stderr
    rule_id = cli(data_dir, *add, "--mode", "enforce").stdout.strip()
    listed = cli(data_dir, "rules", "list", "--instance", instance).stdout
    assert rule_id in listed and "enforce" in listed and listed.count("idle batch") == 1
    assert "every 60 s, at most 1000 per run" in cli(data_dir, "rules", "show", rule_id).stdout

    victim = sessions(server, name="batch-1")
    live = LiveService(settings_for(data_dir, rule_tick_seconds=0, reconnect_window_seconds=1)).start()
    try:
        (run,) = live.call(live.services.scheduler.tick())
        assert victim.closed_by_node() and run.closed == 1
        sessions(server, name="batch-1")  # back at once
        live.call(live.services.reconnects.drain())
    finally:
        live.stop()
    runs = cli(data_dir, "rules", "runs", rule_id).stdout
    assert "matched 1, closed 1, 1 came back within 1 s" in runs

    assert "disabled" in cli(data_dir, "rules", "update", rule_id, "--disable").stdout
    audit = cli(data_dir, "audit", "list", "--actor", "rule:*").stdout
    assert f"rule:{rule_id}" in audit and "closed 1, 1 came back" in audit
    changes = json.loads(cli(data_dir, "audit", "list", "--json", "--actor", "cli:*").stdout)
    assert [e["action"].rsplit(":", 1)[-1] for e in changes] == ["update", "create"]

    cli(data_dir, "rules", "remove", rule_id)
    assert "does not exist" in cli(data_dir, "rules", "show", rule_id, code=1).stderr


def test_a_cli_close_waits_for_the_reconnect_count(tmp_path, cluster, sessions):
    data_dir = tmp_path / "data"
    server = cluster.start_server()
    instance = _setup(data_dir, server)
    sessions(server, name="worker")
    sessions(server, name="loner")
    env = {**os.environ, "SESSIONPLANE_DATA_DIR": str(data_dir), "COLUMNS": "250", **WINDOW}
    process = subprocess.Popen(
        [sys.executable, "-m", "sessionplane", "sessions", "close", "--instance", instance, "--yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    output = ""
    while "watching for reconnects" not in output:
        line = process.stdout.readline()
        assert line, output
        output += line
    back = RawSession(server, name="worker")  # the worker comes back within the window; the loner does not
    try:
        output += process.stdout.read()
        assert process.wait() == 0, output
    finally:
        back.close()
        process.stdout.close()
    assert "closed 2, 1 came back within 1 s" in output
    (record,) = json.loads(cli(data_dir, "audit", "list", "--json").stdout)
    assert record["actor"].startswith("cli:") and (record["closed"], record["reconnected"]) == (2, 1)
