"""``tests.tcp_table``: a line the kernel repeats counts once, and a count is taken when two readings agree.

Read while connections churn (another test worker), /proc/net/tcp repeated lines in half the readings:
the pure parts are checked on a table with such a repeat, the fields against the kernel's own table.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

from tests.tcp_table import ESTABLISHED, LISTEN, TcpSocket, held_on_port, parse, steady, tcp_sockets

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
LISTENING = "0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4356 1 0"
CONNECTED = "1: 0100007F:810B 0100007F:BF72 01 00000000:00000005 00:00000000 00000000     0        0 9120 1 0"
TIME_WAIT = "2: 0100007F:810B 0100007F:BF73 06 00000000:00000000 03:0000089E 00000000     0        0 0 3 0"


def test_a_line_repeated_by_the_kernel_counts_once_and_time_wait_not_at_all():
    table = "\n".join([HEADER, LISTENING, CONNECTED, TIME_WAIT, CONNECTED]) + "\n"
    assert parse(table) == {
        "4356": TcpSocket(inode="4356", local_port=0x18EB, remote_port=0, state=LISTEN, unread=0),
        "9120": TcpSocket(inode="9120", local_port=0x810B, remote_port=0xBF72, state=ESTABLISHED, unread=5),
    }


def test_a_reading_is_taken_once_two_in_a_row_agree():
    assert steady(readings([42, 40, 41, 41, 40])) == 41
    assert steady(readings([40, 40, 42])) == 40
    never_steady = steady(readings(list(range(1000))))
    assert 0 < never_steady < 1000  # it gives up (the last reading it took), rather than read forever


def test_the_kernels_own_table_reads_as_the_sockets_are():
    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname()) as client:
        accepted, _ = server.accept()
        with accepted:
            client.sendall(b"hello")
            port = server.getsockname()[1]
            ours = tcp_sockets(os.getpid())
            by_port = {(s.local_port, s.remote_port): s for s in ours.values()}
            client_port = client.getsockname()[1]
            assert by_port[(port, 0)].state == LISTEN
            assert by_port[(client_port, port)].state == ESTABLISHED
            assert by_port[(port, client_port)].unread == 5  # sent, not read yet
            assert held_on_port(os.getpid(), port, ESTABLISHED) == {by_port[(port, client_port)].inode}
            assert held_on_port(os.getpid(), port, LISTEN) == {by_port[(port, 0)].inode}


def readings(values: list[int]):
    it: Iterator[int] = iter(values)
    return lambda: next(it)
