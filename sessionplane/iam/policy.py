"""IAM policy documents: parsed and validated once, when they are created.

Identity policies (``"Version": "5.0"``) match the ``gaussdbfornosql:*`` action and the instance's
URN; role policies (``"Version": "1.1"``) match the ``nosql:resource:operation`` alias and the
URN in the ``nosql:`` form. A malformed document raises ``PolicyError`` naming where it is wrong,
e.g. ``Statement[1].Condition.StringEqual: unknown operator``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sessionplane.iam.conditions import Condition, ConditionError, parse_condition_block

IDENTITY_VERSION, ROLE_VERSION = "5.0", "1.1"
_STATEMENT_FIELDS = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
_ACTION = re.compile(r"^[A-Za-z0-9*?_-]+:[A-Za-z0-9*?_-]+:[A-Za-z0-9*?_-]+$")


class PolicyError(ValueError):
    """A malformed policy; the message says where."""


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] | None = None  # None: any resource
    not_resources: tuple[str, ...] | None = None
    conditions: tuple[Condition, ...] = ()
    sid: str | None = None


@dataclass(frozen=True)
class Policy:
    version: str
    statements: tuple[Statement, ...]


def parse_policy(document: str | bytes | Mapping[str, Any]) -> Policy:
    if isinstance(document, str | bytes):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise PolicyError(f"the policy is not valid JSON: {exc}") from None
    if not isinstance(document, Mapping):
        raise PolicyError("the policy must be a JSON object with Version and Statement")
    unknown = set(document) - {"Version", "Statement"}
    if unknown:
        raise PolicyError(f"unknown top-level field {sorted(unknown)[0]!r}")
    version = document.get("Version")
    if version not in (IDENTITY_VERSION, ROLE_VERSION):
        raise PolicyError(f'Version: must be "5.0" (identity policy) or "1.1" (role policy), got {version!r}')
    raw = document.get("Statement")
    if not isinstance(raw, list) or not raw:
        raise PolicyError("Statement: must be a non-empty list of statements")
    return Policy(version, tuple(_statement(s, f"Statement[{i}]", version) for i, s in enumerate(raw)))


def _statement(raw: Any, where: str, version: str) -> Statement:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where}: must be an object")
    unknown = set(raw) - _STATEMENT_FIELDS
    if unknown:
        raise PolicyError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError(f'{where}.Effect: must be "Allow" or "Deny", got {effect!r}')
    if version == ROLE_VERSION and ("NotAction" in raw or "NotResource" in raw):
        raise PolicyError(f"{where}: NotAction and NotResource are not allowed in a role policy (1.1)")
    if ("Action" in raw) == ("NotAction" in raw):
        raise PolicyError(f"{where}: give exactly one of Action or NotAction")
    if "Resource" in raw and "NotResource" in raw:
        raise PolicyError(f"{where}: give at most one of Resource or NotResource")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError(f"{where}.Sid: must be a string")
    try:
        conditions = parse_condition_block(raw.get("Condition"), f"{where}.Condition")
    except ConditionError as exc:
        raise PolicyError(str(exc)) from None
    return Statement(
        effect=effect,
        actions=_actions(raw, "Action", where, version),
        not_actions=_actions(raw, "NotAction", where, version),
        resources=_strings(raw, "Resource", where),
        not_resources=_strings(raw, "NotResource", where),
        conditions=conditions,
        sid=sid,
    )


def _strings(raw: Mapping[str, Any], field: str, where: str) -> tuple[str, ...] | None:
    if field not in raw:
        return None
    value = raw[field]
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v for v in values):
        raise PolicyError(f"{where}.{field}: must be a non-empty string or list of non-empty strings")
    return tuple(values)


def _actions(raw: Mapping[str, Any], field: str, where: str, version: str) -> tuple[str, ...]:
    values = _strings(raw, field, where)
    if values is None:
        return ()
    for value in values:
        if not (_ACTION.match(value) or (value == "*" and version == IDENTITY_VERSION)):
            raise PolicyError(f"{where}.{field}: {value!r} is not of the form service:resource:operation")
    return values
