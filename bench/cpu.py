"""Where a round's CPU went: the bench's own client, the `sessionplane serve` process and the nodes.

On a host where the nodes, the server and the client share the cores, a round cannot finish in
less than their CPU time together over the cores: a wall-time ratio then says as much about the
machine as about the server. These figures let a reader of the bench tell which it is.

Read from the scheduler's own accounting (``/proc/<pid>/task/*/schedstat``: nanoseconds on a CPU,
every thread of the process), not from ``/proc/<pid>/stat``, whose ticks of 10 ms are as coarse as
a whole close. Read before and after the timed part of a round, so reading costs the timing nothing.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CpuSpent:
    """Seconds of CPU in one round: the bench process (the baselines' client and the API's HTTP client),
    the server, and every node together."""

    client: float
    server: float
    nodes: float

    def __sub__(self, earlier: CpuSpent) -> CpuSpent:
        return CpuSpent(self.client - earlier.client, self.server - earlier.server, self.nodes - earlier.nodes)


@dataclass
class CpuMeter:
    """The processes whose CPU a round reads: the servers running (one, in the node and fleet groups) and the nodes."""

    servers: set[int] = field(default_factory=set)
    nodes: set[int] = field(default_factory=set)

    def begin(self) -> CpuSpent:
        """Read before a round: this process's clock last, so that reading /proc is not charged to the round."""
        server, nodes = self._others()
        return CpuSpent(time.process_time(), server, nodes)

    def spent(self, begun: CpuSpent) -> CpuSpent:
        """What the round used since ``begin``: this process's clock first, for the same reason."""
        client = time.process_time()
        return CpuSpent(client, *self._others()) - begun

    def _others(self) -> tuple[float, float]:
        return sum(_process_seconds(pid) for pid in self.servers), sum(_process_seconds(pid) for pid in self.nodes)


def _process_seconds(pid: int) -> float:
    """CPU seconds of the threads of ``pid`` running now (0 for a process gone): the server's threads
    (its store's, its password hashing's) live as long as it does."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return 0.0
    for task in tasks:
        try:
            total += int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended between the listing and the read
    return total / 1e9


METER = CpuMeter()  # the bench's processes: ``cluster_of`` adds the nodes, ``start_deployment`` the server
