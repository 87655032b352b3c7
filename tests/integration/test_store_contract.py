"""One contract for the stores, run on SQLite and on the PostgreSQL server of this machine.

Each backend gets a fresh database migrated by Alembic; every test works through the public store
methods, and reads raw rows only to prove that secrets are encrypted at rest.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from sessionplane.audit.records import AuditFilter
from sessionplane.audit.store import AuditStore
from sessionplane.db import Database
from sessionplane.iam.store import IamStore
from sessionplane.inventory.records import InstanceFilter, NodeSpec
from sessionplane.inventory.store import InventoryStore
from sessionplane.keyring import InvalidToken, Keyring


class Stores:
    def __init__(self, url: str, keyring: Keyring) -> None:
        self.db = Database(url)
        self.inventory = InventoryStore(self.db, keyring)
        self.iam = IamStore(self.db, keyring)
        self.audit = AuditStore(self.db)


@pytest.fixture
def keyring() -> Keyring:
    return Keyring([Keyring.new_master_key()])


def run(coroutine):
    return asyncio.run(coroutine)


async def _open(url: str, keyring: Keyring) -> Stores:
    stores = Stores(url, keyring)
    await stores.db.migrate()
    return stores


async def _with(url: str, keyring: Keyring, work) -> object:
    stores = await _open(url, keyring)
    try:
        return await work(stores)
    finally:
        await stores.db.dispose()


def test_migrations_are_idempotent(database_url, keyring):
    async def work(s: Stores) -> None:
        await s.db.migrate()
        await s.db.migrate()

    run(_with(database_url, keyring, work))


def test_accounts_projects_users(database_url, keyring):
    async def work(s: Stores) -> None:
        acme = await s.inventory.create_account(name="acme")
        with pytest.raises(ValueError, match="already exists"):
            await s.inventory.create_account(name="acme")
        project = await s.inventory.create_project(account_id=acme.id, name="p1")
        assert len(project.id) == 32
        assert await s.inventory.project_by_name(account_id=acme.id, name="p1") == project
        user = await s.inventory.create_user(account_id=acme.id, name="ann", password_hash="h")
        with pytest.raises(ValueError):
            await s.inventory.create_user(account_id=acme.id, name="ann", password_hash="h")
        assert (await s.inventory.user_by_name(account_id=acme.id, name="ann")).id == user.id
        disabled = await s.inventory.update_user(user.id, enabled=False)
        assert not disabled.enabled and disabled.credential_version == user.credential_version + 1
        assert await s.inventory.delete_user(user.id)
        assert await s.inventory.user(user.id) is None

    run(_with(database_url, keyring, work))


def _specs() -> list[NodeSpec]:
    return [
        NodeSpec(host="10.0.0.1", port=6379, password="n0de-Secret", username="ops"),
        NodeSpec(host="10.0.0.2", port=6380, tls=True, group=1),
    ]


def test_instances_are_scoped_to_their_project(database_url, keyring):
    async def work(s: Stores) -> None:
        acme = await s.inventory.create_account(name="acme")
        mine = await s.inventory.create_project(account_id=acme.id, name="mine")
        theirs = await s.inventory.create_project(account_id=acme.id, name="theirs")
        instance = await s.inventory.add_instance(
            project_id=mine.id,
            name="cache",
            mode="Cluster",
            datastore_version="7.0",
            nodes=_specs(),
            tags={"env": "dev"},
            enterprise_project_id="ep1",
            protected_names=["guard"],
        )
        assert instance.id.endswith("in12") and all(n.id.endswith("no12") for n in instance.nodes)
        assert instance.nodes[0].password == "n0de-Secret" and instance.nodes[1].tls
        assert instance.nodes[0].group_id != instance.nodes[1].group_id
        assert "n0de-Secret" not in repr(instance)
        node_id = instance.nodes[0].id
        assert (await s.inventory.instance(project_id=mine.id, instance_id=instance.id)).tags == {"env": "dev"}
        assert await s.inventory.instance(project_id=theirs.id, instance_id=instance.id) is None
        assert (await s.inventory.instance_of_node(project_id=mine.id, node_id=node_id)).id == instance.id
        assert await s.inventory.instance_of_node(project_id=theirs.id, node_id=node_id) is None
        bare = await s.inventory.instances_without_nodes(project_id=mine.id)  # what policies are evaluated on
        assert [(i.id, i.tags, i.enterprise_project_id, i.nodes) for i in bare] == [
            (instance.id, {"env": "dev"}, "ep1", ())
        ]
        assert await s.inventory.instances_without_nodes(project_id=theirs.id) == []

    run(_with(database_url, keyring, work))


def test_listing_is_newest_first_with_filters_and_paging(database_url, keyring):
    async def work(s: Stores) -> None:
        acme = await s.inventory.create_account(name="acme")
        p = await s.inventory.create_project(account_id=acme.id, name="p")
        made = []
        for i in range(5):
            made.append(
                await s.inventory.add_instance(
                    project_id=p.id,
                    name=f"i{i}",
                    mode="Cluster" if i % 2 else "Replication",
                    datastore_version="7.0",
                    nodes=_specs()[:1],
                )
            )
            await asyncio.sleep(0.01)
        page, total = await s.inventory.instances(project_id=p.id, offset=1, limit=2)
        assert total == 5 and [i.name for i in page] == ["i3", "i2"]
        only, total = await s.inventory.instances(project_id=p.id, where=InstanceFilter(mode="Cluster"))
        assert total == 2 and {i.name for i in only} == {"i1", "i3"}
        by_id, _ = await s.inventory.instances(project_id=p.id, where=InstanceFilter(id=made[0].id))
        assert [i.name for i in by_id] == ["i0"]

    run(_with(database_url, keyring, work))


async def _ciphertexts(s: Stores) -> list[str]:
    """Every stored secret as it lies in the database: node passwords, then access-key secrets."""
    async with s.db.sessions() as session:
        nodes = (await session.execute(text("SELECT password_encrypted FROM nodes ORDER BY id"))).scalars().all()
        keys = (await session.execute(text("SELECT secret_encrypted FROM access_keys ORDER BY id"))).scalars().all()
    return [c for c in [*nodes, *keys] if c is not None]


def test_secrets_are_encrypted_at_rest_and_rotate(database_url, tmp_path):
    keyring_file = tmp_path / "keyring"
    old = Keyring.load_or_create(keyring_file)
    old_key_only = Keyring.from_lines(keyring_file.read_text())  # not file-backed: it never learns the new key

    async def store_secrets(s: Stores) -> tuple[str, str, str, list[str]]:
        acme = await s.inventory.create_account(name="acme")
        p = await s.inventory.create_project(account_id=acme.id, name="p")
        user = await s.inventory.create_user(account_id=acme.id, name="u", password_hash=None)
        instance = await s.inventory.add_instance(
            project_id=p.id, name="c", mode="Cluster", datastore_version="7", nodes=_specs()
        )
        key = await s.iam.create_access_key(user_id=user.id)
        stored = await _ciphertexts(s)
        assert len(stored) == 2 and not any("n0de-Secret" in c or key.secret in c for c in stored)
        assert "secret" not in repr(await s.iam.access_key(key.id)).lower().replace("secret=none", "")
        return p.id, instance.id, key.id, stored

    project_id, instance_id, ak, before = run(_with(database_url, old, store_secrets))
    sk = run(_with(database_url, old, lambda s: s.iam.access_key(ak))).secret

    async def readable(s: Stores) -> None:
        instance = await s.inventory.instance(project_id=project_id, instance_id=instance_id)
        assert instance.nodes[0].password == "n0de-Secret" and instance.nodes[1].password is None
        assert (await s.iam.access_key(ak)).secret == sk

    rotated = Keyring.rotate_file(keyring_file)  # a new master key first, the old one kept after it
    run(_with(database_url, rotated, readable))  # old ciphertexts still decrypt under the rotated keyring

    async def reencrypt(s: Stores) -> int:
        return await s.inventory.reencrypt_secrets() + await s.iam.reencrypt_secrets()

    assert run(_with(database_url, rotated, reencrypt)) == 2
    after = run(_with(database_url, rotated, _ciphertexts))
    assert all(a != b for a, b in zip(after, before, strict=True))
    newest_only = Keyring.from_lines(keyring_file.read_text().splitlines()[0])
    run(_with(database_url, newest_only, readable))  # re-encrypted under the new key: the old one can go
    for ciphertext in after:
        with pytest.raises(InvalidToken):
            old_key_only.decrypt(ciphertext)


def test_remove_instance_cascades(database_url, keyring):
    async def work(s: Stores) -> None:
        acme = await s.inventory.create_account(name="acme")
        p = await s.inventory.create_project(account_id=acme.id, name="p")
        instance = await s.inventory.add_instance(
            project_id=p.id, name="c", mode="Cluster", datastore_version="7", nodes=_specs(), tags={"a": "b"}
        )
        assert await s.inventory.remove_instance(instance.id)
        assert not await s.inventory.remove_instance(instance.id)
        assert await s.inventory.instance_of_node(project_id=p.id, node_id=instance.nodes[0].id) is None
        async with s.db.sessions() as session:
            assert (await session.execute(text("SELECT count(*) FROM instance_tags"))).scalar() == 0

    run(_with(database_url, keyring, work))


def test_policies_groups_and_attachments(database_url, keyring):
    async def work(s: Stores) -> None:
        acme = await s.inventory.create_account(name="acme")
        p1 = await s.inventory.create_project(account_id=acme.id, name="p1")
        p2 = await s.inventory.create_project(account_id=acme.id, name="p2")
        user = await s.inventory.create_user(account_id=acme.id, name="u", password_hash=None)
        group = await s.iam.create_group(account_id=acme.id, name="ops")
        await s.iam.add_member(group_id=group.id, user_id=user.id)
        await s.iam.put_policy(account_id=acme.id, name="mine", document='{"Version": "5.0"}')
        await s.iam.attach(
            account_id=acme.id, policy_name="mine", principal_type="user", principal_id=user.id, project_id=p1.id
        )
        await s.iam.attach(
            account_id=acme.id,
            policy_name="NoSQL ReadOnlyAccess",
            principal_type="group",
            principal_id=group.id,
            project_id=None,
        )
        in_p1 = await s.iam.effective_policies(account_id=acme.id, user_id=user.id, project_id=p1.id)
        in_p2 = await s.iam.effective_policies(account_id=acme.id, user_id=user.id, project_id=p2.id)
        assert in_p1 == [("NoSQL ReadOnlyAccess", None), ("mine", '{"Version": "5.0"}')]
        assert in_p2 == [("NoSQL ReadOnlyAccess", None)]
        assert await s.iam.delete_policy(account_id=acme.id, name="mine")
        assert await s.iam.effective_policies(account_id=acme.id, user_id=user.id, project_id=p1.id) == [
            ("NoSQL ReadOnlyAccess", None)
        ]

    run(_with(database_url, keyring, work))


def test_audit_events_survive_reopening(database_url, keyring):
    async def write(s: Stores) -> str:
        event = await s.audit.append(
            request_id="r1",
            account_id="a",
            user_id="u",
            user_name="ann",
            project_id="p",
            source_ip="127.0.0.1",
            action="x:y:z",
            instance_id="i",
            node_id=None,
            parameters={"is_all": True},
            outcome="pending",
            error_code=None,
            node_results=[],
        )
        await s.audit.complete(
            event, outcome="succeeded", error_code=None, node_results=[{"node_id": "n", "closed": 3}]
        )
        await s.audit.append(
            request_id="r2",
            account_id="a",
            user_id="u2",
            user_name="bob",
            project_id="p",
            source_ip=None,
            action="x:y:z",
            instance_id="j",
            node_id=None,
            parameters={},
            outcome="denied",
            error_code="DBS.280032",
            node_results=[],
        )
        (done,) = await s.audit.events(account_id="a", where=AuditFilter(user_name="ann"))
        assert done.closed == 3  # committed by the time complete returns, for this process's readers too
        with pytest.raises(LookupError, match="does not exist"):
            await s.audit.complete("no-such-event", outcome="succeeded", error_code=None, node_results=[])
        await s.db.dispose()  # a disposed store writes again, as its engine reopens its pool
        await s.audit.set_reconnected(event, 2)
        with pytest.raises(TypeError, match="not audit columns: \\['outcom'\\]"):  # a misspelt field is no silent gap
            await s.audit.append(request_id="r3", project_id="p", action="x:y:z", outcom="denied")
        return event

    async def read(s: Stores) -> None:
        everything = await s.audit.events(account_id="a")
        assert [e.request_id for e in everything] == ["r2", "r1"]
        assert [(e.closed, e.reconnected) for e in everything] == [(None, None), (3, 2)]  # only its own record
        (done,) = await s.audit.events(account_id="a", where=AuditFilter(user_name="ann"))
        assert done.outcome == "succeeded" and done.node_results == ({"node_id": "n", "closed": 3},)
        assert done.parameters == {"is_all": True} and done.at.tzinfo is not None
        assert [e.request_id for e in await s.audit.events(account_id="a", where=AuditFilter(outcome="denied"))] == [
            "r2"
        ]
        assert await s.audit.events(account_id="a", where=AuditFilter(instance_id="nope")) == []
        future = datetime.now(UTC) + timedelta(hours=1)
        assert await s.audit.events(account_id="a", where=AuditFilter(since=future)) == []
        assert await s.audit.events(account_id="other") == []

    run(_with(database_url, keyring, write))
    run(_with(database_url, keyring, read))


def test_the_fleet_view_follows_every_change_made_anywhere(database_url, keyring):
    """``every_instance`` (the sampler's and the probe's view) is cached, yet sees at once what another
    process (a replica, the CLI) adds, changes or removes."""
    from sessionplane.health.store import NodeStatusStore

    async def work(here: Stores) -> None:
        there = Stores(database_url, keyring)
        try:
            acme = await there.inventory.create_account(name="acme")
            p = await there.inventory.create_project(account_id=acme.id, name="p")
            assert await here.inventory.every_instance() == ()
            first = await there.inventory.add_instance(
                project_id=p.id, name="a", mode="Cluster", datastore_version="7", nodes=_specs()
            )
            assert [i.id for i in await here.inventory.every_instance()] == [first.id]
            second = await there.inventory.add_instance(
                project_id=p.id, name="b", mode="Cluster", datastore_version="7", nodes=_specs()
            )
            assert [i.id for i in await here.inventory.every_instance()] == [second.id, first.id]  # newest first
            await NodeStatusStore(there.db).set_statuses({first.nodes[0].id: "abnormal"})
            fleet = {i.id: i for i in await here.inventory.every_instance()}
            assert fleet[first.id].nodes[0].status == "abnormal"
            assert await there.inventory.remove_instance(second.id)
            assert [i.id for i in await here.inventory.every_instance()] == [first.id]
        finally:
            await there.db.dispose()

    run(_with(database_url, keyring, work))
