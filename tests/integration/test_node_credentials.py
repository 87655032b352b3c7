"""Node passwords reach sessionplane without argv, are stored encrypted, and can be changed in place."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import Result

from sessionplane.demo.servers import LocalCluster, RedisServer
from sessionplane.nodes.grants import OWN_USER_RULES
from tests.processes import ServeProcess, invoke, sign_in

NODE_PASSWORD = "n0de-Secret-pass"
NEW_USER, NEW_PASSWORD = "sp", "an0ther-Secret"
ADMIN_PASSWORD = "Adm1n-password"
# What sessionplane needs on a node (the README's list).
SESSIONPLANE_ACL = list(OWN_USER_RULES)


@pytest.fixture
def node() -> Iterator[RedisServer]:
    with LocalCluster(password=NODE_PASSWORD) as cluster:
        yield cluster.start_server()


@pytest.fixture
def store(tmp_path) -> tuple[Path, str]:
    """A data directory with one project."""
    data_dir = tmp_path / "data"
    return data_dir, invoke(data_dir, "project", "add", "p1", "--domain", "acme").stdout.strip()


def add(store: tuple[Path, str], node: RedisServer, *options: str, name: str = "cache", **kwargs) -> Result:
    data_dir, project = store
    return invoke(data_dir, "instance", "add", name, "--project", project, "--node", f"{node.host}:{node.port}",
                  *options, **kwargs)  # fmt: skip


def reachable(data_dir: Path, instance_id: str) -> bool:
    return invoke(data_dir, "sessions", "list", "--instance", instance_id, "--json", code=None).exit_code == 0


def every_stored_byte(data_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in data_dir.iterdir() if p.is_file())


def test_password_from_stdin_is_stored_encrypted_and_never_shown(store, node):
    data_dir, _project = store
    instance = add(store, node, "--node-password-stdin", stdin=NODE_PASSWORD + "\n").stdout.strip()
    assert reachable(data_dir, instance)
    assert NODE_PASSWORD.encode() not in every_stored_byte(data_dir)
    table = invoke(data_dir, "instance", "show", instance).stdout
    shown = invoke(data_dir, "instance", "show", instance, "--json").stdout
    assert NODE_PASSWORD not in table + shown
    assert json.loads(shown)["nodes"][0]["password"] is True


def test_password_file_must_be_private(store, node, tmp_path):
    data_dir, _project = store
    secret = tmp_path / "node-password"
    secret.write_text(NODE_PASSWORD + "\n")
    secret.chmod(0o644)
    refused = add(store, node, "--node-password-file", str(secret), code=2)
    assert "is readable by others (mode 644): chmod 600" in refused.stderr
    assert json.loads(invoke(data_dir, "instance", "list", "--json").stdout) == []

    secret.chmod(0o600)
    assert reachable(data_dir, add(store, node, "--node-password-file", str(secret)).stdout.strip())


def test_password_from_a_prompt(store, node):
    data_dir, _project = store
    added = add(store, node, "--node-password-prompt", stdin=f"{NODE_PASSWORD}\n{NODE_PASSWORD}\n")
    assert NODE_PASSWORD not in added.output  # typed without echo
    assert reachable(data_dir, added.stdout.strip().splitlines()[-1])


def test_password_from_the_environment_and_a_warning_for_one_in_the_url(store, node, monkeypatch):
    data_dir, project = store
    monkeypatch.setenv("SESSIONPLANE_NODE_PASSWORD", NODE_PASSWORD)
    assert reachable(data_dir, add(store, node).stdout.strip())
    monkeypatch.delenv("SESSIONPLANE_NODE_PASSWORD")

    url = f"redis://:{NODE_PASSWORD}@{node.host}:{node.port}"
    in_argv = invoke(data_dir, "instance", "add", "c2", "--project", project, "--node", url)
    assert "every local user can read it" in in_argv.stderr and NODE_PASSWORD not in in_argv.stderr
    assert reachable(data_dir, in_argv.stdout.strip())


def test_only_one_password_source(store, node):
    refused = add(store, node, "--node-password-stdin", "--node-password-prompt", stdin="x\n", code=2)
    assert "give only one of" in refused.stderr


def sessionplane_users(node: RedisServer) -> set[str]:
    with node.client() as admin:
        return {c["user"] for c in admin.client_list() if c["name"] == "sessionplane"}


def test_set_credentials_switches_a_serving_process_to_the_new_ones(store, node, tmp_path, sessions):
    data_dir, project = store
    invoke(data_dir, "user", "add", "root", "--domain", "acme", "--admin", "--password-stdin", stdin=ADMIN_PASSWORD)
    instance = add(store, node, "--node-password-stdin", stdin=NODE_PASSWORD).stdout.strip()
    node_id = json.loads(invoke(data_dir, "instance", "show", instance, "--json").stdout)["nodes"][0]["id"]
    sessions(node, name="app")
    with ServeProcess(data_dir, tmp_path / "serve.log") as serve:
        token = sign_in(serve.url, domain="acme", name="root", password=ADMIN_PASSWORD, project_id=project)
        listing = f"{serve.url}/v3/{project}/redis/nodes/{node_id}/sessions"
        assert httpx.get(listing, headers={"X-Auth-Token": token}).status_code == 200
        assert sessionplane_users(node) == {"default"}

        with node.client() as admin:
            admin.acl_setuser(NEW_USER, enabled=True, passwords=[f"+{NEW_PASSWORD}"], commands=SESSIONPLANE_ACL)

        # wrong credentials are refused before anything is stored
        wrong = invoke(
            data_dir, "instance", "set-credentials", instance, "--node-user", NEW_USER, "--node-password-stdin",
            stdin="not-the-password\n", code=1,
        )  # fmt: skip
        assert f"Node {node_id} refused sessionplane's connection" in wrong.stderr
        assert httpx.get(listing, headers={"X-Auth-Token": token}).status_code == 200
        assert sessionplane_users(node) == {"default"}

        changed = invoke(
            data_dir, "instance", "set-credentials", instance, "--node-user", NEW_USER, "--node-password-stdin",
            stdin=NEW_PASSWORD + "\n",
        )  # fmt: skip
        assert f"{node_id}: credentials updated" in changed.stdout
        assert NEW_PASSWORD.encode() not in every_stored_byte(data_dir)

        # the serving process connects with the new user from its next request on, and drops the old pool
        response = httpx.get(listing, headers={"X-Auth-Token": token})
        assert response.status_code == 200 and "app" in [s["name"] for s in response.json()["sessions"]]
        assert sessionplane_users(node) == {NEW_USER}
    shown = json.loads(invoke(data_dir, "instance", "show", instance, "--json").stdout)["nodes"][0]
    assert shown["user"] == NEW_USER and shown["password"] is True


def test_set_credentials_needs_something_to_change_and_can_switch_tls_on_and_off(store, node):
    data_dir, _project = store
    instance = add(store, node, "--node-password-stdin", stdin=NODE_PASSWORD).stdout.strip()
    assert "nothing to change" in invoke(data_dir, "instance", "set-credentials", instance, code=2).stderr
    invoke(data_dir, "instance", "set-credentials", instance, "--tls", "--no-verify")
    assert json.loads(invoke(data_dir, "instance", "show", instance, "--json").stdout)["nodes"][0]["tls"] is True
    invoke(data_dir, "instance", "set-credentials", instance, "--no-tls")
    assert reachable(data_dir, instance)
    missing = invoke(data_dir, "instance", "set-credentials", instance, "--node", "nope", "--no-tls", code=1)
    assert "nope" in missing.stderr
