"""Close-rule tables: the rules (with their schedule and lease) and their runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sessionplane.schema import Base, UTCDateTime, utcnow


class CloseRuleRow(Base):
    __tablename__ = "close_rules"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    # No foreign key: a rule whose instance is removed stays, and its next run disables it with a reason.
    instance_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(64))
    match: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    exclude: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    interval_seconds: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    max_per_run: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The schedule and the lease: a replica claims a due rule with one conditional UPDATE of these.
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CloseRuleRunRow(Base):
    __tablename__ = "close_rule_runs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule_id: Mapped[str] = mapped_column(ForeignKey("close_rules.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    mode: Mapped[str] = mapped_column(String(16))
    matched: Mapped[int] = mapped_column(Integer)
    closed: Mapped[int] = mapped_column(Integer)
    reconnected: Mapped[int | None] = mapped_column(Integer)
    nodes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    audit_id: Mapped[str | None] = mapped_column(String(64))
