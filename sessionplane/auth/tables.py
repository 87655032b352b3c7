"""Authentication state shared by every replica: failed sign-ins and signatures, and the lockouts they earn."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sessionplane.schema import Base, UTCDateTime


class LockoutRow(Base):
    """Failures of one subject: ``ak:<access key>`` (existing keys only) or ``user:<sha256 of domain and name>``."""

    __tablename__ = "auth_lockouts"
    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # When the row means nothing any more (window over, lock over): pruned from then on.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
