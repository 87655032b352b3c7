"""Operator tasks shared by the CLI, the demo and the tests: accounts, users, projects, adopted instances.

This is sessionplane's own administration surface, not part of Huawei's API: it is reachable from
the CLI (with access to the database and keyring), never with tenant credentials.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sessionplane.auth.passwords import hash_password
from sessionplane.inventory.records import Account, Instance, NodeSpec, Project, User
from sessionplane.inventory.store import InventoryStore


async def account(inventory: InventoryStore, name: str) -> Account:
    """The account called ``name``, created on first use."""
    existing = await inventory.account_by_name(name)
    return existing or await inventory.create_account(name=name)


async def add_user(
    inventory: InventoryStore, *, domain: str, name: str, password: str | None, is_admin: bool = False
) -> User:
    owner = await account(inventory, domain)
    password_hash = hash_password(password) if password else None
    return await inventory.create_user(account_id=owner.id, name=name, password_hash=password_hash, is_admin=is_admin)


async def add_project(inventory: InventoryStore, *, domain: str, name: str, project_id: str | None = None) -> Project:
    owner = await account(inventory, domain)
    return await inventory.create_project(account_id=owner.id, name=name, project_id=project_id)


async def adopt_instance(
    inventory: InventoryStore,
    *,
    project_id: str,
    name: str,
    nodes: Sequence[NodeSpec],
    mode: str = "Cluster",
    version: str = "7.0",
    tags: Mapping[str, str] | None = None,
    enterprise_project_id: str = "0",
    protected_names: Sequence[str] = (),
    protected_users: Sequence[str] = (),
) -> Instance:
    if await inventory.project(project_id) is None:
        raise LookupError(f"project {project_id} does not exist")
    return await inventory.add_instance(
        project_id=project_id,
        name=name,
        mode=mode,
        datastore_version=version,
        nodes=nodes,
        tags=tags,
        enterprise_project_id=enterprise_project_id,
        protected_names=protected_names,
        protected_users=protected_users,
    )
