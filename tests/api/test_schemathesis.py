"""Schemathesis over the service's own OpenAPI document: no request answers 5xx, every error is Huawei's envelope.

The schemathesis CLI runs in a subprocess against the live service (its examples, coverage and fuzzing
phases), every request with a valid admin token; path parameters are half of the time the tenant's real
project, instance and node (a real redis-server). Examples per operation are bounded and the seed fixed:
the same requests every run. Checks: ``not_a_server_error`` and ``huawei_error_envelope``; see
``schemathesis_hooks.py`` for the generation hooks and the known defects set aside.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sessionplane import admin
from sessionplane.demo.servers import LocalCluster
from sessionplane.inventory.records import NodeSpec
from tests.api.schemathesis_hooks import KNOWN_DEFECTS

EXAMPLES_PER_OPERATION = 50
ROOT = Path(__file__).resolve().parents[2]


def test_no_5xx_and_every_error_is_the_huawei_envelope(service, tenant, admin_token, tmp_path):
    seen = tmp_path / "known-defects-seen"
    seen.touch()
    with LocalCluster() as cluster:
        server = cluster.start_server()
        spec = NodeSpec(host=server.host, port=server.port)
        inventory = service.services.inventory
        instance = service.call(
            admin.adopt_instance(inventory, project_id=tenant.project_id, name="fuzzed", nodes=[spec])
        )
        ids = {"project_id": tenant.project_id, "instance_id": instance.id, "node_id": instance.nodes[0].id}
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
            "SESSIONPLANE_FUZZ_IDS": json.dumps(ids),
            "SESSIONPLANE_FUZZ_KNOWN_SEEN": str(seen),
            "NO_COLOR": "1",
        }
        command = [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{service.url}/openapi.json",
            f"--header=X-Auth-Token: {admin_token}",
            "--checks=not_a_server_error,huawei_error_envelope",
            "--phases=examples,coverage,fuzzing",
            f"--max-examples={EXAMPLES_PER_OPERATION}",
            "--seed=20261124",
            "--workers=1",
            "--continue-on-failure",
            f"--report-dir={tmp_path}",
        ]
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)

    assert result.returncode == 0, result.stdout[-25000:] + result.stderr[-5000:]
    no_longer = {name: why for name, why in KNOWN_DEFECTS.items() if name not in seen.read_text().split()}
    assert not no_longer, f"known defects that no longer reproduce: remove them from KNOWN_DEFECTS: {no_longer}"
