"""The selector: one filter over client sessions, parsed and validated once, used by every caller.

    {"scope":   {"instance_ids": [...], "node_ids": [...]},
     "match":   {"addr_prefix", "ip", "name", "user", "lib_name", "db", "cmd", "flags",
                 "min_idle_seconds", "min_age_seconds", "max_age_seconds"},
     "exclude": {same fields}}

Inside ``match`` fields AND together and the values of one list field OR together; a session
that matches ANY field of ``exclude`` is left alone (exclude wins). ``name``, ``user``,
``lib_name`` and ``cmd`` are globs (``*`` any characters, ``?`` one); ``flags`` values are sets of
flag letters that must all be present (``"P"`` pub/sub, ``"b"`` blocked). Unnamed clients have
name ``""``. Errors are ``InvalidParameter`` naming the field (``match.name[1]: ...``).

Pure: no I/O. Evaluation works on columns of a ``ClientList`` (one findall per field used).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sessionplane.errors import InvalidParameter
from sessionplane.nodes.client_list import ClientList

MAX_TEXT = 256
MAX_VALUES = 100
MAX_SCOPE = 1000
GLOB_FIELDS = ("name", "user", "lib_name", "cmd")
NUMBER_FIELDS = ("min_idle_seconds", "min_age_seconds", "max_age_seconds")
FIELDS = ("addr_prefix", "ip", *GLOB_FIELDS, "db", "flags", *NUMBER_FIELDS)
_NOT_IN_GLOB = re.compile(r"[\s\[\]\\{}]")  # no classes, braces or escapes: * and ? only
_FLAGS = re.compile(r"[A-Za-z]{1,16}")
_ID_LIKE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def wire_name(field_name: str) -> str:
    """CLIENT LIST field name of a selector field (``lib_name`` -> ``lib-name``)."""
    return field_name.replace("_", "-")


@dataclass(frozen=True)
class Glob:
    patterns: tuple[str, ...]
    regex: re.Pattern[str] = field(compare=False, repr=False)

    @classmethod
    def of(cls, patterns: Sequence[str]) -> Glob:
        alternatives = "|".join(re.escape(p).replace(r"\*", ".*").replace(r"\?", ".") for p in patterns)
        return cls(tuple(patterns), re.compile(f"(?:{alternatives})", re.DOTALL))

    def matches(self, value: str) -> bool:
        return self.regex.fullmatch(value) is not None

    @property
    def literal(self) -> str | None:
        """The one exact value this glob stands for, if it is one (used for server-side filters)."""
        if len(self.patterns) == 1 and not set("*?") & set(self.patterns[0]):
            return self.patterns[0]
        return None


@dataclass(frozen=True)
class Criteria:
    """One ``match`` or ``exclude`` block. ``None`` means the field is not used."""

    addr_prefix: str | None = None
    ip: frozenset[str] | None = None
    name: Glob | None = None
    user: Glob | None = None
    lib_name: Glob | None = None
    cmd: Glob | None = None
    db: frozenset[int] | None = None
    flags: tuple[str, ...] | None = None
    min_idle_seconds: int | None = None
    min_age_seconds: int | None = None
    max_age_seconds: int | None = None

    @property
    def used(self) -> tuple[str, ...]:
        return tuple(f for f in FIELDS if getattr(self, f) is not None)

    def tests(self, listing: ClientList) -> list[Callable[[int], bool]]:
        """One predicate per used field, over line numbers of ``listing``."""
        tests: list[Callable[[int], bool]] = []
        if self.addr_prefix is not None:
            addr, prefix = listing.column("addr"), self.addr_prefix
            tests.append(lambda i: addr[i].startswith(prefix))
        if self.ip is not None:
            column, ips = listing.column("ip"), self.ip
            tests.append(lambda i: column[i] in ips)
        for name in GLOB_FIELDS:
            glob: Glob | None = getattr(self, name)
            if glob is not None:
                tests.append(_glob_test(listing.column(wire_name(name)), glob))
        if self.db is not None:
            db, wanted = listing.column("db"), {str(d) for d in self.db}
            tests.append(lambda i: db[i] in wanted)
        if self.flags is not None:
            flags, sets = listing.column("flags"), [set(f) for f in self.flags]
            tests.append(lambda i: any(s <= set(flags[i]) for s in sets))
        tests += self._number_tests(listing)
        return tests

    def _number_tests(self, listing: ClientList) -> list[Callable[[int], bool]]:
        tests: list[Callable[[int], bool]] = []
        if self.min_idle_seconds is not None:
            idle, least = _ints(listing.column("idle")), self.min_idle_seconds
            tests.append(lambda i: idle[i] >= least)
        if self.min_age_seconds is not None:
            age, least = _ints(listing.column("age")), self.min_age_seconds
            tests.append(lambda i: age[i] >= least)
        if self.max_age_seconds is not None:
            age, most = _ints(listing.column("age")), self.max_age_seconds
            tests.append(lambda i: age[i] <= most)
        return tests

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.used:
            value = getattr(self, name)
            if isinstance(value, Glob):
                value = list(value.patterns)
            elif isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[name] = value
        return out


@dataclass(frozen=True)
class Scope:
    instance_ids: tuple[str, ...] = ()
    node_ids: tuple[str, ...] = ()

    @property
    def implicit(self) -> bool:
        return not self.instance_ids and not self.node_ids


@dataclass(frozen=True)
class Selector:
    scope: Scope = Scope()
    match: Criteria = Criteria()
    exclude: Criteria = Criteria()
    session_ids: tuple[int, ...] | None = None  # the GeminiDB close by ID; not part of the JSON selector

    @property
    def selects_everything(self) -> bool:
        """Every client session of the nodes in scope: no IDs, nothing to match or exclude."""
        return self.session_ids is None and not self.match.used and not self.exclude.used

    def lines(self, listing: ClientList, candidates: Sequence[int]) -> list[int]:
        """The line numbers among ``candidates`` that match and are not excluded."""
        match, exclude = self.match.tests(listing), self.exclude.tests(listing)
        if not match and not exclude:
            return list(candidates)
        return [i for i in candidates if all(t(i) for t in match) and not any(t(i) for t in exclude)]

    def as_json(self) -> dict[str, Any]:
        """The selector as the audit trail records it."""
        out: dict[str, Any] = {}
        if not self.scope.implicit:
            out["scope"] = {"instance_ids": list(self.scope.instance_ids), "node_ids": list(self.scope.node_ids)}
        if self.match.used:
            out["match"] = self.match.as_json()
        if self.exclude.used:
            out["exclude"] = self.exclude.as_json()
        return out


def _glob_test(column: list[str], glob: Glob) -> Callable[[int], bool]:
    literal = glob.literal
    if literal is not None:
        return lambda i: column[i] == literal
    fullmatch = glob.regex.fullmatch
    return lambda i: fullmatch(column[i]) is not None


def _ints(column: list[str]) -> list[int]:
    return [int(v) if v.isdigit() else 0 for v in column]


# -- parsing ------------------------------------------------------------------------------------


def parse_selector(document: Any, *, where: str = "") -> Selector:
    """A selector from its JSON form; ``InvalidParameter`` naming the first field that is wrong."""
    document = {} if document is None else document
    _require_object(document, where or "selector")
    _refuse_unknown(document, {"scope", "match", "exclude"}, where)
    return Selector(
        scope=parse_scope(document.get("scope"), where=_at(where, "scope")),
        match=parse_criteria(document.get("match"), where=_at(where, "match")),
        exclude=parse_criteria(document.get("exclude"), where=_at(where, "exclude")),
    )


def parse_scope(document: Any, *, where: str = "scope") -> Scope:
    if document is None:
        return Scope()
    _require_object(document, where)
    _refuse_unknown(document, {"instance_ids", "node_ids"}, where)
    return Scope(
        instance_ids=_id_list(document.get("instance_ids"), f"{where}.instance_ids"),
        node_ids=_id_list(document.get("node_ids"), f"{where}.node_ids"),
    )


def parse_criteria(document: Any, *, where: str = "match") -> Criteria:
    if document is None:
        return Criteria()
    _require_object(document, where)
    _refuse_unknown(document, set(FIELDS), where)
    values: dict[str, Any] = {}
    for name, raw in document.items():
        if raw is None:
            continue
        values[name] = _PARSERS[name](raw, f"{where}.{name}")
    minimum, maximum = values.get("min_age_seconds"), values.get("max_age_seconds")
    if minimum is not None and maximum is not None and minimum > maximum:
        raise InvalidParameter(f"Invalid parameter: {where}.min_age_seconds must not exceed max_age_seconds.")
    return Criteria(**values)


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _require_object(document: Any, where: str) -> None:
    if not isinstance(document, Mapping):
        raise InvalidParameter(f"Invalid parameter: {where} must be an object.")


def _refuse_unknown(document: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(document) - known)
    if unknown:
        raise InvalidParameter(f"Invalid parameter: {_at(where, str(unknown[0])[:64])} is not a known field.")


def _list(raw: Any, where: str) -> list[Any]:
    if not isinstance(raw, list) or not raw:
        raise InvalidParameter(f"Invalid parameter: {where} must be a non-empty list.")
    if len(raw) > MAX_VALUES:
        raise InvalidParameter(f"Invalid parameter: {where} has more than {MAX_VALUES} values.")
    return raw


def _text(raw: Any, where: str, *, allow_empty: bool = False) -> str:
    if not isinstance(raw, str) or (not raw and not allow_empty) or len(raw) > MAX_TEXT:
        raise InvalidParameter(f"Invalid parameter: {where} must be a string of 1 to {MAX_TEXT} characters.")
    if any(ord(c) < 32 or c == "\x7f" for c in raw):
        raise InvalidParameter(f"Invalid parameter: {where} must not contain control characters.")
    return raw


def _glob(raw: Any, where: str) -> Glob:
    patterns = []
    for i, value in enumerate(_list(raw, where)):
        # "" is a real value: the name of an unnamed client.
        text = _text(value, f"{where}[{i}]", allow_empty=True)
        if _NOT_IN_GLOB.search(text):
            raise InvalidParameter(
                f"Invalid parameter: {where}[{i}] is not a valid glob (only * and ? are special; "
                "no spaces, brackets, braces or backslashes)."
            )
        patterns.append(text)
    return Glob.of(patterns)


def _ips(raw: Any, where: str) -> frozenset[str]:
    return frozenset(_text(v, f"{where}[{i}]") for i, v in enumerate(_list(raw, where)))


def _dbs(raw: Any, where: str) -> frozenset[int]:
    dbs = set()
    for i, value in enumerate(_list(raw, where)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1_000_000:
            raise InvalidParameter(f"Invalid parameter: {where}[{i}] must be a database number (integer >= 0).")
        dbs.add(value)
    return frozenset(dbs)


def _flags(raw: Any, where: str) -> tuple[str, ...]:
    values = []
    for i, value in enumerate(_list(raw, where)):
        if not isinstance(value, str) or not _FLAGS.fullmatch(value):
            raise InvalidParameter(f'Invalid parameter: {where}[{i}] must be client flag letters, e.g. "P" or "b".')
        values.append(value)
    return tuple(values)


def _seconds(raw: Any, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= 10**10:
        raise InvalidParameter(f"Invalid parameter: {where} must be an integer number of seconds >= 0.")
    return raw


def _id_list(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_SCOPE:
        raise InvalidParameter(f"Invalid parameter: {where} must be a list of at most {MAX_SCOPE} IDs.")
    for i, value in enumerate(raw):
        if not isinstance(value, str) or not _ID_LIKE.fullmatch(value):
            raise InvalidParameter(f"Invalid parameter: {where}[{i}] is not a valid ID.")
    return tuple(dict.fromkeys(raw))


_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "addr_prefix": lambda raw, where: _text(raw, where),
    "ip": _ips,
    "name": _glob,
    "user": _glob,
    "lib_name": _glob,
    "cmd": _glob,
    "db": _dbs,
    "flags": _flags,
    "min_idle_seconds": _seconds,
    "min_age_seconds": _seconds,
    "max_age_seconds": _seconds,
}
