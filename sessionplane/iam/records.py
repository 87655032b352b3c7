"""IAM records the store hands out. The AK secret is decrypted only into a field with repr=False."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class AccessKey:
    id: str
    user_id: str
    enabled: bool
    description: str
    created_at: datetime
    secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Group:
    id: str
    account_id: str
    name: str


@dataclass(frozen=True)
class StoredPolicy:
    id: str
    account_id: str
    name: str
    document: str


@dataclass(frozen=True)
class Attachment:
    id: str
    policy_name: str
    principal_type: str
    principal_id: str
    project_id: str | None
