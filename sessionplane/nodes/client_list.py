"""Parse a ``CLIENT LIST`` reply, fast.

A node with thousands of clients answers with megabytes, and listing the first page must cost less
than redis-py's ``client_list()``, which builds a dict of ~30 fields for every client. So the reply
is *indexed*, not parsed: one C-level regex pass finds where each line starts and its ID (every
line starts with ``id=``), further passes find the few lines a question is about (replication
flags, a client name, an ACL user, an address prefix), and only the lines that end up in an
answer are parsed into ``Client`` records. A reply of another shape falls back to parsing every
line, so correctness never depends on the shortcut.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate

# Searched as "\nid=" over "\n" + reply: a literal prefix the regex engine scans for quickly (a
# MULTILINE "^id=" is four times slower on large replies).
_LINE_ID = re.compile(r"\nid=(\d+)")


@dataclass(frozen=True, slots=True)
class Client:
    id: int
    addr: str
    name: str
    idle: int
    flags: str
    db: str
    user: str
    multi: str
    line: str

    def fields(self) -> dict[str, str]:
        return parse_line(self.line)

    @property
    def ip(self) -> str:
        """The address without its port; IPv6 kept whole, unix sockets as reported."""
        host, sep, _port = self.addr.rpartition(":")
        return host if sep else self.addr


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


def client_from_line(line: str) -> Client:
    f = parse_line(line)
    return Client(
        id=int(f["id"]),
        addr=f.get("addr", ""),
        name=f.get("name", ""),
        idle=int(f.get("idle", "0") or 0),
        flags=f.get("flags", ""),
        db=f.get("db", "0"),
        user=f.get("user", ""),
        multi=f.get("multi", "-1"),
        line=line,
    )


class ClientIndex:
    """One CLIENT LIST reply: line positions and IDs up front, everything else on demand."""

    def __init__(self, reply: bytes | str) -> None:
        self.text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        self.lines = self.text.split("\n")
        if self.lines and not self.lines[-1].strip():
            self.lines.pop()
        self.ids = [int(client_id) for client_id in _LINE_ID.findall("\n" + self.text)]
        self.indexed = len(self.ids) == len(self.lines)
        if not self.indexed:  # not the shape we know: parse everything, keep the same interface
            self._parsed = [client_from_line(line.rstrip("\r")) for line in self.lines if line.strip()]
            self.ids = [c.id for c in self._parsed]

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def _starts(self) -> list[int]:
        return list(accumulate(map(len, self.lines), lambda at, length: at + length + 1, initial=0))

    def line(self, i: int) -> str:
        return self.lines[i].rstrip("\r")

    def client(self, i: int) -> Client:
        return client_from_line(self.line(i)) if self.indexed else self._parsed[i]

    @cached_property
    def clients(self) -> list[Client]:
        return [self.client(i) for i in range(len(self))]

    def _lines_where(self, pattern: str) -> set[int]:
        """Indices of the lines in which ``pattern`` matches (indexed replies only)."""
        return {bisect_right(self._starts, m.start()) - 1 for m in re.finditer(pattern, self.text)}

    def lines_with_flag(self, flags: str) -> set[int]:
        if not self.indexed:
            return {i for i, c in enumerate(self._parsed) if not set(flags).isdisjoint(c.flags)}
        return self._lines_where(rf" flags=[^ \n]*[{re.escape(flags)}]")

    def lines_with_name(self, names: Iterable[str]) -> set[int]:
        return self._lines_with_field("name", frozenset(names))

    def lines_with_user(self, users: Iterable[str]) -> set[int]:
        return self._lines_with_field("user", frozenset(users))

    def _lines_with_field(self, field: str, values: frozenset[str]) -> set[int]:
        values = values - {""}
        if not values:
            return set()
        if not self.indexed:
            return {i for i, c in enumerate(self._parsed) if getattr(c, field) in values}
        alternatives = "|".join(re.escape(v) for v in sorted(values))
        return self._lines_where(rf" {field}=(?:{alternatives})(?=[ \r\n]|$)")

    def lines_with_addr_prefix(self, prefix: str) -> set[int]:
        if not self.indexed:
            return {i for i, c in enumerate(self._parsed) if c.addr.startswith(prefix)}
        return self._lines_where(rf" addr={re.escape(prefix)}")


def parse_client_list(reply: bytes | str) -> list[Client]:
    return ClientIndex(reply).clients
