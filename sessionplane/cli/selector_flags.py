"""The selector of extensions §1 as command-line flags, shared by ``sessions search|summary|close``.

Every selector field has a flag (``--name 'batch-*'``, ``--idle-over 10m``) and an ``--exclude-``
twin; scope is ``--instance`` / ``--node`` (both repeatable) within one project (``--project``, or
the project of the named instances and nodes, or the only project there is). Values are checked
by the same parser as the API's bodies, one flag at a time, so a bad value is a usage error (exit
code 2) that names the flag, never the JSON path the operator did not type.

``with_selector_flags`` appends the flags to a command's own parameters and hands the command one
``SelectorFlags``: three commands take the same 25 flags without repeating them.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from sessionplane.errors import InvalidParameter
from sessionplane.sessions.selector import Criteria, Scope, Selector, parse_criteria, parse_scope

_DURATION = re.compile(r"(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s?)?")
_UNITS = (7 * 86400, 86400, 3600, 60, 1)
_TEXTS, _INTS, _TEXT, _DURATION_KIND = "texts", "ints", "text", "duration"


@dataclass(frozen=True)
class Flag:
    field: str  # the selector field (criteria) it sets
    flag: str  # what the operator types, without the exclude- prefix
    kind: str
    help: str


CRITERIA_FLAGS = (
    Flag("name", "name", _TEXTS, "Client name glob (* and ?; '' is an unnamed client); repeat to OR"),
    Flag("user", "user", _TEXTS, "ACL user glob; repeat to OR"),
    Flag("lib_name", "lib", _TEXTS, "Client library glob (lib-name, e.g. 'redis-py*'); repeat to OR"),
    Flag("addr_prefix", "addr-prefix", _TEXT, "Prefix of the client's ip:port, e.g. 10.0."),
    Flag("ip", "ip", _TEXTS, "Source IP (no port); repeat to OR"),
    Flag("db", "db", _INTS, "Selected database number; repeat to OR"),
    Flag("cmd", "cmd", _TEXTS, "Last command glob, e.g. blpop; repeat to OR"),
    Flag("flags", "flags", _TEXTS, "Client flag letters that must all be set, e.g. P (pub/sub); repeat to OR"),
    Flag("min_idle_seconds", "idle-over", _DURATION_KIND, "Idle at least this long: 30s, 10m, 2h, 1d"),
    Flag("min_age_seconds", "age-over", _DURATION_KIND, "Connected at least this long: 30s, 10m, 2h, 1d"),
    Flag("max_age_seconds", "age-under", _DURATION_KIND, "Connected at most this long: 30s, 10m, 2h, 1d"),
)
_SCOPE_PANEL, _MATCH_PANEL = "Scope", "Match (all must hold)"
_EXCLUDE_PANEL = "Exclude (any one leaves a session alone)"


@dataclass(frozen=True)
class SelectorFlags:
    """What the operator typed: the scope and the selector built from the flags."""

    project: str | None
    selector: Selector

    @property
    def instance_ids(self) -> tuple[str, ...]:
        return self.selector.scope.instance_ids

    @property
    def node_ids(self) -> tuple[str, ...]:
        return self.selector.scope.node_ids


def parse_duration(text: str, flag: str) -> int:
    """``90`` or ``90s``, ``10m``, ``2h``, ``1d``, ``1w``, or sums such as ``1h30m``, in seconds."""
    found = _DURATION.fullmatch(text.strip())
    if not text.strip() or found is None:
        raise typer.BadParameter(f"{text!r} is not a duration such as 30s, 10m, 2h or 1h30m", param_hint=f"'{flag}'")
    return sum(int(part) * unit for part, unit in zip(found.groups(), _UNITS, strict=True) if part)


def _option_name(flag: Flag, *, exclude: bool) -> str:
    return f"--exclude-{flag.flag}" if exclude else f"--{flag.flag}"


def _param_name(flag: Flag, *, exclude: bool) -> str:
    return ("exclude_" if exclude else "match_") + flag.field


def _annotation(flag: Flag, *, exclude: bool) -> Any:
    option = _option_name(flag, exclude=exclude)
    panel = _EXCLUDE_PANEL if exclude else _MATCH_PANEL
    text = f"Leave alone: {flag.help}" if exclude else flag.help
    kind = {_TEXTS: list[str] | None, _INTS: list[int] | None}.get(flag.kind, str | None)
    metavar = {_INTS: "N", _DURATION_KIND: "DURATION"}.get(flag.kind, "TEXT")
    return Annotated[kind, typer.Option(option, help=text, metavar=metavar, rich_help_panel=panel, show_default=False)]


def _parameter(name: str, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)


def _parameters() -> list[inspect.Parameter]:
    scope = [
        _parameter(
            "scope_instance",
            Annotated[
                list[str] | None,
                typer.Option(
                    "--instance", help="Instance ID (all its nodes); repeat", metavar="ID", rich_help_panel=_SCOPE_PANEL
                ),
            ],
        ),
        _parameter(
            "scope_node",
            Annotated[
                list[str] | None,
                typer.Option("--node", help="Node ID; repeat", metavar="ID", rich_help_panel=_SCOPE_PANEL),
            ],
        ),
        _parameter(
            "scope_project",
            Annotated[
                str | None,
                typer.Option(
                    "--project",
                    metavar="ID",
                    help="Project ID, for every instance of it (default: the project of --instance/--node, "
                    "or the only project)",
                    rich_help_panel=_SCOPE_PANEL,
                ),
            ],
        ),
    ]
    criteria = [
        _parameter(_param_name(flag, exclude=exclude), _annotation(flag, exclude=exclude))
        for exclude in (False, True)
        for flag in CRITERIA_FLAGS
    ]
    return scope + criteria


SELECTOR_PARAMETERS = _parameters()


def build(values: dict[str, Any]) -> SelectorFlags:
    """SelectorFlags from the parameters' values; ``typer.BadParameter`` (exit 2) naming the flag."""
    scope = _scope(values.get("scope_instance"), values.get("scope_node"))
    match = _criteria(values, exclude=False)
    exclude = _criteria(values, exclude=True)
    return SelectorFlags(values.get("scope_project"), Selector(scope=scope, match=match, exclude=exclude))


def _scope(instances: list[str] | None, nodes: list[str] | None) -> Scope:
    for option, ids, key in (("--instance", instances, "instance_ids"), ("--node", nodes, "node_ids")):
        try:
            parse_scope({key: ids or []})
        except InvalidParameter as exc:
            raise typer.BadParameter(_reason(exc, ids or []), param_hint=f"'{option}'") from None
    return Scope(instance_ids=tuple(dict.fromkeys(instances or ())), node_ids=tuple(dict.fromkeys(nodes or ())))


def _criteria(values: dict[str, Any], *, exclude: bool) -> Criteria:
    document: dict[str, Any] = {}
    for flag in CRITERIA_FLAGS:
        raw = values.get(_param_name(flag, exclude=exclude))
        if raw is None or raw == []:
            continue
        option = _option_name(flag, exclude=exclude)
        value = parse_duration(raw, option) if flag.kind == _DURATION_KIND else raw
        try:
            parse_criteria({flag.field: value})  # one field at a time: the error names this flag
        except InvalidParameter as exc:
            raise typer.BadParameter(_reason(exc, value), param_hint=f"'{option}'") from None
        document[flag.field] = value
    try:
        return parse_criteria(document)
    except InvalidParameter:  # only the pair can be wrong now: more minimum age than maximum
        over, under = ("--exclude-age-over", "--exclude-age-under") if exclude else ("--age-over", "--age-under")
        raise typer.BadParameter(f"must not exceed {under}", param_hint=f"'{over}'") from None


def _reason(exc: InvalidParameter, value: Any) -> str:
    """The parser's message without its JSON path: ``'a b' is not a valid glob (...)``."""
    path = re.match(r"Invalid parameter: (\S+) ", exc.message)
    rest = exc.message[path.end() :] if path else exc.message
    index = re.search(r"\[([0-9]+)\]$", path[1]) if path else None
    shown = value[int(index[1])] if index and isinstance(value, list) else value
    return f"{shown!r} {rest}"


def with_selector_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``command`` (which takes ``flags: SelectorFlags``) every selector flag, parsed."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for p in signature.parameters.values() if p.name != "flags"]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        values = {p.name: kwargs.pop(p.name, None) for p in SELECTOR_PARAMETERS}
        return command(**kwargs, flags=build(values))

    wrapper.__signature__ = signature.replace(parameters=[*own, *SELECTOR_PARAMETERS])  # type: ignore[attr-defined]
    return wrapper
