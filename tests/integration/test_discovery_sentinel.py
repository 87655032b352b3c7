"""A Sentinel over a primary with two replicas, adopted and refreshed through the CLI as an operator runs it.

Every node has a password, the Sentinel its own; neither ever appears in argv: the nodes' comes on
stdin, the Sentinel's in SESSIONPLANE_SENTINEL_PASSWORD.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sessionplane.inventory.records import Instance
from sessionplane.services import Services
from sessionplane.settings import Settings
from tests.topologies import Topologies, info, link_up, role, sentinel_primary, sentinel_settled, wait_until

NODE_PASSWORD = "S3ntinel-node-pa55"
SENTINEL_PASSWORD = "S3ntinel-own-pa55"
NAME = "orders"


def cli(data_dir: Path, *args: str, stdin: str | None = None, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "SESSIONPLANE_DATA_DIR": str(data_dir),
        "SESSIONPLANE_SENTINEL_PASSWORD": SENTINEL_PASSWORD,
        "COLUMNS": "250",
    }
    env.pop("SESSIONPLANE_NODE_PASSWORD", None)
    result = subprocess.run(
        [sys.executable, "-m", "sessionplane", *args], input=stdin, capture_output=True, text=True, env=env
    )
    assert (result.returncode == 0) is ok, result.stdout + result.stderr
    assert NODE_PASSWORD not in result.stdout + result.stderr and SENTINEL_PASSWORD not in result.stdout + result.stderr
    return result


def stored(data_dir: Path, instance_id: str) -> Instance:
    async def read() -> Instance:
        services = Services.build(Settings(data_dir=data_dir))
        try:
            found = await services.inventory.instance_any_project(instance_id)
            assert found is not None
            return found
        finally:
            await services.close()

    return asyncio.run(read())


def test_sentinel_adoption_and_a_refresh_after_sentinel_failover(tmp_path):
    data_dir = tmp_path / "data"
    with Topologies(password=NODE_PASSWORD) as topologies:
        primary, replicas = topologies.primary_with_replicas(2)
        sentinel = topologies.sentinel(primary, name=NAME, password=SENTINEL_PASSWORD, replicas=2)
        project = cli(data_dir, "project", "add", "ap-1", "--domain", "acme").stdout.strip()
        seed = f"redis+sentinel://{sentinel.host}:{sentinel.port}/{NAME}"

        adopt = ["instance", "adopt", "--seed", seed, "--project", project, "--password-stdin"]
        adopted = cli(data_dir, *adopt, stdin=NODE_PASSWORD + "\n")

        instance_id = adopted.stdout.strip()
        before = stored(data_dir, instance_id)
        assert (before.name, before.mode) == (NAME, "Replication")
        assert {n.port: n.role for n in before.nodes} == {
            primary.port: "master",
            replicas[0].port: "slave",
            replicas[1].port: "slave",
        }
        assert {n.password for n in before.nodes} == {NODE_PASSWORD}
        assert len({n.group_id for n in before.nodes}) == 1

        with sentinel.client() as client:
            client.execute_command("SENTINEL", "FAILOVER", NAME)
        wait_until(lambda: sentinel_primary(sentinel, NAME)[1] != primary.port, "the Sentinel to fail over")
        promoted = next(r for r in replicas if r.port == sentinel_primary(sentinel, NAME)[1])
        wait_until(
            lambda: (
                role(promoted) == "master"
                and all(role(s) == "slave" and link_up(s) for s in (primary, *replicas) if s is not promoted)
                and sentinel_settled(sentinel, NAME, replicas=2)
            ),
            "the old primary and the other replica to follow the new primary",
        )

        refreshed = cli(data_dir, "instance", "refresh", instance_id).stdout

        after = stored(data_dir, instance_id)
        assert {n.port: n.id for n in after.nodes} == {n.port: n.id for n in before.nodes}
        assert {n.port: n.role for n in after.nodes} == {s.port: role(s) for s in (primary, *replicas)}
        assert {n.port: n.role for n in after.nodes}[promoted.port] == "master"
        ids = {n.port: n.id for n in after.nodes}
        assert f"changed  {ids[promoted.port]} " in refreshed and "role slave -> master" in refreshed
        assert f"changed  {ids[primary.port]} " in refreshed and "role master -> slave" in refreshed
        assert info(promoted, "replication")["connected_slaves"] == 2
        assert "no change" in cli(data_dir, "instance", "refresh", instance_id).stdout


def test_a_name_the_sentinel_does_not_monitor_is_refused(tmp_path):
    data_dir = tmp_path / "data"
    with Topologies(password=NODE_PASSWORD) as topologies:
        primary, _ = topologies.primary_with_replicas(0)
        sentinel = topologies.sentinel(primary, name=NAME, password=SENTINEL_PASSWORD, replicas=0)
        project = cli(data_dir, "project", "add", "ap-1", "--domain", "acme").stdout.strip()
        seed = f"redis+sentinel://{sentinel.host}:{sentinel.port}/payments"

        refused = cli(data_dir, "instance", "adopt", "--seed", seed, "--project", project, ok=False)

        assert "does not monitor a primary named 'payments'" in refused.stderr
        assert instance_rows(data_dir) == 0


def instance_rows(data_dir: Path) -> int:
    async def count() -> int:
        services = Services.build(Settings(data_dir=data_dir))
        try:
            return (await services.inventory.instances(project_id=None))[1]
        finally:
            await services.close()

    return asyncio.run(count())
