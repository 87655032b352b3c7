"""`make run` tells the operator where the console is."""

from __future__ import annotations

import pytest

from sessionplane.demo.instructions import print_instructions
from sessionplane.demo.run import DemoState


def test_the_demo_prints_the_console_address(capsys: pytest.CaptureFixture[str]) -> None:
    state = DemoState(
        endpoint="http://127.0.0.1:8600",
        region="local-1",
        project_id="0" * 32,
        instance_id="1" * 32 + "in12",
        nodes=[{"id": "2" * 32 + "no12", "host": "127.0.0.1", "port": 7000, "password": "node-pw"}],
        user={"domain": "demo", "name": "demo-admin", "password": "admin-pw"},
        readonly_user={"domain": "demo", "name": "demo-reader", "password": "reader-pw"},
        ak="AK",
        sk="SK",
        data_dir="/tmp/demo",
    )

    print_instructions(state)

    assert "console      http://127.0.0.1:8600/console/" in capsys.readouterr().out
