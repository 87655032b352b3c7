"""The bench's nodes (``bench.harness.cluster_of``): a group's nodes live only while the group runs.

Nodes left running beside later groups took a tenth of `--workers 2`'s rate and were counted in the
one-node cases' CPU figures (README, Performance): a group's nodes must stop, and leave the CPU
meter, when the group is done, whether it finished or failed. A group's `serve`
(``bench.harness.start_deployment``) takes its store and keyring with it, unless the group failed.
"""

from __future__ import annotations

import os
import shutil

import pytest
import redis

from bench.cpu import METER
from bench.harness import APP_PASSWORD, APP_USER, cluster_of, start_deployment


def _gone(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}")


def test_a_group_s_nodes_run_with_the_bench_users_and_are_counted_while_the_group_runs():
    with cluster_of(2) as servers:
        pids = {server.process.pid for server in servers if server.process}
        assert len(pids) == 2 and pids <= METER.nodes
        for server in servers:
            with redis.Redis(host=server.host, port=server.port, username=APP_USER, password=APP_PASSWORD) as client:
                assert client.ping()  # the clients' ACL user, as the bench's session holders log in
    assert not pids & METER.nodes
    assert all(_gone(pid) for pid in pids)


def test_a_group_that_fails_still_stops_its_nodes_and_takes_them_out_of_the_figures():
    with pytest.raises(RuntimeError, match="the group failed"), cluster_of(1) as (server,):
        assert server.process
        pid = server.process.pid
        raise RuntimeError("the group failed")
    assert pid not in METER.nodes
    assert _gone(pid)


def test_a_group_s_serve_takes_its_store_and_keyring_along_unless_the_group_failed():
    with cluster_of(1) as servers:
        with start_deployment({"one": (servers, True)}) as deployment:
            data_dir = deployment.data_dir
            assert (data_dir / "keyring").exists() and (data_dir / "serve.log").exists()
        assert not data_dir.exists()  # no keyring of a finished run is left in the temporary directory

        with (
            pytest.raises(RuntimeError, match="the group failed"),
            start_deployment({"one": (servers, True)}) as failed,
        ):
            raise RuntimeError("the group failed")
        try:
            assert (failed.data_dir / "serve.log").exists()  # kept, to read why
            assert failed.process.poll() is not None
        finally:
            shutil.rmtree(failed.data_dir, ignore_errors=True)
