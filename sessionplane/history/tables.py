"""History tables: raw samples (kept ``history_raw_retention_seconds``) and 5-minute roll-ups.

No foreign key to ``nodes``: history outlives a removed node until retention drops it, and the
sampler's inserts never wait on the inventory. Tenant isolation holds because every read is by
an ``instance_id`` that the API first looked up in the caller's project.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sessionplane.schema import Base, UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_ROW_ID = BigInteger().with_variant(Integer(), "sqlite")


class SessionSampleRow(Base):
    __tablename__ = "session_samples"
    __table_args__ = (Index("ix_session_samples_instance_at", "instance_id", "at"),)
    id: Mapped[int] = mapped_column(_ROW_ID, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    instance_id: Mapped[str] = mapped_column(String(64))
    node_id: Mapped[str] = mapped_column(String(64))
    reachable: Mapped[bool] = mapped_column(Boolean)
    # NULL when the node could not be read: unknown, never zero.
    total: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[int | None] = mapped_column(Integer)
    idle_over: Mapped[int | None] = mapped_column(Integer)
    groups: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SessionRollupRow(Base):
    __tablename__ = "session_rollups"
    __table_args__ = (Index("ix_session_rollups_instance_bucket", "instance_id", "bucket_start"),)
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True, index=True)
    instance_id: Mapped[str] = mapped_column(String(64))
    samples: Mapped[int] = mapped_column(Integer)  # successful readings in the bucket
    unreachable: Mapped[int] = mapped_column(Integer)  # failed readings in the bucket
    total_sum: Mapped[int] = mapped_column(BigInteger)
    active_sum: Mapped[int] = mapped_column(BigInteger)
    idle_over_sum: Mapped[int] = mapped_column(BigInteger)
    groups_sum: Mapped[dict[str, Any]] = mapped_column(JSON)


class NodeLeaseRow(Base):
    """Which replica samples a node: renewed each round by its owner, free once ``expires_at`` has passed."""

    __tablename__ = "node_leases"
    node_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SamplerReplicaRow(Base):
    """A live sampling replica (its heartbeat, renewed each round): how many share the nodes."""

    __tablename__ = "sampler_replicas"
    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
