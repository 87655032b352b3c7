"""Immutable records the store hands out. Secrets are decrypted only into fields with repr=False."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Account:
    id: str
    name: str


@dataclass(frozen=True)
class Project:
    id: str
    account_id: str
    name: str


@dataclass(frozen=True)
class User:
    id: str
    account_id: str
    name: str
    is_admin: bool
    enabled: bool
    credential_version: int
    password_hash: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class NodeSpec:
    """What an operator gives to adopt one endpoint."""

    host: str
    port: int
    name: str | None = None
    role: str = "master"
    group: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False
    status: str = "normal"
    cluster_node_id: str | None = None  # set by discovery for Redis Cluster nodes


@dataclass(frozen=True)
class Node:
    id: str
    instance_id: str
    group_id: str
    name: str
    role: str
    status: str
    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cluster_node_id: str | None = None


@dataclass(frozen=True)
class DiscoverySource:
    """How an adopted instance was discovered, so that a refresh can look again.

    ``seed`` is the seed URL without credentials; the credentials apply to every node found.
    """

    instance_id: str
    seed: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)
    refreshed_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Instance:
    id: str
    project_id: str
    name: str
    mode: str
    datastore_type: str
    datastore_version: str
    status: str
    enterprise_project_id: str
    tags: Mapping[str, str]
    protected_names: tuple[str, ...]
    protected_users: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    nodes: tuple[Node, ...]

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)


@dataclass(frozen=True)
class InstanceFilter:
    id: str | None = None
    name: str | None = None
    datastore_type: str | None = None
    mode: str | None = None
