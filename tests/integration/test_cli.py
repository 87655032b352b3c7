"""The operator's CLI, run as a user runs it: a process per command against one data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def cli(data_dir, *args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SESSIONPLANE_DATA_DIR": str(data_dir), "COLUMNS": "250"}
    result = subprocess.run(
        [sys.executable, "-m", "sessionplane", *args], input=stdin, capture_output=True, text=True, env=env
    )
    assert (result.returncode == 0) is ok, result.stdout + result.stderr
    return result


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


def test_operator_workflow(data_dir, cluster, sessions, tmp_path):
    server = cluster.start_server()
    cli(data_dir, "user", "add", "admin", "--domain", "acme", "--admin", "--password-stdin", stdin="Adm1n-password\n")
    cli(data_dir, "user", "add", "bob", "--domain", "acme", "--password-stdin", stdin="B0b-password!\n")
    cli(data_dir, "user", "add", "eve", "--domain", "acme", "--password-stdin", stdin="short\n", ok=False)
    project = cli(data_dir, "project", "add", "ap-1", "--domain", "acme").stdout.strip()
    instance = cli(
        data_dir,
        "instance",
        "add",
        "cache",
        "--project",
        project,
        "--tag",
        "env=prod",
        "--node",
        f"redis://{server.host}:{server.port}",
        "--protect-name",
        "bot",
    ).stdout.strip()
    shown = cli(data_dir, "instance", "show", instance).stdout
    assert "env" in shown and "bot" in shown and str(server.port) in shown

    policy = tmp_path / "p.json"
    policy.write_text(
        json.dumps(
            {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["gaussdbfornosql:instance:listSession"]}]}
        )
    )
    cli(data_dir, "policy", "create", "readers", str(policy), "--domain", "acme")
    cli(data_dir, "policy", "attach", "readers", "--user", "bob", "--project", project, "--domain", "acme")
    simulate = ["policy", "simulate", "--domain", "acme", "--user", "bob", "--instance", instance, "--action"]
    assert cli(data_dir, *simulate, "gaussdbfornosql:instance:listSession").stdout.startswith("ALLOW")
    assert "no statement allows it" in cli(data_dir, *simulate, "gaussdbfornosql:instance:deleteSession").stdout
    policy.write_text('{"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["a:b:c"], "Resource": 7}]}')
    refused = cli(data_dir, "policy", "create", "broken", str(policy), "--domain", "acme", ok=False)
    assert "Statement[0].Resource" in refused.stdout

    key = json.loads(cli(data_dir, "ak", "create", "bob", "--domain", "acme").stdout)
    assert key["ak"] in cli(data_dir, "ak", "list", "bob", "--domain", "acme").stdout
    assert key["sk"] not in cli(data_dir, "ak", "list", "bob", "--domain", "acme").stdout

    app, bot = sessions(server, name="app"), sessions(server, name="bot")
    listed = cli(data_dir, "sessions", "list", "--instance", instance).stdout
    assert "app" in listed and "bot" not in listed
    cli(data_dir, "sessions", "close", "--instance", instance)
    assert app.closed_by_node() and bot.alive()
    audit = json.loads(cli(data_dir, "audit", "list", "--json").stdout)
    assert audit[0]["outcome"] == "succeeded" and audit[0]["user_name"].startswith("cli:")

    cli(data_dir, "instance", "set-status", instance, "frozen")
    frozen = cli(data_dir, "sessions", "list", "--instance", instance, ok=False)
    assert "frozen" in frozen.stderr
    cli(data_dir, "instance", "set-status", instance, "normal")

    cli(data_dir, "keys", "rotate")
    assert len((data_dir / "keyring").read_text().split()) == 2
    assert "app" not in cli(data_dir, "sessions", "list", "--instance", instance).stdout  # secrets still readable
    assert key["ak"] in cli(data_dir, "ak", "list", "bob", "--domain", "acme").stdout
