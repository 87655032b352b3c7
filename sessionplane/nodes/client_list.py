"""Read a ``CLIENT LIST`` reply without parsing it whole.

A node with thousands of clients answers with megabytes, and every question asked of it needs
only a few fields. So the reply stays bytes: a *column* (every line's value of one field, in line
order) is one C-level ``re.findall`` of ``" field=([^ \\r\\n]*)"`` over the whole reply, and several
columns are one pass where every line has the first line's layout; finding the few lines that
contain a value (a replication flag, a protected name) is a ``find`` loop; and a line is parsed
into a full record only when it is part of an answer. Values never contain spaces (Redis refuses
spaces in client names, library names, versions and ACL user names), so each field occurs once per
line; a reply of any other shape falls back to parsing every line, with the same results.

The client list is not in ID order (Redis rotates it in ``clientsCron``): order comes from IDs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache

_LINE_ID = re.compile(r"\n(?:id=(\d+))?")  # every line break, with the ID the next line starts with ("" if none)
_FIRST_ID = re.compile(r"id=(\d+)")
# One regex pass: its literal-prefix search beats two ``str.find`` loops (0.64 against 1.1 ms for 5,000
# lines, measured), whose needles start with a space, which the reply is full of.
_REPLICATION_FLAGS = re.compile(" flags=[SM]")
# The address up to its port's colon: an IPv6 address in its brackets, else up to the first colon (an
# IPv4 address, a unix socket's path). No greedy run to back off (a quarter of the column's cost). A line
# it reads otherwise than ``ip_of`` (a path with a colon in it) has no digits-and-space after the colon,
# so the column finds fewer values than lines and falls back to ``ip_of`` per line.
_IP_VALUE = r"(\[[^\] \n]*\]|[^ \n:]*):\d+"
_IP = re.compile(f" addr={_IP_VALUE} ")


def parse_line(line: str) -> dict[str, str]:
    """General parse of one line; a token without ``=`` continues the previous value (as redis-py does)."""
    tokens = line.split(" ")
    try:
        return dict(token.split("=", 1) for token in tokens)  # type: ignore[misc]  # every real line
    except ValueError:  # a token without "=": a value with a space in it
        return _parse_tokens(tokens)


MAX_LAYOUT_FIELDS = 64


@lru_cache(maxsize=32)
def _layout_pattern(keys: tuple[str, ...]) -> re.Pattern[str]:
    """One line of exactly these fields, in this order, each value free of spaces, as one pattern.

    A node writes every line of a reply with the same fields in the same order, so one C-level match per
    line reads all its values (half the time of ``parse_line``, measured on 100 lines of Redis 7.0); a
    line of any other shape does not match and is parsed by ``parse_line``, with the same result.
    """
    return re.compile(" ".join(f"{re.escape(key)}=(\\S*)" for key in keys))


@lru_cache(maxsize=32)
def _columns_pattern(keys: tuple[str, ...], fields: tuple[str, ...]) -> tuple[re.Pattern[str], tuple[str, ...]] | None:
    """``fields`` of a line of this layout in one pattern: every field up to the last one wanted, each wanted
    value captured; and the fields its groups capture, in layout order (``ip`` is the address up to its port,
    as ``_IP`` reads it). Fields the layout lacks are left out: no line of this layout has them.

    None where a pass is not worth it or could not be exact: fewer than two fields to read, a layout that
    repeats a field, or ``ip`` beside ``addr``. Values are read up to the next space (one excluded character:
    several times cheaper than a class of them), and the pattern ends with one, so a line whose last field
    is wanted, or a line of another shape, finds no match of its own, which the caller sees in the count.
    """
    wanted = {"addr" if field == "ip" else field for field in fields} & set(keys)
    if len(wanted) < 2 or {"ip", "addr"} <= set(fields) or len(set(keys)) != len(keys):
        return None
    last = max(keys.index(key) for key in wanted)
    parts: list[str] = []
    captured: list[str] = []
    for key in keys[: last + 1]:
        if key not in wanted:
            parts.append(f"{re.escape(key)}=[^ ]*")
        elif key == "addr" and "ip" in fields:
            parts.append(f"addr={_IP_VALUE}")
            captured.append("ip")
        else:
            parts.append(f"{re.escape(key)}=([^ ]*)")
            captured.append(key)
    return re.compile(" ".join(parts) + " "), tuple(captured)


def _parse_tokens(tokens: list[str]) -> dict[str, str]:
    fields: dict[str, str] = {}
    last = None
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep:
            fields[key] = value
            last = key
        elif last is not None:
            fields[last] += " " + token
    return fields


def ip_of(addr: str) -> str:
    """The address without its port; IPv6 without brackets; unix sockets as reported."""
    host, sep, _port = addr.rpartition(":")
    if not sep:
        return addr
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


@dataclass(frozen=True, slots=True)
class Client:
    """One fully parsed line: every field the node reports, as strings."""

    fields: dict[str, str]

    @property
    def id(self) -> int:
        return int(self.fields["id"])

    @property
    def addr(self) -> str:
        return self.fields.get("addr", "")

    @property
    def ip(self) -> str:
        return ip_of(self.addr)

    @property
    def name(self) -> str:
        return self.fields.get("name", "")

    @property
    def user(self) -> str:
        return self.fields.get("user", "")

    @property
    def flags(self) -> str:
        return self.fields.get("flags", "")

    @property
    def idle(self) -> int:
        return int_or_zero(self.fields.get("idle"))

    @property
    def db(self) -> str:
        return self.fields.get("db", "0")

    @property
    def multi(self) -> str:
        return self.fields.get("multi", "-1")


class ClientList:
    """One CLIENT LIST reply, with lines, IDs and columns computed on demand."""

    def __init__(self, reply: bytes | str, *, links_excluded: bool = False, pubsub_tail: int | None = None) -> None:
        # Decoded once (a fraction of a millisecond for megabytes): columns then come out as str.
        self.text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        self.links_excluded = links_excluded  # the node left out replication links (CLIENT LIST TYPE)
        self._pubsub_tail = pubsub_tail  # the last lines are the node's pub/sub clients, this many (TYPE pubsub)

    @cached_property
    def lines(self) -> list[str]:
        lines = self.text.split("\n")
        if lines and not lines[-1].strip():
            lines.pop()
        # No server writes "\r\n" inside a reply; a C scan for one spares a pass over every line.
        return [line.rstrip("\r") for line in lines] if "\r" in self.text else lines

    def __len__(self) -> int:
        """``len(self.lines)`` without splitting the reply (thousands of strings a count does not need)."""
        return len(self._ids_found)

    @cached_property
    def _regular(self) -> bool:
        """Every line starts with ``id=`` (the shape every Redis and Valkey version has)."""
        return "" not in self._ids_found

    @cached_property
    def _ids_found(self) -> list[str]:
        """Each line's ID as the reply writes it, "" for a line that starts otherwise: one pass finds the
        lines and their IDs (a count of the line breaks, then a search of the IDs, took a third longer)."""
        text = self.text
        first = _FIRST_ID.match(text)  # apart: ``"\n" + text`` would copy a reply of megabytes
        found = [first.group(1) if first else "", *_LINE_ID.findall(text)]
        if not text[text.rfind("\n") + 1 :].strip():
            found.pop()  # the blank end after the last line break is no line (as in ``lines``)
        return found

    @cached_property
    def ids(self) -> list[int]:
        """Client IDs in line order."""
        if self._regular:
            return list(map(int, self._ids_found))
        return [int(f.get("id", "0") or 0) for f in self._parsed]

    @cached_property
    def _parsed(self) -> list[dict[str, str]]:
        return [parse_line(line) for line in self.lines]

    def column(self, field: str) -> list[str]:
        """Every line's value of ``field`` ("" where a line has none), in line order. ``ip`` is the
        address without its port (``ip_of``), read straight from the reply."""
        cached = self._columns.get(field)
        if cached is None:
            cached = self._columns[field] = self._column(field)
        return cached

    def columns(self, *fields: str) -> list[list[str]]:
        """``column(field)`` of each of ``fields``; those not read yet in one pass over the reply where every
        line has the first line's layout (the five of a statistics call: 7.6 against 15 ms at 5,000 lines, in-process;
        a statistics call of 5,000 sessions took 21 against 27 ms of the server's CPU, end to end)."""
        unread = tuple(f for f in dict.fromkeys(fields) if f not in self._columns and f != "id")
        if len(unread) > 1 and len(self) and self._regular:
            self._columns.update(self._read_together(unread))
        return [self.column(field) for field in fields]

    def _read_together(self, fields: tuple[str, ...]) -> dict[str, list[str]]:
        keys, _ = self._layout
        layout = _columns_pattern(keys, fields)
        found = layout[0].findall(self.text) if layout else []
        if not layout or len(found) != len(self):  # a line of another shape: each column is read on its own
            return {}
        read = dict(zip(layout[1], map(list, zip(*found, strict=True)), strict=True))
        if "ip" in read and "[" in self.text:  # IPv6 addresses out of their brackets, as ``_ip_column``
            read["ip"] = [ip[1:-1] if ip[:1] == "[" else ip for ip in read["ip"]]
        return read

    @cached_property
    def _columns(self) -> dict[str, list[str]]:
        return {}

    def _column(self, field: str) -> list[str]:
        if field == "id":
            return [str(i) for i in self.ids]
        if field == "ip":
            return self._ip_column()
        if self._regular:
            token = f" {field}="
            # Up to the next space or line end, as ``parse_line`` reads a value (``\S`` would stop at a control
            # character that an ACL user name may hold).
            found = re.findall(re.escape(token) + r"([^ \r\n]*)", self.text)
            if len(found) == len(self):
                return found
            if not found and token not in self.text:  # a field this server does not report (lib-name < 7.2)
                return [""] * len(self)
        return [f.get(field, "") for f in self._parsed]

    def _ip_column(self) -> list[str]:
        found = _IP.findall(self.text) if self._regular else []
        if len(found) != len(self):
            return [ip_of(addr) for addr in self.column("addr")]
        if "[" not in self.text:  # no IPv6 address to take out of its brackets (a C scan of the reply)
            return found
        return [ip[1:-1] if ip[:1] == "[" else ip for ip in found]

    def client(self, i: int) -> Client:
        """Line ``i`` parsed, once: the callers that share a listing mostly ask for the same page of it."""
        parsed = self._clients.get(i)
        if parsed is None:
            line = self.lines[i]
            keys, pattern = self._layout
            match = pattern.fullmatch(line) if pattern else None
            parsed = Client(dict(zip(keys, match.groups(), strict=True)) if match else parse_line(line))
            self._clients[i] = parsed
        return parsed

    @cached_property
    def _clients(self) -> dict[int, Client]:
        return {}

    @cached_property
    def _layout(self) -> tuple[tuple[str, ...], re.Pattern[str] | None]:
        """The first line's field names, and the pattern of a line of that layout (``_layout_pattern``)."""
        end = self.text.find("\n")  # the first line alone: a read of columns splits no other
        first = (self.text if end < 0 else self.text[:end]).rstrip("\r")
        keys = tuple(token.partition("=")[0] for token in first.split(" "))
        # Redis and Valkey write 20-30 fields; a line of hundreds is no layout worth compiling.
        return keys, _layout_pattern(keys) if len(keys) <= MAX_LAYOUT_FIELDS else None

    def lines_of(self, client_ids: Iterable[int]) -> list[int]:
        """Line numbers of the given client IDs that are in the list (few IDs: a C-level scan each).

        Scanned as the reply writes them (decimal, as ``str`` gives it) where every line has one: a
        statistics call then converts no line's ID (a third of a millisecond at 5,000 lines).
        """
        ids: list[str] | list[int] = self._ids_found if self._regular else self.ids
        wanted: Iterable[str | int] = map(str, client_ids) if self._regular else client_ids
        found = []
        for client_id in wanted:
            try:
                found.append(ids.index(client_id))
            except ValueError:
                continue
        return found

    def id_of(self, line: int) -> int:
        """One line's client ID (``ids[line]``, without converting every line's)."""
        return int(self._ids_found[line]) if self._regular else self.ids[line]

    def ids_by_type(self, lines: Iterable[int]) -> tuple[list[int], list[int]]:
        """IDs of ``lines``: the normal clients', and the pub/sub clients' (the TYPE a kill must name).

        From the node's own TYPE listings when it gave them (the reply's tail), from the ``P`` flag otherwise.
        """
        lines = list(lines)
        if not lines:  # a close whose users covered everything: no line's ID converted
            return [], []
        ids = self.ids
        if self._pubsub_tail is not None:
            start = len(self) - self._pubsub_tail
            if not self._pubsub_tail:
                return [ids[i] for i in lines], []
            return [ids[i] for i in lines if i < start], [ids[i] for i in lines if i >= start]
        flags = self.column("flags")
        return [ids[i] for i in lines if "P" not in flags[i]], [ids[i] for i in lines if "P" in flags[i]]

    # -- the few lines a question is about -----------------------------------------------------

    def ids_with_replication_flag(self) -> frozenset[int]:
        """Replication links: flags containing ``S`` (a replica's link to us) or ``M`` (our link to a master).

        Redis and Valkey write ``S`` (or ``O`` for MONITOR) first in the flags and ``M`` right after, and
        never both: a search of ``" flags=S"`` or ``" flags=M"`` is exact and many times cheaper than
        reading every line's flags. Kills by ID also name the client's TYPE (``nodes.adapter``), so a
        replication link is never closed even if a server wrote its flags some other way.
        """
        return self._replication_ids

    @cached_property
    def _replication_ids(self) -> frozenset[int]:  # asked for by the protections and again by a close plan
        if self.links_excluded:
            return frozenset()
        if not self._regular:
            return frozenset(self.ids[i] for i, f in enumerate(self._parsed) if set("MS") & set(f.get("flags", "")))
        return frozenset(self._id_at(match.start()) for match in _REPLICATION_FLAGS.finditer(self.text))

    def ids_with_value(self, field: str, values: Iterable[str]) -> set[int]:
        """IDs of the lines whose ``field`` is exactly one of ``values``."""
        wanted = {v for v in values if v}
        if not wanted:
            return set()
        if not self._regular:
            return {self.ids[i] for i, f in enumerate(self._parsed) if f.get(field, "") in wanted}
        column = self._columns.get(field) if field not in ("id", "ip") else None  # those two are not the reply's
        if column is not None:  # read already (a close-all reads the users): a pass over it, not over the reply
            return {self.id_of(i) for i, value in enumerate(column) if value in wanted}
        if len(wanted) == 1:  # the usual case, sessionplane's own ACL user: a str.find pass, about half
            (value,) = wanted  # a regex pass's time (0.41-0.45 against 0.76-1.27 ms, 5,000 lines, measured)
            return {self._id_at(at) for at in self._whole_value_at(f" {field}={value}")}
        # Several: one regex pass for all of them (two str.find passes cost as much, three twice as much).
        alternatives = "|".join(map(re.escape, sorted(wanted)))
        whole_value = re.compile(f" {re.escape(field)}=(?:{alternatives})(?=[ \r\n]|$)")  # not a prefix of one
        return {self._id_at(m.start()) for m in whole_value.finditer(self.text)}

    def _whole_value_at(self, needle: str) -> Iterator[int]:
        """Where ``needle`` (`` field=value``) occurs as a whole value, not as a prefix of a longer one."""
        text, at = self.text, self.text.find(needle)
        while at >= 0:
            after = at + len(needle)
            if after == len(text) or text[after] in " \r\n":
                yield at
            at = text.find(needle, after)

    def _id_at(self, position: int) -> int:
        start = self.text.rfind("\n", 0, position) + 1
        end = self.text.find(" ", start)
        return int(self.text[start + 3 : end])


def parse_client_list(reply: bytes | str) -> list[Client]:
    listing = ClientList(reply)
    return [listing.client(i) for i in range(len(listing))]


def int_or_zero(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
