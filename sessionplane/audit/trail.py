"""The audit trail the domain writes to.

A close is recorded *before* any session is touched (outcome ``pending``) and completed after;
if that first write fails, the close fails with it and nothing is closed. Denials are recorded
in one write.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sessionplane.audit.store import AuditStore
from sessionplane.auth.principal import Principal, RequestMeta
from sessionplane.errors import InternalError
from sessionplane.iam.actions import DELETE_SESSION

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditSubject:
    action: str
    instance_id: str | None
    node_id: str | None
    parameters: Mapping[str, Any]


class CloseObserver(Protocol):
    """The metrics of every close: its outcome and how many sessions it closed."""

    def __call__(self, *, outcome: str, closed: int) -> None: ...


class WriteObserver(Protocol):
    """How long a caller waited for one of its audit writes to be durable (``AUDIT_WRITES`` says which): a close
    waits for two, on its way to the nodes and on its way back, so a slow store is a slow close."""

    def __call__(self, write: str, seconds: float) -> None: ...


# A close's record, before anything is closed; its outcome, before the answer; a refused close's record.
AUDIT_WRITES = ("record", "outcome", "denial")


class AuditTrail:
    """Every close passes through here, whoever made it (API, CLI, rule): so the close metrics are
    recorded here too, once per finished or denied close, and how long each waited for its writes."""

    def __init__(
        self, store: AuditStore, *, on_close: CloseObserver | None = None, on_write: WriteObserver | None = None
    ) -> None:
        self._store = store
        self._on_close: CloseObserver = on_close or _ignore
        self._on_write: WriteObserver = on_write or _ignore_write

    async def begin(self, meta: RequestMeta, subject: AuditSubject) -> str:
        started = time.perf_counter()
        try:
            event_id = await self._store.append(outcome="pending", error_code=None, **self._fields(meta, subject))
        except Exception as exc:
            log.exception("audit write failed; refusing the close (request %s)", meta.request_id)
            raise InternalError(
                f"The audit trail is unavailable; nothing was closed. Request id: {meta.request_id}"
            ) from exc
        self._on_write("record", time.perf_counter() - started)
        return event_id

    async def finish(
        self, event_id: str, *, outcome: str, error_code: str | None, node_results: Sequence[Mapping[str, Any]]
    ) -> None:
        started = time.perf_counter()
        await self._store.complete(event_id, outcome=outcome, error_code=error_code, node_results=node_results)
        self._on_write("outcome", time.perf_counter() - started)
        self._on_close(outcome=outcome, closed=sum(int(r.get("closed", 0) or 0) for r in node_results))

    async def denied(self, meta: RequestMeta, subject: AuditSubject, *, error_code: str) -> None:
        started = time.perf_counter()
        try:
            await self._store.append(outcome="denied", error_code=error_code, **self._fields(meta, subject))
        except Exception as exc:
            raise InternalError(f"The audit trail is unavailable. Request id: {meta.request_id}") from exc
        self._on_write("denial", time.perf_counter() - started)
        if subject.action == DELETE_SESSION.name:
            self._on_close(outcome="denied", closed=0)

    @staticmethod
    def _fields(meta: RequestMeta, subject: AuditSubject) -> dict[str, Any]:
        p = meta.principal
        return {
            "request_id": meta.request_id,
            "account_id": p.account_id,
            "user_id": p.user_id,
            "user_name": p.user_name,
            "project_id": p.project_id,
            "source_ip": p.source_ip,
            "action": subject.action,
            "instance_id": subject.instance_id,
            "node_id": subject.node_id,
            "parameters": dict(subject.parameters),
            "node_results": [],
            "actor": actor_of(p),
        }


def actor_of(principal: Principal) -> str:
    """Who acted, as the audit shows it: ``user:<name>``; the CLI and rules name themselves (``cli:<os user>``,
    ``rule:<id>``) in ``user_name``."""
    if principal.method in ("cli", "rule"):
        return principal.user_name
    return f"user:{principal.user_name}"


def _ignore(*, outcome: str, closed: int) -> None:
    """No metrics (the CLI and tests build a trail without them)."""


def _ignore_write(write: str, seconds: float) -> None:
    """No metrics, as ``_ignore``."""
