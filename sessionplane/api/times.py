"""Times on sessionplane's own routes: ISO 8601 UTC out; ISO 8601 or relative (``-1h``, ``-7d``) in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sessionplane.errors import InvalidParameter

_RELATIVE = re.compile(r"-([0-9]{1,9})([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_moment(text: str, *, field: str, now: datetime) -> datetime:
    """An aware UTC time from ``2026-11-24T10:00:00Z`` (no zone: UTC) or ``-30m`` (before ``now``)."""
    try:
        relative = _RELATIVE.fullmatch(text)
        if relative:
            return now - timedelta(**{_UNITS[relative[2]]: int(relative[1])})
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise InvalidParameter(
            f"Invalid parameter: {field} must be an ISO 8601 time (2026-11-24T10:00:00Z) or relative (-1h, -7d)."
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
