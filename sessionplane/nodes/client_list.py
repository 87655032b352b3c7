"""Read a ``CLIENT LIST`` reply without parsing it whole.

A node with thousands of clients answers with megabytes, and every question asked of it needs
only a few fields. So the reply stays bytes: a *column* (every line's value of one field, in line
order) is one C-level ``re.findall`` of ``" field=(\\S*)"`` over the whole reply; finding the few
lines that contain a value (a replication flag, a protected name) is a ``find`` loop; and a line
is parsed into a full record only when it is part of an answer. Values never contain spaces
(Redis refuses spaces in client names, library names and versions), so each field occurs once per
line; a reply of any other shape falls back to parsing every line, with the same results.

The client list is not in ID order (Redis rotates it in ``clientsCron``): order comes from IDs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

_ID = re.compile(rb"\nid=(\d+)")
_REPLICATION_FLAG = re.compile(rb" flags=[A-Za-z]*[MS]")


def parse_line(line: str) -> dict[str, str]:
    """General parse of one line; a token without ``=`` continues the previous value (as redis-py does)."""
    fields: dict[str, str] = {}
    last = None
    for token in line.split(" "):
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
        return _int(self.fields.get("idle"))

    @property
    def db(self) -> str:
        return self.fields.get("db", "0")

    @property
    def multi(self) -> str:
        return self.fields.get("multi", "-1")


class ClientList:
    """One CLIENT LIST reply, with lines, IDs and columns computed on demand."""

    def __init__(self, reply: bytes | str) -> None:
        self.reply = reply.encode() if isinstance(reply, str) else reply

    @cached_property
    def lines(self) -> list[bytes]:
        lines = self.reply.split(b"\n")
        if lines and not lines[-1].strip():
            lines.pop()
        return [line.rstrip(b"\r") for line in lines]

    def __len__(self) -> int:
        return len(self.lines)

    @cached_property
    def _regular(self) -> bool:
        """Every line starts with ``id=`` (the shape every Redis and Valkey version has)."""
        return len(self._ids_found) == len(self.lines)

    @cached_property
    def _ids_found(self) -> list[bytes]:
        return _ID.findall(b"\n" + self.reply)

    @cached_property
    def ids(self) -> list[int]:
        """Client IDs in line order."""
        if self._regular:
            return list(map(int, self._ids_found))
        return [int(f.get("id", "0") or 0) for f in self._parsed]

    @cached_property
    def _parsed(self) -> list[dict[str, str]]:
        return [parse_line(line.decode("utf-8", "replace")) for line in self.lines]

    def column(self, field: str) -> list[str]:
        """Every line's value of ``field`` ("" where a line has none), in line order."""
        cached = self._columns.get(field)
        if cached is None:
            cached = self._columns[field] = self._column(field)
        return cached

    @cached_property
    def _columns(self) -> dict[str, list[str]]:
        return {}

    def _column(self, field: str) -> list[str]:
        if field == "id":
            return [str(i) for i in self.ids]
        if self._regular:
            found = re.findall(rb" " + re.escape(field.encode()) + rb"=(\S*)", self.reply)
            if len(found) == len(self.lines):
                return [v.decode("utf-8", "replace") for v in found]
        return [f.get(field, "") for f in self._parsed]

    def client(self, i: int) -> Client:
        return Client(parse_line(self.lines[i].decode("utf-8", "replace")))

    # -- the few lines a question is about -----------------------------------------------------

    def ids_with_replication_flag(self) -> set[int]:
        """Replication links: flags containing ``M`` (link to our master) or ``S`` (a replica's link)."""
        if not self._regular:
            return {self.ids[i] for i, f in enumerate(self._parsed) if set("MS") & set(f.get("flags", ""))}
        return {self._id_at(m.start()) for m in _REPLICATION_FLAG.finditer(self.reply)}

    def ids_with_value(self, field: str, values: Iterable[str]) -> set[int]:
        """IDs of the lines whose ``field`` is exactly one of ``values``."""
        wanted = {v for v in values if v}
        if not wanted:
            return set()
        if not self._regular:
            return {self.ids[i] for i, f in enumerate(self._parsed) if f.get(field, "") in wanted}
        found: set[int] = set()
        for value in wanted:
            token = f" {field}={value}".encode()
            at = self.reply.find(token)
            while at != -1:
                end = at + len(token)
                if end == len(self.reply) or self.reply[end] in b" \r\n":  # the whole value, not a prefix
                    found.add(self._id_at(at))
                at = self.reply.find(token, end)
        return found

    def _id_at(self, position: int) -> int:
        start = self.reply.rfind(b"\n", 0, position) + 1
        end = self.reply.find(b" ", start)
        return int(self.reply[start + 3 : end])


def parse_client_list(reply: bytes | str) -> list[Client]:
    listing = ClientList(reply)
    return [listing.client(i) for i in range(len(listing))]


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
