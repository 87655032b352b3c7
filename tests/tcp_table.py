"""TCP sockets as Linux lists them (/proc/<pid>/net/tcp, tcp6), read so that churn elsewhere cannot skew a count.

The kernel writes those tables a page (4 KiB, about 27 lines) at a time and finds where to resume by
hash bucket and offset: a connection opened or closed meanwhile anywhere in the network namespace
(another test worker's clients) shifts a bucket, and the next page repeats a line or
leaves one out. Most likely, that is how a CI run counted 42 sockets to 40 nodes (the server's own
gauge said 40); a read of the table while connections churn showed a repeated line in half the
reads. Hence sockets keyed by inode, and ``steady`` readings: a reading taken again until two in a
row agree (``ss`` and psutil read the same tables the same way).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
ESTABLISHED = "01"
LISTEN = "0A"
_READINGS = 20


@dataclass(frozen=True)
class TcpSocket:
    inode: str
    local_port: int
    remote_port: int
    state: str  # as the kernel writes it: ESTABLISHED, LISTEN, ...
    unread: int  # bytes received and not read yet (the rx queue)


def steady(read: Callable[[], T]) -> T:
    """``read()`` once two readings in a row agree (the last one if they never do: the caller's check shows it)."""
    last = read()
    for _ in range(_READINGS):
        now = read()
        if now == last:
            return now
        last = now
    return last


def tcp_sockets(pid: int | None = None) -> dict[str, TcpSocket]:
    """One reading, by inode: the sockets that ``pid`` holds, or every socket with one (not TIME_WAIT) if None."""
    held = _held_inodes(pid) if pid is not None else None
    found: dict[str, TcpSocket] = {}
    for table in ("tcp", "tcp6"):
        found |= parse(Path(f"/proc/{pid or 'self'}/net/{table}").read_text())
    return found if held is None else {inode: s for inode, s in found.items() if inode in held}


def parse(table: str) -> dict[str, TcpSocket]:
    """The sockets of one table's text by inode, a line repeated counting once; TIME_WAIT ones (inode 0) left out."""
    found: dict[str, TcpSocket] = {}
    for line in table.splitlines()[1:]:
        fields = line.split()
        if fields[9] != "0":
            found[fields[9]] = TcpSocket(
                inode=fields[9],
                local_port=_port(fields[1]),
                remote_port=_port(fields[2]),
                state=fields[3],
                unread=int(fields[4].split(":")[1], 16),
            )
    return found


def held_on_port(pid: int, port: int, state: str) -> set[str]:
    """A steady reading of the inodes of the sockets on local ``port`` in ``state`` that ``pid`` holds."""
    return steady(lambda: {s.inode for s in tcp_sockets(pid).values() if s.state == state and s.local_port == port})


def _held_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)
