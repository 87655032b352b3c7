"""``sessionplane sessions search|summary|close|history`` against real redis-server and valkey-server nodes.

Two instances of one project: ``orders`` on two Redis 7.0 nodes and ``billing`` on one Valkey node
(Redis 7.0 has no ``lib-name``). Sessions are raw sockets with known names, users, DBs, source IPs
and last commands, so each flag's effect is checked against what the test opened. Commands run in
this process (typer's CliRunner) unless a process boundary matters (exit codes with tracebacks,
terminal width, a prompt answered while the command waits).
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sessionplane.cli.context import load_settings, run
from sessionplane.demo.servers import LocalCluster, RedisServer
from tests.processes import cli, invoke
from tests.support import PROBE_NAME, RawSession, node_view, wait_until_idle

OPS_PASSWORD = "0ps-Sessions-pa55"


@dataclass
class Fleet:
    data_dir: Path
    project: str
    orders: str  # instance IDs
    billing: str
    nodes: dict[str, str]  # a, b, c -> node ID
    servers: dict[str, RedisServer]
    opened: dict[str, RawSession] = field(default_factory=dict)

    def search(self, *flags: str) -> dict:
        return json.loads(invoke(self.data_dir, "sessions", "search", "--limit", "1000", *flags, "--json").stdout)

    def names(self, *flags: str) -> list[str]:
        return sorted(s["name"] for s in self.search(*flags)["sessions"])


def adopt(data_dir: Path, project: str, name: str, *servers: RedisServer) -> str:
    nodes = [a for s in servers for a in ("--node", f"redis://{s.host}:{s.port}")]
    return invoke(
        data_dir, "instance", "add", name, "--project", project, *nodes, "--protect-name", PROBE_NAME
    ).stdout.strip()


def node_ids(data_dir: Path, instance: str) -> list[str]:
    return [n["id"] for n in json.loads(invoke(data_dir, "instance", "show", instance, "--json").stdout)["nodes"]]


def add_ops_user(server: RedisServer) -> None:
    with server.client(client_name=PROBE_NAME) as client:
        client.acl_setuser("ops", enabled=True, passwords=[f"+{OPS_PASSWORD}"], commands=["+@all"], keys=["*"])


def start_project(data_dir: Path) -> str:
    invoke(data_dir, "user", "add", "admin", "--domain", "acme", "--admin", "--password-stdin", stdin="Adm1n-pass!\n")
    return invoke(data_dir, "project", "add", "ap-1", "--domain", "acme").stdout.strip()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    data_dir = tmp_path_factory.mktemp("cli-fleet") / "data"
    with LocalCluster() as redis, LocalCluster(kind="valkey") as valkey:
        servers = {"a": redis.start_server(), "b": redis.start_server(), "c": valkey.start_server()}
        add_ops_user(servers["a"])
        project = start_project(data_dir)
        orders = adopt(data_dir, project, "orders", servers["a"], servers["b"])
        billing = adopt(data_dir, project, "billing", servers["c"])
        found = Fleet(data_dir, project, orders, billing, {}, servers)
        found.nodes = dict(zip("abc", [*node_ids(data_dir, orders), *node_ids(data_dir, billing)], strict=True))
        a, b, c = servers["a"], servers["b"], servers["c"]
        found.opened["sleepy"] = RawSession(b, name="sleepy")
        specs = {
            "batch-1": (a, {}),
            "batch-2": (a, {"db": 3}),
            "batch-ops": (a, {"user": "ops", "password": OPS_PASSWORD}),
            "app": (a, {}),
            "": (a, {}),
            "remote": (a, {"source_ip": "127.0.0.2"}),
            "listener": (a, {}),
            "batch-3": (b, {}),
            "healthcheck": (b, {}),
            "batch-4": (c, {"db": 3}),
            "libbed": (c, {}),
            "app-2": (c, {}),
        }
        for name, (server, options) in specs.items():
            found.opened[name] = RawSession(server, name=name or None, **options)  # type: ignore[arg-type]
        found.opened["libbed"].call("CLIENT", "SETINFO", "LIB-NAME", "fancy-lib")
        found.opened["listener"].sock.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n")  # flag P from now on
        wait_until_idle(b, [found.opened["sleepy"]], seconds=3)
        try:
            yield found
        finally:
            for session in found.opened.values():
                session.close()


ALL = sorted(
    ["sleepy", "batch-1", "batch-2", "batch-ops", "app", "", "remote", "listener", "batch-3", "healthcheck"]
    + ["batch-4", "libbed", "app-2"]
)


def test_each_selector_flag_filters_what_it_says(fleet):
    assert fleet.names() == ALL  # one project: the scope is all of it, without naming it
    assert fleet.names("--project", fleet.project) == ALL
    assert fleet.names("--name", "batch-*") == ["batch-1", "batch-2", "batch-3", "batch-4", "batch-ops"]
    assert fleet.names("--name", "batch-?", "--name", "app") == ["app", "batch-1", "batch-2", "batch-3", "batch-4"]
    assert fleet.names("--name", "") == [""]
    assert fleet.names("--user", "ops") == ["batch-ops"]
    assert fleet.names("--user", "op?", "--name", "app") == []  # flags AND together
    assert fleet.names("--lib", "fancy-*") == ["libbed"]
    assert fleet.names("--db", "3") == ["batch-2", "batch-4"]
    assert fleet.names("--ip", "127.0.0.2") == ["remote"]
    assert fleet.names("--addr-prefix", "127.0.0.2:") == ["remote"]
    assert fleet.names("--flags", "P") == ["listener"]
    assert fleet.names("--cmd", "subscribe") == ["listener"]
    assert fleet.names("--cmd", "client|setinfo") == ["libbed"]  # its last command


def test_scope_flags_pick_instances_and_nodes(fleet):
    billing = ["app-2", "batch-4", "libbed"]
    assert fleet.names("--instance", fleet.billing) == billing
    assert fleet.names("--node", fleet.nodes["b"]) == ["batch-3", "healthcheck", "sleepy"]
    assert fleet.names("--node", fleet.nodes["b"], "--instance", fleet.billing) == sorted(
        ["batch-3", "healthcheck", "sleepy", *billing]
    )
    found = fleet.search("--instance", fleet.billing)
    assert {(s["instance_id"], s["node_id"]) for s in found["sessions"]} == {(fleet.billing, fleet.nodes["c"])}
    assert found["failed_nodes"] == [] and found["total_count"] == 3


def test_exclude_wins_over_match(fleet):
    assert fleet.names("--name", "batch-*", "--exclude-user", "ops") == ["batch-1", "batch-2", "batch-3", "batch-4"]
    assert fleet.names("--name", "batch-1", "--exclude-name", "batch-1") == []
    assert fleet.names("--instance", fleet.billing, "--exclude-db", "3", "--exclude-lib", "fancy*") == ["app-2"]
    assert "remote" not in fleet.names("--exclude-ip", "127.0.0.2")


def test_idle_and_age_flags_take_durations(fleet):
    busy = fleet.opened["healthcheck"]
    busy.call("PING")
    idle = fleet.search("--idle-over", "3s", "--node", fleet.nodes["b"])
    assert "sleepy" in [s["name"] for s in idle["sessions"]]
    assert all(int(s["idle"]) >= 3 for s in idle["sessions"])
    if int(node_view(fleet.servers["b"], [busy.id])[busy.id]["idle"]) < 3:  # still under 3 s after the command
        assert "healthcheck" not in [s["name"] for s in idle["sessions"]]
    assert "sleepy" in fleet.names("--idle-over", "3", "--exclude-idle-over", "1h30m")  # not idle that long yet
    assert "sleepy" not in fleet.names("--exclude-idle-over", "3s")
    assert "sleepy" not in fleet.names("--idle-over", "1h")

    young = RawSession(fleet.servers["b"], name="young")
    try:
        found = fleet.search("--age-under", "2s", "--node", fleet.nodes["b"])["sessions"]
        assert all(int(s["age"]) <= 2 for s in found) and "sleepy" not in [s["name"] for s in found]
        if int(node_view(fleet.servers["b"], [young.id])[young.id]["age"]) <= 2:
            assert [s["name"] for s in found] == ["young"]
        older = fleet.search("--age-over", "3s", "--node", fleet.nodes["b"])["sessions"]
        assert "sleepy" in [s["name"] for s in older] and all(int(s["age"]) >= 3 for s in older)
    finally:
        young.close()


def test_sort_and_paging(fleet):
    pages = [
        [s["name"] for s in fleet.search("--sort", "name", "--limit", "4", "--offset", str(o))["sessions"]]
        for o in (0, 4, 8, 12)
    ]
    assert [name for page in pages for name in page] == ALL
    by_idle = fleet.search("--sort", "-idle", "--limit", "3")["sessions"]
    every = fleet.search("--sort", "-idle")["sessions"]  # later: its idle times are the same or longer
    assert [int(s["idle"]) for s in by_idle] == sorted((int(s["idle"]) for s in by_idle), reverse=True)
    assert int(by_idle[0]["idle"]) >= max(int(s["idle"]) for s in every[3:]) - 1  # listed a moment apart


def test_summary_groups_by_any_dimension(fleet):
    def groups(*flags: str) -> dict[str, int]:
        found = json.loads(invoke(fleet.data_dir, "sessions", "summary", *flags, "--json").stdout)
        return {g["key"]: g["count"] for g in found["groups"]}

    assert groups("--group-by", "node") == {fleet.nodes["a"]: 7, fleet.nodes["b"]: 3, fleet.nodes["c"]: 3}
    assert groups("--group-by", "db", "--name", "batch-*") == {"0": 3, "3": 2}
    assert groups("--group-by", "user", "--instance", fleet.orders) == {"default": 9, "ops": 1}
    assert groups("--group-by", "ip") == {"127.0.0.1": 12, "127.0.0.2": 1}
    top = json.loads(invoke(fleet.data_dir, "sessions", "summary", "--group-by", "name", "--top", "2", "--json").stdout)
    assert len(top["groups"]) == 2 and top["other"] == len(ALL) - 2 and top["total_count"] == len(ALL)
    table = invoke(fleet.data_dir, "sessions", "summary", "--group-by", "db", "--name", "batch-*").stdout
    assert "5 sessions match, by db" in table


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (["--idle-over", "10x"], "--idle-over"),
        (["--exclude-age-over", "-5m"], "--exclude-age-over"),
        (["--name", "batch-[12]"], "--name"),
        (["--exclude-user", "a b"], "--exclude-user"),
        (["--db", "-1"], "--db"),
        (["--db", "three"], "--db"),
        (["--flags", "P!"], "--flags"),
        (["--age-over", "10m", "--age-under", "1m"], "--age-over"),
        (["--sort", "size"], "--sort"),
        (["--limit", "0"], "--limit"),
        (["--instance", "not an id"], "--instance"),
    ],
)
def test_bad_flags_exit_2_naming_the_flag(fleet, flags, named):
    refused = invoke(fleet.data_dir, "sessions", "search", *flags, code=2)
    assert f"'{named}'" in refused.output, refused.output


def test_bad_flags_close_nothing_and_print_no_traceback(fleet):
    refused = cli(fleet.data_dir, "sessions", "close", "--yes", "--name", "batch-*", "--idle-over", "soon", code=2)
    assert "'--idle-over'" in refused.stderr and "'soon' is not a duration" in refused.stderr
    assert cli(fleet.data_dir, "sessions", "close", "--yes", "--id", "5", code=2).stderr.count("'--id'")
    refused = invoke(fleet.data_dir, "sessions", "summary", "--group-by", "colour", code=2)
    assert "'--group-by'" in refused.output
    assert fleet.opened["batch-1"].alive() and fleet.opened["batch-2"].alive()


def test_tables_never_cut_ids_at_80_columns(fleet):
    listed = cli(fleet.data_dir, "sessions", "search", "--instance", fleet.orders, "--name", "batch-*", columns=80)
    assert "…" not in listed.stdout
    assert fleet.nodes["a"] in listed.stdout and str(fleet.opened["batch-ops"].id) in listed.stdout
    by_node = cli(fleet.data_dir, "sessions", "summary", "--group-by", "node", columns=80).stdout
    assert "…" not in by_node and all(node in by_node for node in fleet.nodes.values())


# -- close: each test its own nodes and store ------------------------------------------------------


@dataclass
class Small:
    data_dir: Path
    instance: str
    servers: list[RedisServer]


@pytest.fixture
def small(tmp_path, cluster) -> Small:
    data_dir = tmp_path / "data"
    servers = [cluster.start_server(), cluster.start_server()]
    add_ops_user(servers[0])
    instance = adopt(data_dir, start_project(data_dir), "jobs", *servers)
    return Small(data_dir, instance, servers)


def audit_records(data_dir: Path) -> list[dict]:
    return json.loads(invoke(data_dir, "audit", "list", "--json").stdout)


def test_close_previews_then_closes_exactly_what_it_previewed(small, sessions):
    first, second = small.servers
    batch = [sessions(first, name="batch-1"), sessions(first, name="batch-2"), sessions(second, name="batch-3")]
    survivors = [sessions(first, name="app"), sessions(first, name="batch-ops", user="ops", password=OPS_PASSWORD)]

    done = invoke(
        small.data_dir, "sessions", "close", "--name", "batch-*", "--exclude-user", "ops", "--yes", "--no-watch",
        "--json", "--show", "2",
    )  # fmt: skip
    answer = json.loads(done.stdout)
    assert answer["preview"]["would_close"] == 3 == answer["result"]["closed"]
    assert len(answer["preview"]["sessions"]) == 2  # --show
    assert all(s.closed_by_node() for s in batch) and all(s.alive() for s in survivors)
    (record,) = audit_records(small.data_dir)
    assert record["parameters"]["expect_at_most"] == 3  # --yes still sends the previewed count
    assert record["parameters"]["selector"]["exclude"] == {"user": ["ops"]}
    assert record["user_name"] == f"cli:{getpass.getuser()}" and record["closed"] == 3


def test_close_says_what_it_will_close_and_asks(small, sessions):
    victim = sessions(small.servers[0], name="batch-9")
    declined = invoke(small.data_dir, "sessions", "close", "--name", "batch-*", stdin="n\n", code=1)
    assert "1 session would be closed" in declined.output and "Close 1 session?" in declined.output
    assert victim.alive() and audit_records(small.data_dir) == []
    nothing = invoke(small.data_dir, "sessions", "close", "--name", "nobody-*", "--yes")
    assert "nothing to close" in nothing.output
    done = invoke(small.data_dir, "sessions", "close", "--name", "batch-*", "--no-watch", "--json", stdin="y\n")
    assert done.stdout.startswith("{") and json.loads(done.stdout)["result"]["closed"] == 1  # the question: stderr
    assert "Close 1 session?" in done.stderr and "batch-9" in done.stderr
    assert victim.closed_by_node()


def test_more_matches_than_confirmed_closes_nothing(small, sessions):
    first, second = small.servers
    batch = [sessions(first, name="batch-1"), sessions(second, name="batch-2")]
    env = {**os.environ, "SESSIONPLANE_DATA_DIR": str(small.data_dir), "COLUMNS": "250"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sessionplane", "sessions", "close", "--name", "batch-*", "--no-watch"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert process.stderr is not None and process.stdin is not None
        prompt = ""
        while "Close 2 sessions?" not in prompt:  # the prompt is on stderr, without a newline
            char = process.stderr.read(1)
            assert char, prompt
            prompt += char
        batch.append(sessions(second, name="batch-late"))  # one more matches before the operator answers
        out, err = process.communicate("y\n", timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 1, out + err
    assert "SP.0001" in err and "3 sessions match, more than expect_at_most (2)" in err and "Traceback" not in err
    assert "2 sessions would be closed" in out
    assert all(s.alive() for s in batch)
    (record,) = audit_records(small.data_dir)
    assert record["outcome"] == "refused" and record["error_code"] == "SP.0001"


def test_close_by_id_on_one_node(small, sessions):
    first = small.servers[0]
    victim, bystander = sessions(first, name="v"), sessions(first, name="b")
    node = node_ids(small.data_dir, small.instance)[0]
    done = invoke(small.data_dir, "sessions", "close", "--node", node, "--id", str(victim.id), "--yes", "--no-watch")
    assert "closed 1" in done.output
    assert victim.closed_by_node() and bystander.alive()


# -- history ----------------------------------------------------------------------------------------


def sample_round(data_dir: Path) -> None:
    """One round of the sampler ``serve`` runs, against the same store (its clock is the real one)."""
    run(load_settings(data_dir), lambda s: s.sampler.sample_round())
    second = int(time.time())
    while int(time.time()) == second:  # the next round lands in the next one-second bucket
        time.sleep(0.05)


def test_history_charts_the_sampled_counts_with_gaps(small, sessions):
    first, second = small.servers
    leaky = [sessions(first, name="leaky"), sessions(second, name="leaky")]
    sample_round(small.data_dir)
    leaky += [sessions(first, name="leaky"), sessions(second, name="leaky")]
    sample_round(small.data_dir)
    second.stop()
    sample_round(small.data_dir)
    flags = ["sessions", "history", "--instance", small.instance, "--step", "1", "--since", "-1m"]

    found = json.loads(invoke(small.data_dir, *flags, "--group-by", "name", "--json").stdout)
    (series,) = [s for s in found["series"] if s["key"] == "leaky"]
    assert [v for _t, v in series["points"]] == [2, 4, None]  # the stopped node: a gap, not 2
    assert found["step"] == 1 and found["instance_id"] == small.instance

    chart = cli(small.data_dir, *flags, "--group-by", "name", columns=100).stdout
    (row,) = [line for line in chart.splitlines() if line.startswith("leaky ")]
    assert row.endswith("now -  peak 4") and "×" in row and "█" in row
    totals = cli(small.data_dir, *flags, columns=100).stdout
    assert {line.split()[0] for line in totals.splitlines()[1:4]} == {"total", "active", "idle_over"}
    refused = invoke(small.data_dir, "sessions", "history", "--instance", small.instance, "--since", "soon", code=2)
    assert "'--since'" in refused.output


def test_a_stopped_node_is_reported_while_the_others_answer(small, sessions):
    first, second = small.servers
    alive = sessions(first, name="batch-1")
    node_a, node_b = node_ids(small.data_dir, small.instance)
    second.stop()
    found = cli(small.data_dir, "sessions", "search", "--name", "batch-*")
    assert "1 session matches" in found.stdout and f"warning: node {node_b} could not be read" in found.stderr
    as_json = json.loads(invoke(small.data_dir, "sessions", "search", "--json").stdout)
    assert [f["node_id"] for f in as_json["failed_nodes"]] == [node_b] and as_json["total_count"] == 1
    closing = invoke(small.data_dir, "sessions", "close", "--name", "batch-*", "--yes", "--no-watch", code=1)
    assert f"node {node_a}: closed 1" in closing.output and f"node {node_b}: failed" in closing.output
    assert alive.closed_by_node()


def test_the_scope_must_exist_and_lie_in_one_project(small, tmp_path):
    missing = invoke(small.data_dir, "sessions", "search", "--instance", "feedin12", code=1)
    assert "instance feedin12 does not exist" in missing.output
    other = invoke(small.data_dir, "project", "add", "ap-2", "--domain", "acme").stdout.strip()
    mixed = invoke(small.data_dir, "sessions", "search", "--instance", small.instance, "--project", other, code=2)
    assert "one command works in one project" in mixed.output
    unnamed = invoke(small.data_dir, "sessions", "summary", code=2)  # two projects now: which one?
    assert "'--project'" in unnamed.output and "there are 2 projects" in unnamed.output
    assert json.loads(invoke(small.data_dir, "sessions", "search", "--project", other, "--json").stdout) == {
        "total_count": 0, "sessions": [], "failed_nodes": []
    }  # fmt: skip
