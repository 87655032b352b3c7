"""The store revision that the in-process caches follow, on SQLite and on PostgreSQL.

Every write path of the inventory and IAM stores moves it (in the same transaction); audit and
password-lockout writes do not; a cached lookup in one process sees a change committed by another
at once; a load that straddles a change is not cached; a request's lookups share its one read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from sqlalchemy import event, select

from sessionplane.audit.store import AuditStore
from sessionplane.auth.lockout import Lockouts
from sessionplane.db import Database
from sessionplane.iam.store import IamStore
from sessionplane.inventory.records import NodeSpec
from sessionplane.inventory.store import InventoryStore
from sessionplane.keyring import Keyring
from sessionplane.revision import RevisionRow, bump
from tests.databases import PG_ADMIN, postgres_database


class Stores:
    def __init__(self, db: Database, keyring: Keyring) -> None:
        self.db = db
        self.inventory = InventoryStore(db, keyring)
        self.iam = IamStore(db, keyring)
        self.audit = AuditStore(db)
        self.lockouts = Lockouts(db)


def run_with(url: str, work: Callable[..., Awaitable[None]], *, processes: int = 1) -> None:
    """``processes`` sets of stores on one database, each with its own engine and caches, as separate processes have."""
    keyring = Keyring([Keyring.new_master_key()])

    async def main() -> None:
        opened = [Stores(Database(url), keyring) for _ in range(processes)]
        await opened[0].db.migrate()
        try:
            await work(*opened)
        finally:
            for stores in opened:
                await stores.db.dispose()

    asyncio.run(main())


async def value(db: Database) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(RevisionRow.value).where(RevisionRow.name == "store")) or 0)


def test_every_inventory_and_iam_write_moves_the_revision(database_url):
    async def work(s: Stores) -> None:
        moved: list[str] = []

        async def write(label: str, operation: Awaitable[object]) -> object:
            before = await value(s.db)
            result = await operation
            if await value(s.db) > before:
                moved.append(label)
            return result

        acme = await write("create_account", s.inventory.create_account(name="acme"))
        project = await write("create_project", s.inventory.create_project(account_id=acme.id, name="p"))
        user = await write("create_user", s.inventory.create_user(account_id=acme.id, name="u", password_hash="h"))
        await write("update_user", s.inventory.update_user(user.id, enabled=False))
        spec = NodeSpec(host="10.0.0.1", port=6379, password="pw")
        instance = await write(
            "add_instance",
            s.inventory.add_instance(
                project_id=project.id, name="c", mode="Cluster", datastore_version="7", nodes=[spec]
            ),
        )
        await write("set_instance_status", s.inventory.set_instance_status(instance.id, "frozen"))
        await write("reencrypt_nodes", s.inventory.reencrypt_secrets())
        key = await write("create_access_key", s.iam.create_access_key(user_id=user.id))
        await write("set_access_key_enabled", s.iam.set_access_key_enabled(key.id, False))
        await write("reencrypt_keys", s.iam.reencrypt_secrets())
        group = await write("create_group", s.iam.create_group(account_id=acme.id, name="g"))
        await write("add_member", s.iam.add_member(group_id=group.id, user_id=user.id))
        await write("put_policy", s.iam.put_policy(account_id=acme.id, name="pol", document='{"Version": "5.0"}'))
        attachment = await write(
            "attach",
            s.iam.attach(
                account_id=acme.id, policy_name="pol", principal_type="user", principal_id=user.id, project_id=None
            ),
        )
        await write("detach", s.iam.detach(attachment.id))
        await write("delete_policy", s.iam.delete_policy(account_id=acme.id, name="pol"))
        await write("delete_access_key", s.iam.delete_access_key(key.id))
        await write("remove_instance", s.inventory.remove_instance(instance.id))
        await write("delete_user", s.inventory.delete_user(user.id))
        assert moved == [
            "create_account", "create_project", "create_user", "update_user", "add_instance", "set_instance_status",
            "reencrypt_nodes", "create_access_key", "set_access_key_enabled", "reencrypt_keys", "create_group",
            "add_member", "put_policy", "attach", "detach", "delete_policy", "delete_access_key", "remove_instance",
            "delete_user",
        ]  # fmt: skip

    run_with(database_url, work)


def test_audit_and_password_failures_leave_it_alone_an_ak_failure_moves_it(database_url):
    async def work(s: Stores) -> None:
        before = await value(s.db)
        event = await s.audit.append(
            request_id="r", account_id="a", user_id="u", user_name="n", project_id="p", source_ip=None,
            action="x", instance_id=None, node_id=None, parameters={}, outcome="pending", error_code=None,
            node_results=[],
        )  # fmt: skip
        await s.audit.complete(event, outcome="succeeded", error_code=None, node_results=[])
        await s.lockouts.user_failed(domain="d", user_name="n")
        assert await value(s.db) == before
        await s.lockouts.access_key_failed("AK")
        assert await value(s.db) == before + 1

    run_with(database_url, work)


def test_a_change_made_by_another_process_is_seen_at_once(database_url):
    async def work(here: Stores, there: Stores) -> None:
        acme = await there.inventory.create_account(name="acme")
        project = await there.inventory.create_project(account_id=acme.id, name="p")
        user = await there.inventory.create_user(account_id=acme.id, name="u", password_hash="h")
        spec = NodeSpec(host="10.0.0.1", port=6379)
        instance = await there.inventory.add_instance(
            project_id=project.id, name="c", mode="Cluster", datastore_version="7", nodes=[spec]
        )
        node_id = instance.nodes[0].id
        assert (await here.inventory.identity(user_id=user.id, project_id=project.id))[0].enabled
        assert await here.inventory.instance_of_node(project_id=project.id, node_id=node_id) is not None
        assert await here.iam.effective_policies(account_id=acme.id, user_id=user.id, project_id=project.id) == []

        await there.inventory.update_user(user.id, enabled=False)
        full_access = {"policy_name": "NoSQL FullAccess", "principal_type": "user", "principal_id": user.id}
        await there.iam.attach(account_id=acme.id, project_id=None, **full_access)
        await there.inventory.remove_instance(instance.id)

        assert not (await here.inventory.identity(user_id=user.id, project_id=project.id))[0].enabled
        assert await here.inventory.instance_of_node(project_id=project.id, node_id=node_id) is None
        assert await here.iam.effective_policies(account_id=acme.id, user_id=user.id, project_id=project.id) == [
            ("NoSQL FullAccess", None)
        ]

    run_with(database_url, work, processes=2)


def test_a_load_that_straddles_a_change_is_not_kept(database_url):
    async def work(here: Stores, there: Stores) -> None:
        acme = await there.inventory.create_account(name="acme")
        user = await there.inventory.create_user(account_id=acme.id, name="u", password_hash="h")
        cache = here.db.revision.cache()

        async def slow_load() -> str:
            loaded = "enabled"  # read before the change below commits
            await there.inventory.update_user(user.id, enabled=False)
            await asyncio.create_task(here.db.revision.ensure_fresh())  # another request notices the change
            return loaded

        assert await cache.get("u", slow_load) == "enabled"
        reloads: list[str] = []

        async def load() -> str:
            reloads.append("reloaded")
            return "disabled"

        assert await cache.get("u", load) == "disabled" and reloads == ["reloaded"]

    run_with(database_url, work, processes=2)


def test_a_request_reads_the_revision_once_and_other_tasks_read_their_own(database_url):
    async def work(here: Stores, there: Stores) -> None:
        acme = await there.inventory.create_account(name="acme")
        project = await there.inventory.create_project(account_id=acme.id, name="p")
        user = await there.inventory.create_user(account_id=acme.id, name="u", password_hash="h")

        async def enabled() -> bool:
            return (await here.inventory.identity(user_id=user.id, project_id=project.id))[0].enabled

        async def request() -> tuple[bool, bool, bool]:
            await here.db.revision.begin_request()
            first = await enabled()
            await there.inventory.update_user(user.id, enabled=False)
            # The same request keeps its snapshot; a task it spawns, or any later request, reads again.
            return first, await enabled(), await asyncio.create_task(enabled())

        assert await asyncio.create_task(request()) == (True, True, False)
        assert await asyncio.create_task(enabled()) is False

    run_with(database_url, work, processes=2)


def test_this_process_sees_its_own_writes_at_once_even_inside_a_request(database_url):
    async def work(s: Stores) -> None:
        acme = await s.inventory.create_account(name="acme")
        project = await s.inventory.create_project(account_id=acme.id, name="p")
        user = await s.inventory.create_user(account_id=acme.id, name="u", password_hash="h")

        async def request() -> tuple[bool, bool]:
            await s.db.revision.begin_request()
            before = (await s.inventory.identity(user_id=user.id, project_id=project.id))[0].enabled
            await s.inventory.update_user(user.id, enabled=False)
            return before, (await s.inventory.identity(user_id=user.id, project_id=project.id))[0].enabled

        assert await asyncio.create_task(request()) == (True, False)

    run_with(database_url, work)


def test_the_revision_read_bypasses_sqlalchemy_and_sees_commits(database_url):
    async def work(s: Stores) -> None:
        sent: list[str] = []
        event.listen(s.db.engine.sync_engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
        revision = s.db.revision
        await revision.ensure_fresh()
        generation = revision.generation
        async with s.db.transaction() as session:
            await bump(session)
        sent.clear()
        await revision.ensure_fresh()
        assert revision.generation > generation
        generation = revision.generation
        for _ in range(3):
            await revision.ensure_fresh()
        assert (sent, revision.generation) == ([], generation)

    run_with(database_url, work)


@pytest.mark.postgres
def test_a_broken_held_postgresql_connection_falls_back():
    with postgres_database() as url:

        async def work(s: Stores) -> None:
            await s.db.revision.ensure_fresh()  # now holds its connection
            generation = s.db.revision.generation
            admin = await asyncpg.connect(PG_ADMIN)
            try:
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = $1 AND pid <> pg_backend_pid()",
                    url.rsplit("/", 1)[1],
                )
            finally:
                await admin.close()
            await s.inventory.create_account(name="after-the-break")
            await s.db.revision.ensure_fresh()
            await s.db.revision.ensure_fresh()
            assert s.db.revision.generation > generation

        run_with(url, work)


@pytest.mark.parametrize("entries", [3])
def test_caches_are_bounded(tmp_path, entries):
    async def work() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}")
        await db.migrate()
        cache = db.revision.cache(max_entries=entries)
        for n in range(10):
            await cache.get(n, lambda n=n: asyncio.sleep(0, result=n))
        assert len(cache) == entries
        await db.dispose()

    asyncio.run(work())
