"""A process that holds idle client sessions open, as real clients would, until told to let go.

Usage (from ``bench.harness.Holder``): a JSON list of ``[host, port, count, user, password]`` on the
first line of stdin; prints ``ready`` once every session has answered (AUTH, or PING without a
password); closes everything and exits at the next line (or EOF). A separate process, so that tens
of thousands of sessions fit under the per-process file limit and cost the benchmark process nothing.
"""

from __future__ import annotations

import json
import resource
import socket
import sys

import hiredis


def main() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held: list[socket.socket] = []
    for host, port, count, user, password in json.loads(sys.stdin.readline()):
        opened = [socket.create_connection((host, port)) for _ in range(count)]
        # Every session answers once before "ready": a connection the kernel has set up may still wait in
        # the node's accept queue, where no CLIENT LIST shows it (and no close can find it) yet.
        hello = hiredis.pack_command(("AUTH", *((user,) if user else ()), password) if password else ("PING",))
        for s in opened:
            s.sendall(hello)
        for s in opened:
            if not s.recv(64).startswith(b"+OK" if password else b"+PONG"):
                raise SystemExit(f"{host}:{port} refused a session")
        held += opened
    print("ready", flush=True)
    sys.stdin.readline()
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
