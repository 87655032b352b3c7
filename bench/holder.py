"""A process that holds idle client sessions open, as real clients would, until told to let go.

Usage (from ``bench.harness.Holder``): a JSON list of ``[host, port, count, user, password]`` on the
first line of stdin; prints ``ready`` once every session is authenticated; closes everything and
exits at the next line (or EOF). A separate process, so that tens of thousands of sessions fit
under the per-process file limit and cost the benchmark process nothing.
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
        if password:
            auth = hiredis.pack_command(("AUTH", *((user,) if user else ()), password))
            for s in opened:
                s.sendall(auth)
            for s in opened:
                if not s.recv(64).startswith(b"+OK"):
                    raise SystemExit(f"AUTH refused by {host}:{port}")
        held += opened
    print("ready", flush=True)
    sys.stdin.readline()
    for s in held:
        s.close()


if __name__ == "__main__":
    main()
