"""Pure: the time parameters of the history endpoints (``since``, ``window``), with errors naming the parameter."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sessionplane.errors import InvalidParameter

_DURATION = re.compile(r"([0-9]{1,6})([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_SECONDS = 400 * 86400  # beyond any retention; keeps date arithmetic far from overflow


def parse_duration(text: str, *, parameter: str) -> int:
    """``90s``, ``15m``, ``1h``, ``7d``, ``2w`` -> seconds (1 s to 400 days)."""
    match = _DURATION.fullmatch(text)
    if match is None:
        raise InvalidParameter(
            f"Invalid parameter: {parameter}: expected a duration such as 90s, 15m, 1h, 7d or 2w, got {text[:32]!r}."
        )
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    if not 1 <= seconds <= MAX_SECONDS:
        raise InvalidParameter(f"Invalid parameter: {parameter}: must be between 1s and 400d.")
    return seconds


def parse_since(text: str, *, now: datetime) -> datetime:
    """``-1h`` (that long before ``now``) or an ISO 8601 time (UTC when it names no zone), in the past."""
    if text.startswith("-"):
        return now - timedelta(seconds=parse_duration(text[1:], parameter="since"))
    try:
        moment = datetime.fromisoformat(text)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidParameter(
            "Invalid parameter: since: expected an ISO 8601 time (2026-11-25T09:00:00Z) or a time back from now"
            " (-1h, -7d)."
        ) from None
    if moment >= now:
        raise InvalidParameter("Invalid parameter: since: must be in the past.")
    if (now - moment).total_seconds() > MAX_SECONDS:
        raise InvalidParameter("Invalid parameter: since: at most 400d back.")
    return moment
