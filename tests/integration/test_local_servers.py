"""Local test and demo servers: a start never goes on with another process's server on its port.

``free_port`` can hand one port to two starters at once (the suite's parallel workers). The one
that loses the bind used to find the other's server answering PING and go on with it, listing and
closing that server's clients.
"""

from __future__ import annotations

import pytest

from sessionplane.demo import servers
from sessionplane.demo.servers import LocalCluster, PortTaken, RedisServer


def _own_pid(server: RedisServer) -> int:
    with server.client() as client:
        return client.info("server")["process_id"]


def test_a_server_whose_port_is_taken_refuses_to_start_and_leaves_the_other_alone(tmp_path):
    with LocalCluster() as cluster:
        other = cluster.start_server()
        late = RedisServer(port=other.port, workdir=tmp_path)
        with pytest.raises(PortTaken):
            late.start()
        assert late.process is None or late.process.poll() is not None
        assert _own_pid(other) == other.process.pid  # the first server still answers, and is the first


def test_a_cluster_start_takes_another_port_when_its_free_port_is_taken(monkeypatch):
    with LocalCluster() as first, LocalCluster() as second:
        taken = first.start_server()
        ports = iter([taken.port])
        real_free_port = servers.free_port
        monkeypatch.setattr(servers, "free_port", lambda: next(ports, None) or real_free_port())
        started = second.start_server()
        assert started.port != taken.port
        assert _own_pid(started) == started.process.pid and _own_pid(taken) == taken.process.pid
        assert second.servers == [started]
