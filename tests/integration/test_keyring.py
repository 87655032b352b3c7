"""Key rotation: a node with a password stays reachable through the API, and a failed rotation loses nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sessionplane.demo.servers import LocalCluster
from sessionplane.keyring import Keyring
from sessionplane.private_files import write_atomically
from tests.processes import ServeProcess, cli, invoke, sign_in
from tests.support import RawSession

NODE_PASSWORD = "n0de-Secret-pass"
ADMIN_PASSWORD = "Adm1n-password"


@pytest.fixture
def passworded() -> LocalCluster:
    with LocalCluster(password=NODE_PASSWORD) as cluster:
        yield cluster


def adopt(data_dir: Path, server) -> tuple[str, str]:
    invoke(data_dir, "user", "add", "root", "--domain", "acme", "--admin", "--password-stdin", stdin=ADMIN_PASSWORD)
    project = invoke(data_dir, "project", "add", "p1", "--domain", "acme").stdout.strip()
    instance = invoke(
        data_dir,
        "instance",
        "add",
        "cache",
        "--project",
        project,
        "--node",
        f"{server.host}:{server.port}",
        "--node-password-stdin",
        stdin=NODE_PASSWORD + "\n",
    ).stdout.strip()
    return project, instance


def node_sessions(url: str, token: str, project: str, node_id: str) -> list[str]:
    response = httpx.get(f"{url}/v3/{project}/redis/nodes/{node_id}/sessions", headers={"X-Auth-Token": token})
    assert response.status_code == 200, response.text
    return [s["name"] for s in response.json()["sessions"]]


def test_rotation_keeps_a_passworded_node_reachable_while_serving_and_after_a_restart(tmp_path, passworded):
    server = passworded.start_server()
    data_dir = tmp_path / "data"
    project, instance = adopt(data_dir, server)
    shown = invoke(data_dir, "instance", "show", instance, "--json").stdout
    node_id = json.loads(shown)["nodes"][0]["id"]
    app = RawSession(server, name="app-before")
    stored_before = _stored_node_secret(data_dir)
    try:
        with ServeProcess(data_dir, tmp_path / "serve.log") as serve:
            before = sign_in(serve.url, domain="acme", name="root", password=ADMIN_PASSWORD, project_id=project)
            assert "app-before" in node_sessions(serve.url, before, project, node_id)

            rotated = cli(data_dir, "keys", "rotate")
            assert "re-encrypted 1 secrets" in rotated.stdout  # the node's password
            assert _stored_node_secret(data_dir) != stored_before
            assert len((data_dir / "keyring").read_text().split()) == 2

            # the running server follows the keyring: the node's password, re-encrypted under the new key,
            # still opens the node; the token issued before the rotation still works, and so does a new one
            assert "app-before" in node_sessions(serve.url, before, project, node_id)
            after = sign_in(serve.url, domain="acme", name="root", password=ADMIN_PASSWORD, project_id=project)
            assert "app-before" in node_sessions(serve.url, after, project, node_id)

        with ServeProcess(data_dir, tmp_path / "serve.log") as restarted:
            assert "app-before" in node_sessions(restarted.url, before, project, node_id)
            assert "app-before" in node_sessions(restarted.url, after, project, node_id)
    finally:
        app.close()


def _stored_node_secret(data_dir: Path) -> str:
    with sqlite3.connect(data_dir / "sessionplane.db") as db:
        (secret,) = db.execute("SELECT password_encrypted FROM nodes").fetchone()
    assert NODE_PASSWORD not in secret
    return secret


def _unmeasured(env: dict[str, str]) -> dict[str, str]:
    """The environment without coverage's subprocess measurement (``make test`` runs with ``--cov``).

    The file-size limit holds for every file the process writes: coverage's own data file at exit
    would fail under it and print its traceback into the output this test reads.
    """
    return {key: value for key, value in env.items() if not key.startswith("COVERAGE_")}


def test_a_rotation_that_fails_mid_write_leaves_the_keyring_whole(tmp_path, passworded):
    """The write is cut short by a real limit (RLIMIT_FSIZE: the disk-full of one process), not a mock."""
    server = passworded.start_server()
    data_dir = tmp_path / "data"
    project, instance = adopt(data_dir, server)
    keyring_before = (data_dir / "keyring").read_bytes()
    limit = len(keyring_before) + 10  # room for the new key's line, not for the old one after it
    limited = (
        "import resource, sys, runpy;"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}));"
        "sys.argv = ['sessionplane', 'keys', 'rotate'];"
        "runpy.run_module('sessionplane', run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", limited],
        capture_output=True,
        text=True,
        env=_unmeasured({**os.environ, "SESSIONPLANE_DATA_DIR": str(data_dir), "PYTHONDONTWRITEBYTECODE": "1"}),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "the keyring was not rotated" in result.stderr and "Traceback" not in result.stderr
    assert (data_dir / "keyring").read_bytes() == keyring_before
    assert not [p.name for p in data_dir.iterdir() if p.name.endswith(".tmp")]  # no half-written leftovers

    listed = invoke(data_dir, "sessions", "list", "--instance", instance, "--json").stdout  # the node still opens
    assert json.loads(listed)[0]["total_count"] >= 0
    assert project


def test_a_loaded_keyring_follows_a_rotation_made_by_another_process(tmp_path):
    path = tmp_path / "keyring"
    serving = Keyring.load_or_create(path)
    old_secret = serving.encrypt("old")
    rotating = Keyring.rotate_file(path)  # as `keys rotate` does, from its own process
    new_secret = rotating.encrypt("new")
    assert serving.decrypt(new_secret) == "new"  # reloaded at once when a ciphertext does not decrypt
    assert serving.decrypt(old_secret) == "old"
    assert rotating.decrypt(old_secret) == "old"


def test_creating_a_file_never_replaces_one_made_meanwhile(tmp_path):
    """How two processes starting at once agree on one keyring: the loser's link fails, it reads the winner's."""
    path = tmp_path / "keyring"
    write_atomically(path, b"first\n", replace=False)
    with pytest.raises(FileExistsError):
        write_atomically(path, b"second\n", replace=False)
    assert path.read_bytes() == b"first\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keyring"]
