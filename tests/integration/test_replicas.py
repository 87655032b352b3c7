"""Three ``sessionplane serve`` processes on one fresh PostgreSQL database behave as one service (issue 11 item 1,
extensions section 6): tokens, revocations, AK lockout and rate limits hold across them; the sampler divides the
nodes among the live ones and takes a SIGKILLed one's nodes over within two intervals; a rule runs once per interval.

Everything is counted from the store or asked over HTTP; waits have generous timeouts and nothing else is timed.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from sessionplane.demo.servers import LocalCluster
from sessionplane.schema import utcnow
from tests.databases import postgres_database
from tests.nodes import NODE_PROFILES
from tests.processes import ServeProcess, cli, invoke, sign_in
from tests.signed import signed_get

pytestmark = pytest.mark.postgres

PASSWORD = "Rep1icas-password"
INTERVAL = 2.0  # the sampler's, in seconds
SCHEDULING = timedelta(seconds=1)  # a sample's time is taken after its round's store work: a loaded machine delays it
RULE_INTERVAL = 10  # the shortest a rule allows
RATE_LIMIT, RATE_WINDOW = 12, 3600
NODES = 6
LOCKED = "AK access failed to reach the limit, forbidden"


@dataclass
class Replicas:
    url: str  # the store
    data_dir: Path
    env: dict[str, str]
    project: str
    instance: str
    serves: list[ServeProcess]

    def user(self, name: str) -> str:
        """A new admin user of the account, signed in through the first replica: its token."""
        invoke(
            self.data_dir,
            "user",
            "add",
            name,
            "--domain",
            "acme",
            "--admin",
            "--password-stdin",
            stdin=PASSWORD,
            env=self.env,
        )
        return sign_in(self.serves[0].url, domain="acme", name=name, password=PASSWORD, project_id=self.project)

    def get(self, serve: ServeProcess, token: str) -> httpx.Response:
        return httpx.get(f"{serve.url}/v3/{self.project}/instances", headers={"X-Auth-Token": token}, timeout=30)

    def query(self, sql: str, *args: object) -> list[asyncpg.Record]:
        async def run() -> list[asyncpg.Record]:
            connection = await asyncpg.connect(self.url.replace("+asyncpg", ""))
            try:
                return await connection.fetch(sql, *args)
            finally:
                await connection.close()

        return asyncio.run(run())


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    data_dir = tmp_path_factory.mktemp("replicas")  # the keyring every replica shares; the store is PostgreSQL
    with postgres_database() as url, LocalCluster(**NODE_PROFILES["redis"]) as cluster:  # type: ignore[arg-type]
        env = {
            "SESSIONPLANE_DATABASE_URL": url,
            "SESSIONPLANE_SAMPLE_INTERVAL_SECONDS": str(INTERVAL),
            "SESSIONPLANE_PROBE_INTERVAL_SECONDS": "0",
            "SESSIONPLANE_RULE_TICK_SECONDS": "0.5",
            "SESSIONPLANE_RULE_LEASE_SECONDS": "5",  # a rule run cut short by the SIGKILL is free again soon
            "SESSIONPLANE_RATE_LIMIT_PER_CALLER": str(RATE_LIMIT),
            "SESSIONPLANE_RATE_LIMIT_WINDOW_SECONDS": str(RATE_WINDOW),
        }
        nodes = [arg for _ in range(NODES) for arg in ("--node", f"127.0.0.1:{cluster.start_server().port}")]
        invoke(
            data_dir, "user", "add", "root", "--domain", "acme", "--admin", "--password-stdin", stdin=PASSWORD, env=env
        )
        project = invoke(data_dir, "project", "add", "p1", "--domain", "acme", env=env).stdout.strip()
        instance = invoke(data_dir, "instance", "add", "cache", "--project", project, *nodes, env=env).stdout.strip()
        serves: list[ServeProcess] = []
        try:
            for n in range(3):
                serves.append(ServeProcess(data_dir, data_dir / f"serve-{n}.log", **env).start())
            yield Replicas(url, data_dir, env, project, instance, serves)
        finally:
            for serve in serves:
                serve.stop()


def wait_for(condition, what: str):
    for _ in range(1200):  # up to a minute or two: two cores shared by many processes
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_token_from_one_replica_works_on_the_others(replicas):
    token = replicas.user("tina")
    for serve in replicas.serves:
        assert replicas.get(serve, token).status_code == 200


def test_a_password_change_is_refused_at_once_by_every_replica(replicas):
    token = replicas.user("pat")
    for serve in replicas.serves:  # each replica has the token's user in its cache now
        assert replicas.get(serve, token).status_code == 200
    env = replicas.env
    cli(
        replicas.data_dir,
        "user",
        "passwd",
        "pat",
        "--domain",
        "acme",
        "--password-stdin",
        stdin="N3w-passw0rd",
        env=env,
    )
    for serve in replicas.serves:
        refused = replicas.get(serve, token)
        assert (refused.status_code, refused.json()["error_code"]) == (401, "APIG.0307")
    fresh = sign_in(
        replicas.serves[2].url, domain="acme", name="pat", password="N3w-passw0rd", project_id=replicas.project
    )
    assert replicas.get(replicas.serves[1], fresh).status_code == 200


def test_bad_signatures_spread_over_replicas_lock_the_ak_on_every_replica(replicas):
    replicas.user("akira")
    created = json.loads(
        invoke(replicas.data_dir, "ak", "create", "akira", "--domain", "acme", env=replicas.env).stdout
    )
    key_id, secret = created["ak"], created["sk"]

    def signed(serve: ServeProcess, sk: str) -> httpx.Response:
        return signed_get(f"{serve.url}/v3/{replicas.project}/instances", key_id, sk, project_id=replicas.project)

    assert all(signed(serve, secret).status_code == 200 for serve in replicas.serves)
    for n in range(6):  # more than five in a row (the sixth locks), each replica seeing two of them
        answer = signed(replicas.serves[n % 3], "wrong-" + secret)
        assert (answer.status_code, answer.json()["error_code"]) == (401, "APIG.0301")
    for serve in replicas.serves:
        locked = signed(serve, secret)
        assert (locked.status_code, locked.json()["error_code"]) == (401, "APIG.0301")
        assert LOCKED in locked.json()["error_msg"]


def test_rate_limits_count_across_replicas(replicas):
    if time.time() % RATE_WINDOW > RATE_WINDOW - 120:  # the window must not end mid-test: wait for the next one
        time.sleep(RATE_WINDOW - time.time() % RATE_WINDOW + 1)
    token = replicas.user(f"rita-{secrets.token_hex(2)}")
    answers = [replicas.get(replicas.serves[n % 3], token).status_code for n in range(RATE_LIMIT)]
    assert answers == [200] * RATE_LIMIT  # a third of the limit on each replica
    for serve in replicas.serves:
        refused = replicas.get(serve, token)
        assert (refused.status_code, refused.json()["error_code"]) == (429, "APIG.0308")
        assert 0 < int(refused.headers["Retry-After"]) <= RATE_WINDOW
    other = replicas.user(f"otto-{secrets.token_hex(2)}")
    assert replicas.get(replicas.serves[0], other).status_code == 200  # per caller


def owners(replicas: Replicas) -> dict[str, str]:
    """node id -> the replica holding a live lease on it."""
    rows = replicas.query("SELECT node_id, owner FROM node_leases WHERE expires_at > now()")
    return {row["node_id"]: row["owner"] for row in rows}


def pid_of(owner: str) -> int:
    return int(owner.split(":")[1])


def samples(replicas: Replicas) -> dict[str, list[datetime]]:
    rows = replicas.query("SELECT node_id, at FROM session_samples ORDER BY at")
    by_node: dict[str, list[datetime]] = {}
    for row in rows:
        by_node.setdefault(row["node_id"], []).append(row["at"])
    return by_node


def test_a_killed_replicas_nodes_are_sampled_again_within_two_intervals_and_rules_run_once(replicas):
    root = sign_in(replicas.serves[0].url, domain="acme", name="root", password=PASSWORD, project_id=replicas.project)
    rules = f"{replicas.serves[0].url}/sessionplane/v1/{replicas.project}/instances/{replicas.instance}/close-rules"
    body = {"name": "count everyone", "match": {"name": ["*"]}, "interval_seconds": RULE_INTERVAL, "mode": "report"}
    created = httpx.post(rules, json=body, headers={"X-Auth-Token": root}, timeout=30)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]

    pids = {serve.process.pid for serve in replicas.serves}  # type: ignore[union-attr]
    hostname = socket.gethostname()[:32]
    balanced = wait_for(
        lambda: (
            (held := owners(replicas))
            and len(held) == NODES
            and {pid_of(o) for o in held.values()} == pids
            and sorted(Counter(held.values()).values()) == [2, 2, 2]
            and held
        ),
        "the three replicas to hold two nodes each",
    )
    assert all(owner.startswith(f"{hostname}:") for owner in balanced.values())
    victim = replicas.serves[2]
    victim_pid = victim.process.pid  # type: ignore[union-attr]
    orphans = {node for node, owner in balanced.items() if pid_of(owner) == victim_pid}
    wait_for(lambda: len(replicas.query("SELECT id FROM close_rule_runs WHERE rule_id = $1", rule_id)) >= 2, "two runs")

    killed_at = utcnow()
    victim.crash()
    wait_for(
        lambda: all(any(at > killed_at for at in samples(replicas).get(node, [])) for node in orphans),
        "the orphaned nodes to be sampled by the others",
    )
    wait_for(
        lambda: (
            len(
                replicas.query(
                    "SELECT id FROM close_rule_runs WHERE rule_id = $1 AND started_at > $2", rule_id, killed_at
                )
            )
            >= 2
        ),
        "two rule runs after the kill",
    )

    by_node = samples(replicas)
    for node in orphans:
        before = max(at for at in by_node[node] if at <= killed_at)
        after = min(at for at in by_node[node] if at > killed_at)
        assert after - before <= timedelta(seconds=2 * INTERVAL) + SCHEDULING, (node, before, after)
    survivors = wait_for(
        lambda: (held := owners(replicas)) and sorted(Counter(held.values()).values()) == [3, 3] and held,
        "the two survivors to hold three nodes each",
    )
    assert set(survivors) == set(balanced) and victim_pid not in {pid_of(o) for o in survivors.values()}
    # One replica per node per interval: never more samples of a node than rounds in the span (plus its ends).
    for node, times in by_node.items():
        span = (times[-1] - times[0]).total_seconds()
        assert len(times) <= span / INTERVAL + 2, (node, len(times), span)

    listed = httpx.get(f"{rules}/{rule_id}/runs", headers={"X-Auth-Token": root}, timeout=30)
    started = sorted(datetime.fromisoformat(run["started_at"]) for run in listed.json()["runs"])
    assert len(started) >= 4 and any(at > killed_at for at in started)
    gaps = [later - earlier for earlier, later in zip(started, started[1:], strict=False)]
    assert all(gap >= timedelta(seconds=RULE_INTERVAL - 1) for gap in gaps), gaps  # never twice in one interval
