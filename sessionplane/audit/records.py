"""Audit records: one close (or denied close) and the filter that reads them back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    """How a recorded close ended; ``pending`` while it runs, ``interrupted`` when its process died mid-close."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    PARTIAL = "partial"
    FAILED = "failed"
    DENIED = "denied"
    REFUSED = "refused"  # nothing closed: more sessions matched than the caller's expect_at_most
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class AuditEvent:
    id: str
    at: datetime
    request_id: str
    account_id: str | None
    user_id: str | None
    user_name: str | None
    project_id: str
    source_ip: str | None
    action: str
    instance_id: str | None
    node_id: str | None
    parameters: Mapping[str, object]
    outcome: str
    error_code: str | None
    node_results: tuple[Mapping[str, object], ...]
    actor: str | None = None
    closed: int | None = None
    reconnected: int | None = None


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    user_name: str | None = None
    instance_id: str | None = None
    outcome: str | None = None
    limit: int = 100
    project_id: str | None = None
    actor: str | None = None  # exact, or a prefix ending in "*" ("rule:*")
    offset: int = 0
