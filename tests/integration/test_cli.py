"""The operator's CLI against a real store and real nodes: in this process (CliRunner) where a process
boundary proves nothing, as a process where it does (exit codes and tracebacks, terminal width, pipes)."""

from __future__ import annotations

import getpass
import json
import re

import click
import pytest
import typer

from sessionplane.cli.main import app
from tests.processes import cli, invoke

ADMIN_PASSWORD = "Adm1n-password"
LIST_POLICY = {"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["gaussdbfornosql:instance:listSession"]}]}


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def acme(data_dir, cluster):
    """An account with an admin and bob, a project, and an instance over one real node."""
    server = cluster.start_server()
    invoke(data_dir, "user", "add", "admin", "--domain", "acme", "--admin", "--password-stdin", stdin=ADMIN_PASSWORD)
    invoke(data_dir, "user", "add", "bob", "--domain", "acme", "--password-stdin", stdin="B0b-password!\n")
    project = invoke(data_dir, "project", "add", "ap-1", "--domain", "acme").stdout.strip()
    instance = invoke(
        data_dir, "instance", "add", "cache", "--project", project, "--tag", "env=prod",
        "--node", f"redis://{server.host}:{server.port}", "--protect-name", "bot",
    ).stdout.strip()  # fmt: skip
    return {"project": project, "instance": instance, "server": server}


def test_operator_workflow(data_dir, acme, sessions, tmp_path):
    project, instance, server = acme["project"], acme["instance"], acme["server"]
    invoke(data_dir, "user", "add", "eve", "--domain", "acme", "--password-stdin", stdin="short\n", code=2)
    shown = invoke(data_dir, "instance", "show", instance).stdout
    assert "env" in shown and "bot" in shown and str(server.port) in shown

    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(LIST_POLICY))
    invoke(data_dir, "policy", "create", "readers", str(policy), "--domain", "acme")
    invoke(data_dir, "policy", "attach", "readers", "--user", "bob", "--project", project, "--domain", "acme")
    policy.write_text('{"Version": "5.0", "Statement": [{"Effect": "Allow", "Action": ["a:b:c"], "Resource": 7}]}')
    refused = invoke(data_dir, "policy", "create", "broken", str(policy), "--domain", "acme", code=1)
    assert "Statement[0].Resource" in refused.stderr

    key = json.loads(invoke(data_dir, "ak", "create", "bob", "--domain", "acme").stdout)
    assert key["ak"] in invoke(data_dir, "ak", "list", "bob", "--domain", "acme").stdout
    assert key["sk"] not in invoke(data_dir, "ak", "list", "bob", "--domain", "acme").stdout

    app_session, bot = sessions(server, name="app"), sessions(server, name="bot")
    listed = invoke(data_dir, "sessions", "list", "--instance", instance).stdout
    assert "app" in listed and "bot" not in listed
    invoke(data_dir, "sessions", "close", "--instance", instance, "--yes")
    assert app_session.closed_by_node() and bot.alive()

    invoke(data_dir, "instance", "set-status", instance, "frozen")
    frozen = invoke(data_dir, "sessions", "list", "--instance", instance, code=1)
    assert "frozen" in frozen.stderr
    invoke(data_dir, "instance", "set-status", instance, "normal")

    invoke(data_dir, "keys", "rotate")
    assert len((data_dir / "keyring").read_text().split()) == 2
    assert "app" not in invoke(data_dir, "sessions", "list", "--instance", instance).stdout
    assert key["ak"] in invoke(data_dir, "ak", "list", "bob", "--domain", "acme").stdout


def test_cli_closes_are_audited_under_the_instance_account_as_the_os_user(data_dir, acme, sessions):
    sessions(acme["server"], name="app")
    invoke(data_dir, "user", "add", "root", "--domain", "other", "--admin", "--password-stdin", stdin=ADMIN_PASSWORD)
    invoke(data_dir, "sessions", "close", "--instance", acme["instance"], "--yes")

    (record,) = json.loads(invoke(data_dir, "audit", "list", "--domain", "acme", "--json").stdout)
    assert record["outcome"] == "succeeded" and record["user_name"] == f"cli:{getpass.getuser()}"
    assert record["account_id"] and record["project_id"] == acme["project"]
    assert record["node_results"][0]["closed"] == 1
    assert json.loads(invoke(data_dir, "audit", "list", "--domain", "other", "--json").stdout) == []


def test_policy_simulate_exits_3_on_deny_and_takes_role_aliases(data_dir, acme, tmp_path):
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(LIST_POLICY))
    invoke(data_dir, "policy", "create", "readers", str(policy), "--domain", "acme")
    grant = ["readers", "--user", "bob", "--project", acme["project"], "--domain", "acme"]
    invoke(data_dir, "policy", "attach", *grant)
    simulate = ["policy", "simulate", "--domain", "acme", "--user", "bob", "--instance", acme["instance"], "--action"]

    assert invoke(data_dir, *simulate, "gaussdbfornosql:instance:listSession").stdout.startswith("ALLOW")
    assert invoke(data_dir, *simulate, "nosql:session:list").stdout.startswith("ALLOW")
    denied = invoke(data_dir, *simulate, "gaussdbfornosql:instance:deleteSession", code=3)
    assert "DENY (no statement allows it)" in denied.stdout
    assert "DENY" in invoke(data_dir, *simulate, "nosql:session:delete", code=3).stdout
    unknown = invoke(data_dir, *simulate, "nosql:session:explode", code=2)
    assert "nosql:session:delete" in unknown.stderr  # names what it accepts

    # detach takes the very options attach took
    invoke(data_dir, "policy", "detach", *grant)
    assert invoke(data_dir, *simulate, "nosql:session:list", code=3).stdout.startswith("DENY")
    again = invoke(data_dir, "policy", "detach", *grant, code=1)
    assert "is not attached to user bob in project" in again.stderr


def test_bad_input_is_refused_in_one_message_without_a_traceback_and_changes_nothing(data_dir, acme, tmp_path):
    missing = cli(data_dir, "policy", "create", "p", str(tmp_path / "missing.json"), "--domain", "acme", code=2)
    assert "does not exist" in missing.stderr
    bogus_outcome = cli(data_dir, "audit", "list", "--outcome", "bogus", code=2)
    assert "'bogus' is not one of" in bogus_outcome.stderr and "interrupted" in bogus_outcome.stderr
    bogus_status = cli(data_dir, "instance", "set-status", acme["instance"], "bogus", code=2)
    assert "'bogus' is not one of" in bogus_status.stderr and "frozen" in bogus_status.stderr
    assert json.loads(invoke(data_dir, "instance", "show", acme["instance"], "--json").stdout)["status"] == "normal"
    assert json.loads(invoke(data_dir, "policy", "list", "--domain", "acme", "--json").stdout)[-1]["name"] != "p"


def test_version(tmp_path):
    assert re.fullmatch(r"sessionplane \d+\.\d+\.\d+\S*\n", cli(tmp_path, "--version").stdout)


def test_every_command_argument_and_option_has_help():
    missing = []

    def walk(command: click.Command, path: str) -> None:
        if not (command.help or command.short_help):
            missing.append(path)
        for param in command.params:
            if not getattr(param, "help", None) and param.name != "help":
                missing.append(f"{path} {param.name}")
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, f"{path} {name}")

    walk(typer.main.get_command(app), "sessionplane")
    assert missing == []


def test_every_listing_prints_json(data_dir, acme, sessions):
    sessions(acme["server"], name="app")
    invoke(data_dir, "ak", "create", "bob", "--domain", "acme")
    invoke(data_dir, "sessions", "close", "--instance", acme["instance"], "--yes")
    sessions(acme["server"], name="fresh")
    instance, project = acme["instance"], acme["project"]
    listings = {
        ("project", "list"): lambda d: d[0]["id"] == project,
        ("user", "list", "--domain", "acme"): lambda d: {u["name"] for u in d} == {"admin", "bob"},
        ("instance", "list"): lambda d: d[0]["id"] == instance and d[0]["nodes"][0]["password"] is False,
        ("instance", "show", instance): lambda d: d["id"] == instance and d["tags"] == {"env": "prod"},
        ("sessions", "list", "--instance", instance): lambda d: [s["name"] for s in d[0]["sessions"]] == ["fresh"],
        ("sessions", "stats", "--instance", instance): lambda d: d[0]["total_connection_count"] == 1,
        ("policy", "list", "--domain", "acme"): lambda d: (
            {"NoSQL FullAccess", "NoSQL ReadOnlyAccess"} <= {p["name"] for p in d}
        ),
        ("ak", "list", "bob", "--domain", "acme"): lambda d: len(d) == 1 and "sk" not in d[0],
        ("audit", "list", "--instance", instance): lambda d: d[0]["outcome"] == "succeeded",
    }
    for args, holds in listings.items():
        assert holds(json.loads(invoke(data_dir, *args, "--json").stdout)), args


def test_tables_never_cut_ids_at_80_columns_or_in_a_pipe(data_dir, acme, sessions, tmp_path):
    instance, project = acme["instance"], acme["project"]
    sessions(acme["server"], name="app")
    policy = tmp_path / "p.json"
    policy.write_text(json.dumps(LIST_POLICY))
    invoke(data_dir, "policy", "create", "readers", str(policy), "--domain", "acme")
    invoke(data_dir, "policy", "attach", "readers", "--user", "bob", "--project", project, "--domain", "acme")
    invoke(data_dir, "sessions", "close", "--instance", instance, "--yes")
    shown = json.loads(invoke(data_dir, "instance", "show", instance, "--json").stdout)
    node_id = shown["nodes"][0]["id"]
    user_id = next(u["id"] for u in json.loads(invoke(data_dir, "user", "list", "--domain", "acme", "--json").stdout))
    (record,) = json.loads(invoke(data_dir, "audit", "list", "--json").stdout)

    # captured output is a pipe, not a terminal; COLUMNS=80 is the narrowest usual terminal
    narrow = {
        ("instance", "list"): [instance, project],
        ("instance", "show", instance): [instance, node_id],
        ("audit", "list"): [instance, node_id, record["request_id"]],
        ("policy", "list", "--domain", "acme"): [project],
        ("user", "list", "--domain", "acme"): [user_id],
    }
    for args, ids in narrow.items():
        out = cli(data_dir, *args, columns=80).stdout
        assert "…" not in out, out
        for id_ in ids:
            assert id_ in out, (args, id_, out)
