"""Close rules and their runs (extensions §4): the records, and the validation of a rule body (pure).

A rule body is ``{"name", "match", "exclude", "interval_seconds", "mode", "max_per_run",
"enabled"}``; its selector's scope is its instance, so it has no ``scope``. ``match`` must use at
least one field: a rule that matches every session of an instance is refused (``{"is_all": true}``
is one call away for whoever means it). Errors are ``InvalidParameter`` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sessionplane.errors import InvalidParameter
from sessionplane.sessions.selector import Criteria, Selector, parse_criteria

MODES = ("report", "enforce")
MIN_INTERVAL_SECONDS = 10
MAX_INTERVAL_SECONDS = 7 * 86400
MAX_PER_RUN_LIMIT = 100_000
MAX_NAME = 64
DEFAULTS: dict[str, Any] = {"interval_seconds": 60, "mode": "report", "max_per_run": 1000, "enabled": True}
FIELDS = ("name", "match", "exclude", "interval_seconds", "mode", "max_per_run", "enabled")


@dataclass(frozen=True)
class RuleSpec:
    """A validated rule body; ``None``: not given (an update changes only what it gives)."""

    name: str | None = None
    match: Criteria | None = None
    exclude: Criteria | None = None
    interval_seconds: int | None = None
    mode: str | None = None
    max_per_run: int | None = None
    enabled: bool | None = None

    def given(self) -> dict[str, Any]:
        """The fields given, as stored (criteria as their JSON)."""
        out: dict[str, Any] = {}
        for name in FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value.as_json() if isinstance(value, Criteria) else value
        return out


@dataclass(frozen=True)
class Rule:
    id: str
    project_id: str
    instance_id: str
    name: str
    match: Mapping[str, Any]
    exclude: Mapping[str, Any]
    interval_seconds: int
    mode: str
    max_per_run: int
    enabled: bool
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime
    next_run_at: datetime

    def selector(self) -> Selector:
        return Selector(match=parse_criteria(self.match), exclude=parse_criteria(self.exclude, where="exclude"))


@dataclass(frozen=True)
class NodeRun:
    node_id: str
    matched: int
    closed: int
    error_code: str | None = None
    error_msg: str | None = None


@dataclass(frozen=True)
class RuleRun:
    id: str
    rule_id: str
    started_at: datetime
    finished_at: datetime
    mode: str
    matched: int
    closed: int
    reconnected: int | None
    nodes: tuple[NodeRun, ...]
    audit_id: str | None = None


def parse_rule(document: Mapping[str, Any], *, partial: bool) -> RuleSpec:
    """A rule body (``partial``: an update, every field optional) -> ``RuleSpec``, or ``InvalidParameter``."""
    unknown = sorted(set(document) - set(FIELDS))
    if unknown:
        raise InvalidParameter(f"Invalid parameter: {str(unknown[0])[:64]} is not a known field.")
    if not partial and "name" not in document:
        raise InvalidParameter("Invalid parameter: name is required.")
    if not partial and "match" not in document:
        raise InvalidParameter("Invalid parameter: match is required.")
    if partial and not document:
        raise InvalidParameter("Invalid parameter: the body must change at least one field.")
    values: dict[str, Any] = {}
    for name, raw in document.items():
        values[name] = _PARSERS[name](raw, name)
    return RuleSpec(**values)


def _name(raw: Any, where: str) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_NAME:
        raise InvalidParameter(f"Invalid parameter: {where} must be a string of 1 to {MAX_NAME} characters.")
    if any(ord(c) < 32 or c == "\x7f" for c in raw):
        raise InvalidParameter(f"Invalid parameter: {where} must not contain control characters.")
    return raw


def _match(raw: Any, where: str) -> Criteria:
    if raw is None:
        raise InvalidParameter(f"Invalid parameter: {where} must be an object.")
    criteria = parse_criteria(raw, where=where)
    if not criteria.used:
        raise InvalidParameter(
            f"Invalid parameter: {where} must name at least one field (a rule never matches every session)."
        )
    return criteria


def _exclude(raw: Any, where: str) -> Criteria:
    return parse_criteria({} if raw is None else raw, where=where)


def _integer(low: int, high: int) -> Any:
    def parse(raw: Any, where: str) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
            raise InvalidParameter(f"Invalid parameter: {where} must be an integer from {low} to {high}.")
        return raw

    return parse


def _mode(raw: Any, where: str) -> str:
    if raw not in MODES:
        raise InvalidParameter(f"Invalid parameter: {where} must be one of {', '.join(MODES)}.")
    return raw


def _boolean(raw: Any, where: str) -> bool:
    if not isinstance(raw, bool):
        raise InvalidParameter(f"Invalid parameter: {where} must be a boolean.")
    return raw


_PARSERS = {
    "name": _name,
    "match": _match,
    "exclude": _exclude,
    "interval_seconds": _integer(MIN_INTERVAL_SECONDS, MAX_INTERVAL_SECONDS),
    "mode": _mode,
    "max_per_run": _integer(1, MAX_PER_RUN_LIMIT),
    "enabled": _boolean,
}
