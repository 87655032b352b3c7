"""A close cut short by a crash: its record is marked interrupted once no close can still be running.

A node stopped with SIGSTOP accepts connections but never answers, so a close of its instance hangs
there after the other node's sessions are closed; ``sessionplane serve`` is then SIGKILLed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from sessionplane.audit import recovery
from sessionplane.audit.records import AuditFilter
from sessionplane.audit.store import AuditStore
from sessionplane.db import Database
from sessionplane.schema import utcnow
from sessionplane.settings import Settings
from tests.processes import ServeProcess, cli, invoke, sign_in
from tests.support import stopped

ADMIN_PASSWORD = "Adm1n-password"
SLOW_NODES = {"SESSIONPLANE_NODE_DEADLINE_SECONDS": "600"}  # a stopped node holds a close as long as we need


def records(data_dir: Path) -> list[dict]:
    """The audit table as another process sees it (SQLite in WAL mode: readable while the server writes)."""
    with sqlite3.connect(data_dir / "sessionplane.db") as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT id, at, outcome, instance_id, node_results FROM audit_events")]


def wait_for(condition, what: str) -> None:
    for _ in range(2400):
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def setup(data_dir: Path, *servers) -> tuple[str, str]:
    invoke(data_dir, "user", "add", "root", "--domain", "acme", "--admin", "--password-stdin", stdin=ADMIN_PASSWORD)
    project = invoke(data_dir, "project", "add", "p1", "--domain", "acme").stdout.strip()
    nodes = [arg for s in servers for arg in ("--node", f"{s.host}:{s.port}")]
    instance = invoke(data_dir, "instance", "add", "cache", "--project", project, *nodes).stdout.strip()
    return project, instance


def test_a_close_killed_mid_way_is_marked_interrupted_by_a_restart(tmp_path, cluster, sessions):
    alive, frozen = cluster.start_server(), cluster.start_server()
    data_dir = tmp_path / "data"
    project, instance = setup(data_dir, alive, frozen)
    victims = [sessions(alive, name=f"victim-{i}") for i in range(3)]
    survivor = sessions(frozen, name="on-the-stopped-node")

    serve = ServeProcess(data_dir, tmp_path / "serve.log", **SLOW_NODES).start()
    try:
        token = sign_in(serve.url, domain="acme", name="root", password=ADMIN_PASSWORD, project_id=project)
        with stopped(frozen):
            url = f"{serve.url}/v3/{project}/instances/{instance}/sessions"
            close = threading.Thread(target=_request_quietly, args=(url, token), daemon=True)
            close.start()
            assert all(v.closed_by_node() for v in victims)  # half of the close is done...
            wait_for(lambda: [r["outcome"] for r in records(data_dir)] == ["pending"], "the pending record")
            serve.crash()  # ...and the other half never will be
            close.join(timeout=60)
    finally:
        serve.stop()
    (pending,) = records(data_dir)

    # A restart soon after must not mark it: as far as it knows, another process may still be closing.
    with ServeProcess(data_dir, tmp_path / "serve.log"):
        assert [r["outcome"] for r in records(data_dir)] == ["pending"]

    # Once it has been pending for longer than any close can take, a restart marks it.
    wait_for(lambda: _age(pending) > timedelta(seconds=1), "the record to be older than the limit")
    with ServeProcess(data_dir, tmp_path / "serve.log", SESSIONPLANE_AUDIT_PENDING_GRACE_SECONDS="1"):
        (marked,) = records(data_dir)
    assert marked["id"] == pending["id"] and marked["outcome"] == "interrupted"
    assert marked["instance_id"] == instance

    shown = cli(data_dir, "audit", "list", "--outcome", "interrupted", columns=200).stdout
    assert "interrupted" in shown and "some sessions may have been closed" in shown
    (listed,) = json.loads(cli(data_dir, "audit", "list", "--json").stdout)
    assert listed["outcome"] == "interrupted" and listed["user_name"] == "root"
    assert survivor.alive()


def _read_until(process: subprocess.Popen[str], text: str) -> str:
    assert process.stdout is not None
    seen = ""
    while text not in seen:
        char = process.stdout.read(1)
        assert char, seen
        seen += char
    return seen


def _request_quietly(url: str, token: str) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server is killed while this request waits: no answer comes
        httpx.delete(url, headers={"X-Auth-Token": token}, timeout=600)


def _age(record: dict) -> timedelta:
    at = datetime.fromisoformat(record["at"])
    return datetime.now(UTC) - (at if at.tzinfo else at.replace(tzinfo=UTC))


def test_a_cli_close_in_flight_is_left_pending_by_a_server_starting_meanwhile(tmp_path, cluster, sessions):
    node = cluster.start_server()
    data_dir = tmp_path / "data"
    _project, instance = setup(data_dir, node)
    victim = sessions(node, name="victim")
    env = {**os.environ, "SESSIONPLANE_DATA_DIR": str(data_dir), **SLOW_NODES}
    closing = None
    try:
        closing = subprocess.Popen(
            [sys.executable, "-m", "sessionplane", "sessions", "close", "--instance", instance],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        _read_until(closing, "Close 1 session?")  # the preview has read the node; the close has not begun
        with stopped(node):
            assert closing.stdin is not None
            closing.stdin.write("y\n")
            closing.stdin.flush()
            wait_for(lambda: [r["outcome"] for r in records(data_dir)] == ["pending"], "the CLI's pending record")
            with ServeProcess(data_dir, tmp_path / "serve.log"):
                assert [r["outcome"] for r in records(data_dir)] == ["pending"]
        output, _ = closing.communicate(timeout=120)
    finally:
        if closing is not None and closing.poll() is None:
            closing.kill()
            closing.communicate()
    assert closing.returncode == 0, output
    assert victim.closed_by_node()
    assert [r["outcome"] for r in records(data_dir)] == ["succeeded"]


async def _event(store: AuditStore, *, outcome: str, at: datetime) -> str:
    return await store.append(
        at=at,
        request_id=f"r-{outcome}-{at.timestamp()}",
        account_id="a",
        user_id="u",
        user_name="ann",
        project_id="p",
        source_ip=None,
        action="gaussdbfornosql:instance:deleteSession",
        instance_id="i",
        node_id=None,
        parameters={"is_all": True},
        outcome=outcome,
        error_code=None,
        node_results=[],
    )


def test_only_records_pending_for_longer_than_the_limit_are_marked(database_url):  # noqa: F811
    async def scenario() -> None:
        db = Database(database_url)
        await db.migrate()
        store = AuditStore(db)
        try:
            long_ago, just_now = utcnow() - timedelta(minutes=10), utcnow()
            dead = await _event(store, outcome="pending", at=long_ago)
            running = await _event(store, outcome="pending", at=just_now)
            finished = await _event(store, outcome="succeeded", at=long_ago)
            assert await recovery.mark_interrupted(store, limit=timedelta(minutes=5)) == [dead]
            assert await recovery.mark_interrupted(store, limit=timedelta(minutes=5)) == []  # idempotent
            outcomes = {e.id: e.outcome for e in await store.events(account_id="a")}
            assert outcomes == {dead: "interrupted", running: "pending", finished: "succeeded"}
            # a close that outlived the limit after all still records how it really ended
            await store.complete(
                dead, outcome="succeeded", error_code=None, node_results=[{"node_id": "n", "closed": 2}]
            )
            assert [e.id for e in await store.events(account_id="a", where=AuditFilter(outcome="interrupted"))] == []
        finally:
            await db.dispose()

    asyncio.run(scenario())


def test_the_limit_is_derived_from_the_node_deadline_unless_set():
    default = recovery.close_time_limit(Settings())
    slower = recovery.close_time_limit(Settings(node_deadline_seconds=60))
    assert slower > default > timedelta(seconds=4 * Settings().node_deadline_seconds)
    assert recovery.close_time_limit(Settings(audit_pending_grace_seconds=30)) == timedelta(seconds=30)
