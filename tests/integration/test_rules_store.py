"""The close-rule store and the audit reads, as a contract run on SQLite and on the PostgreSQL server.

The lease is the part that must hold across replicas: every claim here goes through the store's
public ``claim``, from several engines (replicas) at once where it matters.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text

from sessionplane.audit.records import AuditFilter
from sessionplane.audit.store import AuditStore
from sessionplane.db import MIGRATIONS, Database
from sessionplane.rules.model import NodeRun, RuleRun
from sessionplane.rules.store import RuleStore
from sessionplane.schema import Base, utcnow
from tests.integration import test_store_contract as contract
from tests.integration.test_store_contract import Stores, _with, run

keyring = contract.keyring

FIELDS = {
    "name": "idle batch",
    "match": {"name": ["batch-*"]},
    "exclude": {},
    "interval_seconds": 60,
    "mode": "report",
    "max_per_run": 10,
    "enabled": True,
}


async def _tenant(s: Stores) -> tuple[str, str]:
    account = await s.inventory.create_account(name="acme")
    one = await s.inventory.create_project(account_id=account.id, name="one")
    two = await s.inventory.create_project(account_id=account.id, name="two")
    return one.id, two.id


def test_the_schema_the_migrations_build_is_the_models(database_url, keyring):
    async def work(s: Stores) -> list:
        async with s.db.engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )

    assert run(_with(database_url, keyring, work)) == []


def test_the_migration_names_the_actor_of_records_written_before_actors(database_url):
    def upgrade_to(connection, revision: str) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async def work() -> list:
        db = Database(database_url)
        try:
            async with db.engine.begin() as connection:
                await connection.run_sync(upgrade_to, "0001")
                for n, user in enumerate(("alice", "cli:root", None)):
                    await connection.execute(
                        text(
                            "INSERT INTO audit_events (id, at, request_id, user_name, project_id, action, parameters, "
                            "outcome, node_results) VALUES (:id, :at, 'r', :user, 'p', 'a', '{}', 'succeeded', '[]')"
                        ),
                        {"id": f"e{n}", "at": utcnow() - timedelta(minutes=n), "user": user},
                    )
            await db.migrate()
            return await AuditStore(db).events(account_id=None)
        finally:
            await db.dispose()

    assert [e.actor for e in run(work())] == ["user:alice", "cli:root", None]


def test_rules_are_scoped_to_their_project_and_instance(database_url, keyring):
    async def work(s: Stores) -> None:
        rules = RuleStore(s.db)
        one, two = await _tenant(s)
        rule = await rules.create(project_id=one, instance_id="i1in12", fields=FIELDS)
        assert rule.next_run_at <= utcnow() and rule.enabled and rule.match == {"name": ["batch-*"]}
        assert await rules.rule(project_id=one, instance_id="i1in12", rule_id=rule.id) == rule
        assert await rules.rule(project_id=two, instance_id="i1in12", rule_id=rule.id) is None
        assert await rules.rule(project_id=one, instance_id="i2in12", rule_id=rule.id) is None
        for n in range(3):
            await rules.create(project_id=one, instance_id="i1in12", fields={**FIELDS, "name": f"r{n}"})
        page, total = await rules.rules(project_id=one, instance_id="i1in12", offset=1, limit=2)
        assert total == 4 and [r.name for r in page] == ["r1", "r0"]  # newest first
        assert (await rules.rules(project_id=two, instance_id="i1in12"))[1] == 0

    run(_with(database_url, keyring, work))


def test_update_enable_and_disable(database_url, keyring):
    async def work(s: Stores) -> None:
        rules = RuleStore(s.db)
        one, _ = await _tenant(s)
        rule = await rules.create(project_id=one, instance_id="i1in12", fields=FIELDS)
        later = utcnow() + timedelta(hours=1)
        await rules.update(rule.id, {"next_run_at": later})
        await rules.disable(rule.id, "instance i1in12 no longer exists")
        disabled = await rules.rule_any_project(rule.id)
        assert disabled and not disabled.enabled and disabled.disabled_reason == "instance i1in12 no longer exists"
        changed = await rules.update(rule.id, {"mode": "enforce", "enabled": True})
        assert changed and changed.mode == "enforce" and changed.enabled and changed.disabled_reason is None
        assert changed.next_run_at < later and changed.updated_at >= rule.updated_at  # enabling makes it due
        far = utcnow() + timedelta(hours=5)
        await rules.update(rule.id, {"next_run_at": far})
        shorter = await rules.update(rule.id, {"interval_seconds": 10})
        assert shorter and shorter.next_run_at <= utcnow() + timedelta(seconds=10)
        assert await rules.update("missing", {"mode": "report"}) is None

    run(_with(database_url, keyring, work))


def test_one_claim_wins_each_due_time_among_concurrent_replicas(database_url, keyring):
    async def work(s: Stores) -> None:
        rules = RuleStore(s.db)
        one, _ = await _tenant(s)
        rule = await rules.create(project_id=one, instance_id="i1in12", fields=FIELDS)
        replicas = [Database(database_url) for _ in range(4)]
        try:
            now = utcnow()
            claims = await asyncio.gather(
                *(
                    RuleStore(db).claim(rule.id, owner=f"r{n % 4}", now=now, interval_seconds=60, lease_seconds=300)
                    for n, db in enumerate(replicas * 3)
                )
            )
        finally:
            for db in replicas:
                await db.dispose()
        winners = [c for c in claims if c is not None]
        assert len(winners) == 1
        assert winners[0].next_run_at == now + timedelta(seconds=60)
        assert await rules.due(now) == [] and await rules.due(now + timedelta(seconds=61)) == []  # leased

    run(_with(database_url, keyring, work))


def test_a_lease_blocks_other_replicas_until_released_or_expired(database_url, keyring):
    async def work(s: Stores) -> None:
        rules = RuleStore(s.db)
        one, _ = await _tenant(s)
        rule = await rules.create(project_id=one, instance_id="i1in12", fields={**FIELDS, "interval_seconds": 10})
        now = utcnow()
        claim = {"interval_seconds": 10, "lease_seconds": 300}
        assert await rules.claim(rule.id, owner="a", now=now, **claim)
        due_again = now + timedelta(seconds=11)  # due again, but a is still running it
        assert await rules.claim(rule.id, owner="b", now=due_again, **claim) is None
        await rules.release(rule.id, owner="b")  # not b's to release
        assert await rules.claim(rule.id, owner="b", now=due_again, **claim) is None
        await rules.release(rule.id, owner="a")
        assert await rules.due(due_again) == [(rule.id, 10)]
        assert await rules.claim(rule.id, owner="b", now=due_again, **claim)
        expired = due_again + timedelta(seconds=301)  # b died mid-run: its lease runs out
        assert await rules.claim(rule.id, owner="c", now=expired, **claim)
        await rules.update(rule.id, {"enabled": False})
        assert await rules.due(expired + timedelta(days=1)) == []

    run(_with(database_url, keyring, work))


def _run(rule_id: str, minutes_ago: int, **fields: object) -> RuleRun:
    started = utcnow() - timedelta(minutes=minutes_ago)
    values: dict = {
        "id": f"run{minutes_ago}",
        "rule_id": rule_id,
        "started_at": started,
        "finished_at": started + timedelta(seconds=1),
        "mode": "enforce",
        "matched": 3,
        "closed": 2,
        "reconnected": None,
        "nodes": (NodeRun("n1no12", 2, 2), NodeRun("n2no12", 1, 0, "DBS.200018", "node down")),
        "audit_id": "a1",
    }
    return RuleRun(**(values | fields))  # type: ignore[arg-type]


def test_runs_are_kept_newest_first_and_pruned_and_go_with_their_rule(database_url, keyring):
    async def work(s: Stores) -> None:
        rules = RuleStore(s.db)
        one, _ = await _tenant(s)
        rule = await rules.create(project_id=one, instance_id="i1in12", fields=FIELDS)
        other = await rules.create(project_id=one, instance_id="i1in12", fields=FIELDS)
        for minutes in (30, 20, 10, 5):
            assert await rules.add_run(_run(rule.id, minutes))
        assert await rules.add_run(_run(other.id, 40, id="other-old"))
        page, total = await rules.runs(rule.id, offset=1, limit=2)
        assert total == 4 and [r.id for r in page] == ["run10", "run20"]
        await rules.set_run_reconnected("run10", 2)
        (stored,) = [r for r in (await rules.runs(rule.id))[0] if r.id == "run10"]
        assert stored.reconnected == 2 and stored.nodes[1] == NodeRun("n2no12", 1, 0, "DBS.200018", "node down")
        assert await rules.prune_runs(before=utcnow() - timedelta(minutes=15), rule_id=rule.id) == 2
        assert [r.id for r in (await rules.runs(rule.id))[0]] == ["run5", "run10"]
        assert (await rules.runs(other.id))[1] == 1  # another rule's runs: its own retention pass
        assert await rules.delete(rule.id) and not await rules.delete(rule.id)
        assert (await rules.runs(rule.id))[1] == 0
        assert not await rules.add_run(_run(rule.id, 1, id="late"))  # finished after its rule was deleted

    run(_with(database_url, keyring, work))


def test_audit_reads_by_project_actor_and_pages_with_totals(database_url, keyring):
    async def work(s: Stores) -> None:
        one, two = await _tenant(s)
        base = {"request_id": "r", "action": "a", "parameters": {}, "node_results": [], "error_code": None}
        for actor, project in (
            ("user:alice", one),
            ("rule:ab_1", one),
            ("rule:abX1", one),
            ("cli:root", one),
            ("user:bob", two),
        ):
            await s.audit.append(**base, actor=actor, project_id=project, outcome="pending", user_name=actor)
        events = lambda **w: s.audit.events(account_id=None, where=AuditFilter(**w))  # noqa: E731
        assert len(await events(project_id=one)) == 4
        assert await s.audit.count(account_id=None, where=AuditFilter(project_id=two)) == 1
        assert [e.actor for e in await events(project_id=one, actor="rule:*")] == ["rule:abX1", "rule:ab_1"]
        assert [e.actor for e in await events(actor="rule:ab_*")] == ["rule:ab_1"]  # "_" is literal
        assert [e.actor for e in await events(actor="user:bob")] == ["user:bob"]
        page = await events(project_id=one, offset=1, limit=2)
        assert [e.actor for e in page] == ["rule:abX1", "rule:ab_1"]
        first = (await events(actor="cli:root"))[0]
        await s.audit.complete(
            first.id, outcome="partial", error_code="DBS.200018", node_results=[{"node_id": "n", "closed": 4}, {}]
        )
        await s.audit.set_reconnected(first.id, 3)
        done = (await events(actor="cli:root"))[0]
        assert (done.closed, done.reconnected, done.outcome) == (4, 3, "partial")

    run(_with(database_url, keyring, work))
