"""Condition operators of IAM policies (Huawei's names, with AWS semantics where Huawei's docs are silent).

``{"Operator": {"key": ["v1", "v2"]}}``: operators and keys AND together, values of one key OR
together. A negated operator (``StringNotEquals``...) holds when the request value matches none
of the values, and, as in AWS, when the key is absent. ``...IfExists`` also holds when the key is
absent. ``ForAnyValue:`` / ``ForAllValues:`` quantify over a multi-valued key (``g:TagKeys``);
without a prefix a multi-valued key behaves as ``ForAnyValue``. Keys are case-insensitive.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sessionplane.iam.patterns import wildcard_match

GLOBAL_KEYS = frozenset(
    k.lower()
    for k in (
        "g:EnterpriseProjectId",
        "g:UserId",
        "g:UserName",
        "g:DomainName",
        "g:ProjectId",
        "g:ProjectName",
        "g:ServiceName",
        "g:SourceIp",
        "g:CurrentTime",
        "g:SecureTransport",
        "g:MFAPresent",
        "g:TagKeys",
    )
)
_KEY_PREFIXES = ("g:resourcetag/", "gaussdbfornosql:", "nosql:")


class ConditionError(ValueError):
    pass


def _number(value: str) -> float:
    return float(value)


def _date(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _bool(value: str) -> str:
    if value.lower() not in ("true", "false"):
        raise ValueError(value)
    return value.lower()


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(value, strict=False)


def _in_network(request: str, policy: str) -> bool:
    try:
        return ipaddress.ip_address(request) in _network(policy)
    except ValueError:
        return False


def _str(value: str) -> str:
    return value


Compare = Callable[[str, str], bool]
# base operator -> (compare(request value, policy value), parser that validates a policy value)
_BASE: dict[str, tuple[Compare, Callable[[str], Any]]] = {
    "StringEquals": (lambda r, p: r == p, _str),
    "StringEqualsIgnoreCase": (lambda r, p: r.lower() == p.lower(), _str),
    "StringMatch": (lambda r, p: wildcard_match(p, r), _str),
    "StringMatchIgnoreCase": (lambda r, p: wildcard_match(p, r, ignore_case=True), _str),
    "StringStartWith": (lambda r, p: r.startswith(p), _str),
    "StringEndWith": (lambda r, p: r.endswith(p), _str),
    "StringStartWithIgnoreCase": (lambda r, p: r.lower().startswith(p.lower()), _str),
    "StringEndWithIgnoreCase": (lambda r, p: r.lower().endswith(p.lower()), _str),
    "NumberEquals": (lambda r, p: _number(r) == _number(p), _number),
    "NumberLessThan": (lambda r, p: _number(r) < _number(p), _number),
    "NumberLessThanEquals": (lambda r, p: _number(r) <= _number(p), _number),
    "NumberGreaterThan": (lambda r, p: _number(r) > _number(p), _number),
    "NumberGreaterThanEquals": (lambda r, p: _number(r) >= _number(p), _number),
    "DateLessThan": (lambda r, p: _date(r) < _date(p), _date),
    "DateLessThanEquals": (lambda r, p: _date(r) <= _date(p), _date),
    "DateGreaterThan": (lambda r, p: _date(r) > _date(p), _date),
    "DateGreaterThanEquals": (lambda r, p: _date(r) >= _date(p), _date),
    "Bool": (lambda r, p: r.lower() == p.lower(), _bool),
    "IpAddress": (_in_network, _network),
}
# negated operator -> the base it negates
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotMatch": "StringMatch",
    "StringNotMatchIgnoreCase": "StringMatchIgnoreCase",
    "StringNotStartWith": "StringStartWith",
    "StringNotEndWith": "StringEndWith",
    "StringNotStartWithIgnoreCase": "StringStartWithIgnoreCase",
    "StringNotEndWithIgnoreCase": "StringEndWithIgnoreCase",
    "NumberNotEquals": "NumberEquals",
    "NotIpAddress": "IpAddress",
}
_ALIASES = {"StringLike": "StringMatch", "StringNotLike": "StringNotMatch"}


@dataclass(frozen=True)
class Condition:
    operator: str  # canonical name without prefix or IfExists, e.g. "StringNotEquals", "Null"
    key: str  # lower-case
    values: tuple[str, ...]
    if_exists: bool = False
    quantifier: str | None = None  # "any" | "all" | None

    def holds(self, keys: Mapping[str, tuple[str, ...]]) -> bool:
        present = keys.get(self.key, ())
        if self.operator == "Null":
            return any((v == "true") == (not present) for v in self.values)
        if self.quantifier == "all":
            return all(self._one(value) for value in present)
        if not present:
            return self.if_exists or self.operator in _NEGATED
        return any(self._one(value) for value in present)

    def _one(self, request_value: str) -> bool:
        negated = self.operator in _NEGATED
        compare = _BASE[_NEGATED.get(self.operator, self.operator)][0]
        try:
            matched = any(compare(request_value, policy_value) for policy_value in self.values)
        except ValueError:  # a request value of the wrong type (not a number, not a date) matches nothing
            matched = False
        return not matched if negated else matched


def _split_operator(name: str, where: str) -> tuple[str, bool, str | None]:
    quantifier = None
    for prefix, meaning in (("ForAnyValue:", "any"), ("ForAllValues:", "all")):
        if name.startswith(prefix):
            name, quantifier = name[len(prefix) :], meaning
    if_exists = name.endswith("IfExists")
    base = _ALIASES.get(name.removesuffix("IfExists"), name.removesuffix("IfExists"))
    if base not in _BASE and base not in _NEGATED and base != "Null":
        raise ConditionError(f"{where}: unknown operator {name!r}")
    if base == "Null" and (if_exists or quantifier):
        raise ConditionError(f"{where}: Null takes neither IfExists nor a ForAnyValue/ForAllValues prefix")
    return base, if_exists, quantifier


def _check_key(key: str, where: str) -> str:
    lowered = key.lower()
    if lowered in GLOBAL_KEYS or (lowered.startswith(_KEY_PREFIXES) and lowered not in ("g:resourcetag/",)):
        return lowered
    raise ConditionError(f"{where}: unknown condition key {key!r}")


def _values(raw: Any, operator: str, where: str) -> tuple[str, ...]:
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        raise ConditionError(f"{where}: needs at least one value")
    values = []
    for item in items:
        if isinstance(item, bool):
            item = str(item).lower()
        if not isinstance(item, str | int | float) or isinstance(item, bool):
            raise ConditionError(f"{where}: values must be strings, numbers or booleans")
        text = str(item)
        parser = _bool if operator == "Null" else _BASE[_NEGATED.get(operator, operator)][1]
        try:
            parser(text)
        except ValueError:
            raise ConditionError(f"{where}: {text!r} is not a valid value for {operator}") from None
        values.append(text.lower() if operator == "Null" else text)
    return tuple(values)


def parse_condition_block(block: Any, where: str) -> tuple[Condition, ...]:
    if block is None:
        return ()
    if not isinstance(block, Mapping) or not block:
        raise ConditionError(f"{where}: must be a non-empty object of operators")
    conditions = []
    for name, keys in block.items():
        operator, if_exists, quantifier = _split_operator(name, f"{where}.{name}")
        if not isinstance(keys, Mapping) or not keys:
            raise ConditionError(f"{where}.{name}: must be a non-empty object of condition keys")
        for key, raw in keys.items():
            at = f"{where}.{name}.{key}"
            conditions.append(
                Condition(operator, _check_key(key, at), _values(raw, operator, at), if_exists, quantifier)
            )
    return tuple(conditions)
