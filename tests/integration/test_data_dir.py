"""The data directory holds the store and the keyring: 0700, every file in it 0600, under the usual umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import httpx
import pytest

from tests.processes import ServeProcess, cli, invoke, sign_in

USUAL_UMASK = 0o022


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run_with_umask(data_dir, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SESSIONPLANE_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "sessionplane", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        umask=USUAL_UMASK,
    )


def test_a_new_data_dir_and_everything_in_it_are_private_while_serving(tmp_path):
    data_dir = tmp_path / "var" / "sessionplane"
    created = run_with_umask(
        data_dir, "user", "add", "root", "--domain", "acme", "--admin", "--password-stdin", stdin="R00t-password\n"
    )
    assert created.returncode == 0, created.stderr
    project = run_with_umask(data_dir, "project", "add", "p1", "--domain", "acme").stdout.strip()
    assert mode(data_dir) == 0o700
    with ServeProcess(data_dir, tmp_path / "serve.log", umask=USUAL_UMASK) as serve:
        # the server holds the store open (in WAL mode: with its -wal and -shm files) while it answers
        token = sign_in(serve.url, domain="acme", name="root", password="R00t-password", project_id=project)
        listed = httpx.get(f"{serve.url}/v3/{project}/instances", headers={"X-Auth-Token": token})
        assert listed.status_code == 200
        files = {p.name: mode(p) for p in data_dir.iterdir()}
    assert {"sessionplane.db", "sessionplane.db-wal", "sessionplane.db-shm", "keyring"} <= set(files), files
    assert files == dict.fromkeys(files, 0o600)


def test_a_loose_data_dir_of_an_older_version_is_tightened(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    invoke(data_dir, "project", "add", "p1", "--domain", "acme")  # creates the store and the keyring
    data_dir.chmod(0o755)
    for name in ("sessionplane.db", "keyring"):
        (data_dir / name).chmod(0o644)

    listed = invoke(data_dir, "project", "list", "--json")
    assert "p1" in listed.stdout
    assert mode(data_dir) == 0o700
    assert mode(data_dir / "sessionplane.db") == mode(data_dir / "keyring") == 0o600


@pytest.mark.parametrize("loose", [0o755, 0o750])
def test_a_loose_directory_shared_with_other_files_is_refused_and_left_alone(tmp_path, loose):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("not sessionplane's")
    shared.chmod(loose)

    refused = cli(shared, "project", "list", code=1)
    assert refused.stderr.count("\n") == 1, refused.stderr  # one line, no traceback
    assert "holds files that are not sessionplane's (notes.txt)" in refused.stderr
    assert f"chmod 700 {shared}" in refused.stderr
    assert mode(shared) == loose
    assert sorted(p.name for p in shared.iterdir()) == ["notes.txt"]  # nothing created, nothing opened


def test_serve_refuses_such_a_directory_in_one_line(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "other").write_text("x")
    shared.chmod(0o755)
    result = subprocess.run(
        [sys.executable, "-m", "sessionplane", "serve", "--data-dir", str(shared)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "chmod 700" in result.stderr
