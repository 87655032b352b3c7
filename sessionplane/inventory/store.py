"""The inventory store: accounts, projects, users, instances and their nodes.

Every lookup that a tenant reaches is scoped by project, so an ID of another project reads as
"does not exist". Node credentials go in encrypted with the keyring and come out decrypted
only on the ``Node`` record the node adapter uses.

The lookups of every request (``identity``, ``instance``, ``instance_of_node``) are cached in
process and dropped whenever the store revision moves (``sessionplane.revision``): any write to
these tables, from any process, moves it, so a disabled user or a removed instance is refused by
the next request.

Raises: ``LookupError`` for unknown parents given by an operator, ``ValueError`` for duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import joinedload, raiseload

from sessionplane import ids
from sessionplane.db import Database
from sessionplane.inventory.records import (
    Account,
    CredentialUpdate,
    DiscoverySource,
    Instance,
    InstanceFilter,
    Node,
    NodeSpec,
    Project,
    User,
)
from sessionplane.inventory.tables import (
    AccountRow,
    DiscoverySourceRow,
    InstanceRow,
    InstanceTagRow,
    NodeRow,
    ProjectRow,
    UserRow,
)
from sessionplane.inventory.topology import (
    Added,
    RefreshReport,
    SeenNode,
    Topology,
    parse_seed,
    plan_refresh,
    status_of,
)
from sessionplane.keyring import Keyring
from sessionplane.schema import utcnow


class InventoryStore:
    def __init__(self, db: Database, keyring: Keyring) -> None:
        self._db = db
        self._keyring = keyring
        self._identities = db.revision.cache()
        self._instances = db.revision.cache()
        self._fleet = db.revision.cache(max_entries=1)

    # -- accounts and projects -------------------------------------------------------------

    async def create_account(self, *, name: str) -> Account:
        row = AccountRow(id=ids.plain_id(), name=name)
        await self._db.insert(row, f"account {name!r} already exists")
        return Account(id=row.id, name=row.name)

    async def account_by_name(self, name: str) -> Account | None:
        async with self._db.sessions() as s:
            row = await s.scalar(select(AccountRow).where(AccountRow.name == name))
        return Account(id=row.id, name=row.name) if row else None

    async def account(self, account_id: str) -> Account | None:
        async with self._db.sessions() as s:
            row = await s.get(AccountRow, account_id)
        return Account(id=row.id, name=row.name) if row else None

    async def create_project(self, *, account_id: str, name: str, project_id: str | None = None) -> Project:
        row = ProjectRow(id=project_id or ids.project_id(), account_id=account_id, name=name)
        await self._db.insert(row, f"project {name!r} already exists")
        return _project(row)

    async def project(self, project_id: str) -> Project | None:
        async with self._db.sessions() as s:
            row = await s.get(ProjectRow, project_id)
        return _project(row) if row else None

    async def project_by_name(self, *, account_id: str, name: str) -> Project | None:
        async with self._db.sessions() as s:
            row = await s.scalar(select(ProjectRow).where(ProjectRow.account_id == account_id, ProjectRow.name == name))
        return _project(row) if row else None

    async def projects(self, *, account_id: str | None = None) -> list[Project]:
        query = select(ProjectRow).order_by(ProjectRow.name)
        if account_id:
            query = query.where(ProjectRow.account_id == account_id)
        async with self._db.sessions() as s:
            return [_project(r) for r in await s.scalars(query)]

    # -- users -----------------------------------------------------------------------------

    async def create_user(
        self, *, account_id: str, name: str, password_hash: str | None, is_admin: bool = False
    ) -> User:
        row = UserRow(
            id=ids.plain_id(),
            account_id=account_id,
            name=name,
            password_hash=password_hash,
            is_admin=is_admin,
            enabled=True,
            credential_version=1,
        )
        await self._db.insert(row, f"user {name!r} already exists")
        return _user(row)

    async def user(self, user_id: str) -> User | None:
        async with self._db.sessions() as s:
            row = await s.get(UserRow, user_id)
        return _user(row) if row else None

    async def user_by_name(self, *, account_id: str, name: str) -> User | None:
        async with self._db.sessions() as s:
            row = await s.scalar(select(UserRow).where(UserRow.account_id == account_id, UserRow.name == name))
        return _user(row) if row else None

    async def users(self, *, account_id: str) -> list[User]:
        async with self._db.sessions() as s:
            rows = await s.scalars(select(UserRow).where(UserRow.account_id == account_id).order_by(UserRow.name))
            return [_user(r) for r in rows]

    async def update_user(self, user_id: str, *, password_hash: str | None = None, enabled: bool | None = None) -> User:
        """Change a password or the enabled flag; either revokes the user's tokens at once."""
        async with self._db.transaction() as s:
            row = await s.get(UserRow, user_id)
            if row is None:
                raise LookupError(f"user {user_id} does not exist")
            if password_hash is not None:
                row.password_hash = password_hash
            if enabled is not None:
                row.enabled = enabled
            row.credential_version += 1
        return _user(row)

    async def delete_user(self, user_id: str) -> bool:
        async with self._db.transaction() as s:
            result = await s.execute(delete(UserRow).where(UserRow.id == user_id))
        return result.rowcount > 0

    # -- instances and nodes ---------------------------------------------------------------

    async def add_instance(
        self,
        *,
        project_id: str,
        name: str,
        mode: str,
        datastore_version: str,
        nodes: Sequence[NodeSpec],
        tags: Mapping[str, str] | None = None,
        enterprise_project_id: str = "0",
        protected_names: Sequence[str] = (),
        protected_users: Sequence[str] = (),
        status: str = "normal",
        instance_id: str | None = None,
        discovery: DiscoverySource | None = None,
    ) -> Instance:
        """Add an instance with its nodes; with ``discovery`` (same ``instance_id``), also where to refresh it from."""
        if not nodes:
            raise ValueError("an instance needs at least one node")
        if discovery is not None and discovery.instance_id != instance_id:
            raise ValueError("the discovery source belongs to another instance")
        row = InstanceRow(
            id=instance_id or ids.instance_id(),
            project_id=project_id,
            name=name,
            mode=mode,
            datastore_type="redis",
            datastore_version=datastore_version,
            status=status,
            enterprise_project_id=enterprise_project_id,
            protected_names=list(protected_names),
            protected_users=list(protected_users),
            tags=[InstanceTagRow(key=k, value=v) for k, v in (tags or {}).items()],
        )
        group_ids: dict[int, str] = {}
        row.nodes = [self._node_row(spec, position, group_ids) for position, spec in enumerate(nodes)]
        if discovery is not None:
            row.discovery = self._discovery_row(discovery)
        await self._db.insert(row, f"instance {row.id} already exists")
        return self._instance(row)

    def _node_row(self, spec: NodeSpec, position: int, group_ids: dict[int, str]) -> NodeRow:
        group_id = group_ids.setdefault(spec.group, _group_id())
        return NodeRow(
            id=ids.node_id(),
            group_id=group_id,
            position=position,
            name=spec.name or f"node_{position + 1}",
            role=spec.role,
            status=spec.status,
            host=spec.host,
            port=spec.port,
            username=spec.username,
            tls=spec.tls,
            password_encrypted=self._encrypted(spec.password),
            cluster_node_id=spec.cluster_node_id,
        )

    def _encrypted(self, secret: str | None) -> str | None:
        return self._keyring.encrypt(secret) if secret is not None else None

    # -- discovery -------------------------------------------------------------------------

    def _discovery_row(self, source: DiscoverySource) -> DiscoverySourceRow:
        return DiscoverySourceRow(
            instance_id=source.instance_id,
            seed=source.seed,
            username=source.username,
            password_encrypted=self._encrypted(source.password),
            sentinel_password_encrypted=self._encrypted(source.sentinel_password),
        )

    async def discovery_source(self, instance_id: str) -> DiscoverySource | None:
        async with self._db.sessions() as s:
            row = await s.get(DiscoverySourceRow, instance_id)
        return self._source(row) if row else None

    async def discovered_instance_ids(self) -> list[str]:
        """Every instance adopted by discovery (operator and scheduler use: not scoped to a tenant)."""
        async with self._db.sessions() as s:
            return list(await s.scalars(select(DiscoverySourceRow.instance_id).order_by(DiscoverySourceRow.created_at)))

    async def record_discovery_failure(self, instance_id: str, message: str) -> None:
        async with self._db.transaction() as s:
            row = await s.get(DiscoverySourceRow, instance_id)
            if row is not None:
                row.last_error = message[:512]

    async def refresh_nodes(self, instance_id: str, topology: Topology) -> RefreshReport:
        """Make the instance's nodes what ``topology`` says, in one transaction (the instance row locked).

        Known nodes keep their IDs (roles, status, addresses and groups follow the topology), new
        nodes are added with the source's credentials, nodes the topology no longer has are deleted.
        Raises ``LookupError`` when the instance does not exist or was not adopted by discovery.
        """
        async with self._db.transaction() as s:
            query = select(InstanceRow).where(InstanceRow.id == instance_id).with_for_update()
            row = await s.scalar(query)
            source = await s.get(DiscoverySourceRow, instance_id) if row else None
            if row is None or source is None:
                raise LookupError(f"instance {instance_id} does not exist or was not adopted by discovery")
            before = self._instance(row)
            plan = plan_refresh(before.nodes, topology, new_group_id=_group_id)
            rows = {n.id: n for n in row.nodes}
            for change in plan.kept:
                _follow(rows[change.node.id], change.seen, change.group_id)
            for gone in plan.removed:
                row.nodes.remove(rows[gone.id])
            position = max((n.position for n in row.nodes), default=-1) + 1
            for offset, change in enumerate(plan.added):
                row.nodes.append(_discovered_node_row(change, position + offset, source))
            row.updated_at = source.refreshed_at = utcnow()
            source.last_error = None
            await s.flush()
            after = self._instance(row)
        return RefreshReport.between(before, after)

    def _source(self, row: DiscoverySourceRow) -> DiscoverySource:
        decrypt = self._keyring.decrypt
        return DiscoverySource(
            instance_id=row.instance_id,
            seed=row.seed,
            username=row.username,
            password=decrypt(row.password_encrypted) if row.password_encrypted else None,
            sentinel_password=decrypt(row.sentinel_password_encrypted) if row.sentinel_password_encrypted else None,
            refreshed_at=row.refreshed_at,
            last_error=row.last_error,
        )

    async def instance(self, *, project_id: str, instance_id: str) -> Instance | None:
        return await self._instances.get(
            ("instance", project_id, instance_id),
            lambda: self._one_instance(InstanceRow.id == instance_id, InstanceRow.project_id == project_id),
        )

    async def instance_any_project(self, instance_id: str) -> Instance | None:
        """Operator lookups (CLI) only: not scoped to a tenant."""
        return await self._one_instance(InstanceRow.id == instance_id)

    async def instance_of_node(self, *, project_id: str, node_id: str) -> Instance | None:
        return await self._instances.get(
            ("node", project_id, node_id), lambda: self._instance_of_node(project_id, node_id)
        )

    async def _instance_of_node(self, project_id: str, node_id: str) -> Instance | None:
        # The query is built only on a cache miss: building SQLAlchemy expressions costs as much as a hit.
        owner = select(NodeRow.instance_id).where(NodeRow.id == node_id).scalar_subquery()
        return await self._one_instance(InstanceRow.id == owner, InstanceRow.project_id == project_id)

    async def _one_instance(self, *conditions: ColumnElement[bool]) -> Instance | None:
        # One round trip with tags and nodes joined in: this runs on every session request.
        query = select(InstanceRow).options(joinedload(InstanceRow.tags), joinedload(InstanceRow.nodes))
        async with self._db.sessions() as s:
            row = (await s.execute(query.where(*conditions))).unique().scalar_one_or_none()
            return self._instance(row) if row else None

    async def identity(self, *, user_id: str, project_id: str) -> tuple[User, Account, Project] | None:
        """A user with its account and a project of that account (authentication's hot path)."""
        return await self._identities.get((user_id, project_id), lambda: self._load_identity(user_id, project_id))

    async def _load_identity(self, user_id: str, project_id: str) -> tuple[User, Account, Project] | None:
        query = (
            select(UserRow, AccountRow, ProjectRow)
            .join(AccountRow, AccountRow.id == UserRow.account_id)
            .join(ProjectRow, ProjectRow.account_id == AccountRow.id)
            .where(UserRow.id == user_id, ProjectRow.id == project_id)
        )
        async with self._db.sessions() as s:
            found = (await s.execute(query)).one_or_none()
        if found is None:
            return None
        user, account, project = found
        return _user(user), Account(id=account.id, name=account.name), _project(project)

    async def instances(
        self, *, project_id: str | None, where: InstanceFilter = InstanceFilter(), offset: int = 0, limit: int = 100
    ) -> tuple[list[Instance], int]:
        """Newest first. ``project_id=None`` lists every project (operator CLI only)."""
        query = select(InstanceRow)
        if project_id is not None:
            query = query.where(InstanceRow.project_id == project_id)
        for column, value in (
            (InstanceRow.id, where.id),
            (InstanceRow.name, where.name),
            (InstanceRow.datastore_type, where.datastore_type),
            (InstanceRow.mode, where.mode),
        ):
            if value is not None:
                query = query.where(column == value)
        async with self._db.sessions() as s:
            total = await s.scalar(select(func.count()).select_from(query.subquery()))
            page = query.order_by(InstanceRow.created_at.desc(), InstanceRow.id).offset(offset).limit(limit)
            rows = (await s.scalars(page)).all()
            return [self._instance(r) for r in rows], int(total or 0)

    async def instances_without_nodes(self, *, project_id: str) -> list[Instance]:
        """Every instance of the project, newest first, with ``nodes=()``: what a policy is evaluated on
        (ID, tags, enterprise project), without loading nodes or decrypting their credentials."""
        query = select(InstanceRow).where(InstanceRow.project_id == project_id).options(raiseload(InstanceRow.nodes))
        async with self._db.sessions() as s:
            rows = (await s.scalars(query.order_by(InstanceRow.created_at.desc(), InstanceRow.id))).all()
            return [self._instance(r, with_nodes=False) for r in rows]

    async def every_instance(self) -> tuple[Instance, ...]:
        """Every instance of every project, newest first (the background loops' view of the fleet).

        Cached until the store revision moves: building 100,000 node records takes seconds, and
        the sampler and the probe ask every few seconds while the fleet rarely changes.
        """
        found = await self._fleet.get("every", self._every_instance)
        return found or ()

    async def _every_instance(self) -> tuple[Instance, ...]:
        query = select(InstanceRow).order_by(InstanceRow.created_at.desc(), InstanceRow.id)
        async with self._db.sessions() as s:
            return tuple(self._instance(r) for r in (await s.scalars(query)).all())

    async def remove_instance(self, instance_id: str) -> bool:
        async with self._db.transaction() as s:
            row = await s.get(InstanceRow, instance_id)
            if row is None:
                return False
            await s.delete(row)
        return True

    async def set_instance_status(self, instance_id: str, status: str) -> None:
        async with self._db.transaction() as s:
            row = await s.get(InstanceRow, instance_id)
            if row is None:
                raise LookupError(f"instance {instance_id} does not exist")
            row.status = status
            row.updated_at = utcnow()

    async def set_node_credentials(
        self, instance_id: str, update: CredentialUpdate, *, node_id: str | None = None
    ) -> list[str]:
        """Change how sessionplane connects to one node of an instance, or to all of them; returns their IDs.

        The password is stored encrypted. A serving process reads nodes on every request, and its node
        adapter opens a new pool when a node's credentials differ from its pool's.
        """
        query = select(NodeRow).where(NodeRow.instance_id == instance_id)
        if node_id is not None:
            query = query.where(NodeRow.id == node_id)
        async with self._db.transaction() as s:
            rows = (await s.scalars(query)).all()
            if not rows:
                missing = f"node {node_id} of instance {instance_id}" if node_id else f"instance {instance_id}"
                raise LookupError(f"{missing} does not exist")
            for row in rows:
                self._apply(row, update)
        return [row.id for row in rows]

    def _apply(self, row: NodeRow, update: CredentialUpdate) -> None:
        if update.username is not None:
            row.username = update.username or None
        if update.password is not None:
            row.password_encrypted = self._keyring.encrypt(update.password) if update.password else None
        if update.tls is not None:
            row.tls = update.tls

    async def reencrypt_secrets(self) -> int:
        """After a keyring rotation: re-encrypt every node (and discovery source) password under the newest key."""
        async with self._db.transaction() as s:
            rows = (await s.scalars(select(NodeRow).where(NodeRow.password_encrypted.is_not(None)))).all()
            for row in rows:
                row.password_encrypted = self._keyring.reencrypt(row.password_encrypted or "")
            sources = (await s.scalars(select(DiscoverySourceRow))).all()
            count = len(rows)
            for source in sources:
                for column in ("password_encrypted", "sentinel_password_encrypted"):
                    if getattr(source, column):
                        setattr(source, column, self._keyring.reencrypt(getattr(source, column)))
                        count += 1
        return count

    # -- helpers ---------------------------------------------------------------------------

    def _instance(self, row: InstanceRow, *, with_nodes: bool = True) -> Instance:
        return Instance(
            id=row.id,
            project_id=row.project_id,
            name=row.name,
            mode=row.mode,
            datastore_type=row.datastore_type,
            datastore_version=row.datastore_version,
            status=row.status,
            enterprise_project_id=row.enterprise_project_id,
            tags={t.key: t.value for t in row.tags},
            protected_names=tuple(row.protected_names or ()),
            protected_users=tuple(row.protected_users or ()),
            created_at=row.created_at,
            updated_at=row.updated_at,
            nodes=tuple(self._node(n) for n in row.nodes) if with_nodes else (),
        )

    def _node(self, row: NodeRow) -> Node:
        password = self._keyring.decrypt(row.password_encrypted) if row.password_encrypted else None
        return Node(
            id=row.id,
            instance_id=row.instance_id,
            group_id=row.group_id,
            name=row.name,
            role=row.role,
            status=row.status,
            host=row.host,
            port=row.port,
            tls=row.tls,
            username=row.username,
            password=password,
            cluster_node_id=row.cluster_node_id,
        )


def _group_id() -> str:
    return ids.plain_id() + "gr12"


def _discovered_node_row(change: Added, position: int, source: DiscoverySourceRow) -> NodeRow:
    """A node a refresh found: the credentials given at adoption (still encrypted), TLS as the seed's."""
    row = NodeRow(
        id=ids.node_id(),
        position=position,
        name=str(change.seen.endpoint)[:128],
        username=source.username,
        password_encrypted=source.password_encrypted,
        tls=parse_seed(source.seed).tls,
    )
    _follow(row, change.seen, change.group_id)
    return row


def _follow(row: NodeRow, seen: SeenNode, group_id: str) -> None:
    """Set what discovery owns on a node row: address, role, health, group, cluster node ID."""
    row.host, row.port = seen.endpoint.host, seen.endpoint.port
    row.role, row.status, row.group_id = seen.role, status_of(seen), group_id
    row.cluster_node_id = seen.cluster_node_id


def _project(row: ProjectRow) -> Project:
    return Project(id=row.id, account_id=row.account_id, name=row.name)


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        account_id=row.account_id,
        name=row.name,
        is_admin=row.is_admin,
        enabled=row.enabled,
        credential_version=row.credential_version,
        password_hash=row.password_hash,
    )
