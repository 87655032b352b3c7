"""Request counters of the rate limits: one row per subject and fixed window, shared by every replica."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sessionplane.schema import Base


class RateCounterRow(Base):
    """Requests of ``subject`` (``caller:ak:<key>``, ``caller:user:<id>``, ``project:<id>``) in one window.

    ``window`` is the window's number (Unix time // window length): no clock arithmetic in SQL.
    """

    __tablename__ = "rate_counters"
    subject: Mapped[str] = mapped_column(String(160), primary_key=True)
    window: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    hits: Mapped[int] = mapped_column(Integer)
